"""The architecture holds at run time too: importing every module of a service's domain loads no framework
(import-linter, in `make lint`, checks the static imports; this checks what Python actually loads)."""

import importlib.util
import os
import pkgutil
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


# Intake is laid out by feature (docs/style.md): each feature has a domain of its own.
INTAKE_FEATURES = (
    "requests",
    "accounts",
    "agencies",
    "notifications",
    "incidents",
    "statistics",
    "follow_ons",
    "personal_data",
)
DOMAINS = (
    *(f"dukcapil_{service}.domain" for service in SERVICES if service != "intake"),
    *(f"dukcapil_intake.{feature}.domain" for feature in INTAKE_FEATURES),
)


@pytest.mark.parametrize("domain", DOMAINS)
def test_importing_the_domain_loads_no_framework(domain: str) -> None:
    loaded = subprocess.run(
        [sys.executable, "-c", PROBE, domain, *FRAMEWORKS],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert loaded == [], f"{domain} loads {', '.join(loaded)}"


def test_every_intake_feature_with_a_domain_is_checked() -> None:
    """A new feature of intake is covered here (and in pyproject.toml's contracts) when it is added."""
    import dukcapil_intake

    features = {
        module.name
        for module in pkgutil.iter_modules(dukcapil_intake.__path__)
        if module.ispkg and importlib.util.find_spec(f"dukcapil_intake.{module.name}.domain") is not None
    }
    assert features == set(INTAKE_FEATURES)


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
