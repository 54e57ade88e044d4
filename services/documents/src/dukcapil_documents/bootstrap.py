"""The composition root: builds the real database, broker and adapters, and wires them into the app."""

from fastapi import FastAPI

from dukcapil_documents.adapters import tables
from dukcapil_documents.adapters.pdf import FpdfDocumentRenderer
from dukcapil_documents.adapters.repository import SqlDocumentsUnitOfWork
from dukcapil_documents.entrypoints import http
from dukcapil_documents.entrypoints.consumers import subscriptions
from dukcapil_documents.settings import DocumentsSettings
from dukcapil_shared.db import create_engine
from dukcapil_shared.files import DirectoryFileStore
from dukcapil_shared.logging import configure_logging
from dukcapil_shared.runtime import ServiceRuntime


def build_app(settings: DocumentsSettings | None = None) -> FastAPI:
    settings = settings or DocumentsSettings()
    configure_logging("documents", settings.log_level, settings.log_json)
    runtime = ServiceRuntime(
        service="documents",
        settings=settings,
        engine=create_engine(settings.database_url),
        outbox_table=tables.outbox,
        inbox_table=tables.inbox,
        migrations="dukcapil_documents:migrations",
    )
    unit_of_work = runtime.unit_of_work_factory(SqlDocumentsUnitOfWork)
    storage = DirectoryFileStore(settings.storage_dir)
    for subscription in subscriptions(
        renderer=FpdfDocumentRenderer(), storage=storage, public_base_url=settings.public_base_url
    ):
        runtime.subscribe(subscription, unit_of_work)

    app = runtime.create_app(
        title="Disdukcapil Lebak: documents",
        description="Issues the signed PDF of each approved request, and lets anyone verify a document's QR code.",
    )
    app.state.unit_of_work = unit_of_work
    app.state.storage = storage
    app.state.public_base_url = settings.public_base_url
    http.install(app)
    return app
