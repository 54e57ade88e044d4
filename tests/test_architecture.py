"""The architecture holds at run time too: importing every module of a service's domain loads no framework
(import-linter, in `make lint`, checks the static imports; this checks what Python actually loads)."""

import os
import subprocess
import sys

import pytest

from .service_apps import SERVICES

FRAMEWORKS = (
    "fastapi",
    "starlette",
    "sqlalchemy",
    "alembic",
    "faststream",
    "aio_pika",
    "httpx",
    "opentelemetry",
    "jwt",
)
PROBE = """
import importlib, pkgutil, sys
domain = importlib.import_module(sys.argv[1])
for module in pkgutil.walk_packages(domain.__path__, domain.__name__ + "."):
    importlib.import_module(module.name)
print(" ".join(sorted(name for name in sys.argv[2:] if name in sys.modules)))
"""


@pytest.mark.parametrize("service", SERVICES)
def test_importing_the_domain_loads_no_framework(service: str) -> None:
    loaded = subprocess.run(
        [sys.executable, "-c", PROBE, f"dukcapil_{service}.domain", *FRAMEWORKS],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert loaded == [], f"dukcapil_{service}.domain loads {', '.join(loaded)}"


EVERY_MODULE = """
import importlib, pkgutil, sys
package = importlib.import_module(sys.argv[1])
for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
    # Alembic's env.py runs only inside a migration; __main__ modules start the service.
    if not module.name.endswith(("__main__", ".migrations.env")) and ".migrations.versions." not in module.name:
        importlib.import_module(module.name)
"""


@pytest.mark.parametrize(
    "package",
    [
        "dukcapil_shared",
        *(f"dukcapil_{service}" for service in SERVICES),
        "dukcapil_devtools",
        "dukcapil_ops",
        "dukcapil_testing",
    ],
)
def test_every_module_imports(package: str) -> None:
    """A name moved from one module to another is caught here, not by the first request that reaches it."""
    imported = subprocess.run(
        [sys.executable, "-c", EVERY_MODULE, package],
        capture_output=True,
        text=True,
        env={**os.environ, "ENVIRONMENT": "development"},
    )
    assert imported.returncode == 0, imported.stderr[-2000:]
