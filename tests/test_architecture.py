"""The architecture holds at run time too: importing every module of a service's domain loads no framework
(import-linter, in `make lint`, checks the static imports; this checks what Python actually loads)."""

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
