"""The committed documents (services/<service>/asyncapi.json, and the broker permissions they imply in
deploy/rabbitmq/access.json) and the ones the code generates for each service.

The generated document comes from the service's own composition root, the same path as the one it serves at
/asyncapi.json: its app is built, never started, in a scratch directory, so nothing of a real run is touched.
"""

import contextlib
import importlib
import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dukcapil_shared.messaging.access import AccessPlan


def document_path(root: Path, service: str) -> Path:
    return root / "services" / service / "asyncapi.json"


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def generated_document(service: str) -> str:
    """What services/<service>/asyncapi.json must hold: the service's catalogue as its running app serves it."""
    return render(_runtime(service).event_catalogue())


ACCESS_PLAN = Path("deploy") / "rabbitmq" / "access.json"


def generated_access_plan(services: Sequence[str]) -> str:
    """What deploy/rabbitmq/access.json must hold: each service's broker permissions, from its code."""
    return AccessPlan(services=tuple(_runtime(service).broker_access() for service in services)).render()


def committed_access_plan(root: Path) -> str | None:
    path = root / ACCESS_PLAN
    return path.read_text(encoding="utf-8") if path.exists() else None


def _runtime(service: str) -> Any:
    # The documents describe the code, not a deployment: built as `make run` builds it, in development.
    os.environ.setdefault("ENVIRONMENT", "development")
    bootstrap = importlib.import_module(f"dukcapil_{service}.bootstrap")
    with tempfile.TemporaryDirectory(prefix=f"{service}-catalogue-") as scratch, contextlib.chdir(scratch):
        return bootstrap.build_app().state.runtime


def committed_document(root: Path, service: str) -> str | None:
    path = document_path(root, service)
    return path.read_text(encoding="utf-8") if path.exists() else None
