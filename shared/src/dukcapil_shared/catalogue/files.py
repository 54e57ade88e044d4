"""The committed documents (services/<service>/asyncapi.json) and the one the code generates for each service.

The generated document comes from the service's own composition root, the same path as the one it serves at
/asyncapi.json: its app is built, never started, in a scratch directory, so nothing of a real run is touched.
"""

import contextlib
import importlib
import json
import tempfile
from pathlib import Path
from typing import Any


def document_path(root: Path, service: str) -> Path:
    return root / "services" / service / "asyncapi.json"


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def generated_document(service: str) -> str:
    """What services/<service>/asyncapi.json must hold: the service's catalogue as its running app serves it."""
    bootstrap = importlib.import_module(f"dukcapil_{service}.bootstrap")
    with tempfile.TemporaryDirectory(prefix=f"{service}-catalogue-") as scratch, contextlib.chdir(scratch):
        app = bootstrap.build_app()
        return render(app.state.runtime.event_catalogue())


def committed_document(root: Path, service: str) -> str | None:
    path = document_path(root, service)
    return path.read_text(encoding="utf-8") if path.exists() else None
