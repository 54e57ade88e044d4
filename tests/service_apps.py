"""Each service's real app, built by its composition root on a SQLite file in `workdir`, for tests that call it
in-process (no broker is started: the lifespan does not run)."""

from pathlib import Path
from typing import Any

from fastapi import FastAPI

SERVICES = ("intake", "review", "documents", "shipping")


def build_service_app(service: str, workdir: Path) -> FastAPI:
    database = f"sqlite+aiosqlite:///{workdir}/{service}.db"
    common: dict[str, Any] = {"database_url": database, "log_json": False, "log_level": "WARNING"}
    if service == "intake":
        from dukcapil_intake.bootstrap import build_app
        from dukcapil_intake.settings import IntakeSettings

        return build_app(
            IntakeSettings(**common, attachments_dir=str(workdir / "attachments"), development_accounts=False)
        )
    if service == "review":
        from dukcapil_review.bootstrap import build_app as build_review
        from dukcapil_review.settings import ReviewSettings

        return build_review(ReviewSettings(**common))
    if service == "documents":
        from dukcapil_documents.bootstrap import build_app as build_documents
        from dukcapil_documents.settings import DocumentsSettings

        return build_documents(
            DocumentsSettings(
                **common,
                storage_dir=str(workdir / "pdf"),
                signing_key_file=str(workdir / "signing-key.pem"),
                pki_dir=str(workdir / "pki"),
            )
        )
    from dukcapil_shipping.bootstrap import build_app as build_shipping
    from dukcapil_shipping.settings import ShippingSettings

    return build_shipping(ShippingSettings(**common))
