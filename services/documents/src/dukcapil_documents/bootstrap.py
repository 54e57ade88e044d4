"""The composition root: builds the real database, broker and adapters, and wires them into the app."""

from fastapi import FastAPI
from pyhanko.sign.timestamps import HTTPTimeStamper

from dukcapil_documents.adapters import tables
from dukcapil_documents.adapters.layout import load_layouts
from dukcapil_documents.adapters.pades import PadesSealer
from dukcapil_documents.adapters.pdf import FpdfDocumentRenderer, Signatory
from dukcapil_documents.adapters.repository import SqlDocumentsUnitOfWork
from dukcapil_documents.adapters.signing import Ed25519Signer, development_key
from dukcapil_documents.entrypoints import http
from dukcapil_documents.entrypoints.consumers import subscriptions
from dukcapil_documents.service_layer.handlers import Press
from dukcapil_documents.settings import DocumentsSettings
from dukcapil_shared.auth.grants import GrantVerifier
from dukcapil_shared.auth.keys import PublishedKeys
from dukcapil_shared.clock import SystemClock
from dukcapil_shared.db import create_engine
from dukcapil_shared.files import DirectoryFileStore
from dukcapil_shared.logging import configure_logging
from dukcapil_shared.runtime import ServiceRuntime
from dukcapil_shared.web import BodyLimit

# Room for the multipart form around an uploaded PDF: boundaries, part headers, the file name.
MULTIPART_ALLOWANCE = 64 * 1024


def build_app(settings: DocumentsSettings | None = None) -> FastAPI:
    settings = settings or DocumentsSettings()
    configure_logging("documents", settings.log_level, settings.log_json)
    runtime = ServiceRuntime(
        service="documents",
        settings=settings,
        engine=create_engine(
            settings.database_connection_url(),
            pool_size=settings.database_pool_size,
            max_overflow=settings.database_max_overflow,
        ),
        outbox_table=tables.outbox,
        inbox_table=tables.inbox,
        dead_letter_table=tables.dead_letters,
        access_log_table=tables.access_log,
        migrations="dukcapil_documents:migrations",
    )
    runtime.keeps_files_in("storage", settings.storage_dir)
    unit_of_work = runtime.unit_of_work_factory(SqlDocumentsUnitOfWork)
    press = Press(
        renderer=FpdfDocumentRenderer(
            layouts=load_layouts(settings.templates_dir),
            signatory=Signatory(name=settings.signer_name, nip=settings.signer_nip),
        ),
        signer=Ed25519Signer.from_pem(
            settings.signing_key.get_secret_value()
            if settings.signing_key is not None
            else development_key(settings.signing_key_file),
            settings.trusted_public_keys,
        ),
        sealer=PadesSealer(
            settings.office_certificate(),
            timestamper=HTTPTimeStamper(settings.timestamp_url) if settings.timestamp_url else None,
        ),
        storage=DirectoryFileStore(settings.storage_dir),
        public_base_url=settings.public_base_url,
    )
    clock = SystemClock()
    for subscription in subscriptions(press=press, unit_of_work=unit_of_work, clock=clock):
        runtime.subscribe(subscription, unit_of_work)

    app = runtime.create_app(
        title="Disdukcapil Lebak: documents",
        description="Issues the signed PDF of each approved request, revokes and corrects documents on approved "
        "decisions, and lets anyone verify a document's QR code or the PDF file itself.",
        larger_bodies=[BodyLimit("POST", "/verify", settings.verify_max_bytes + MULTIPART_ALLOWANCE)],
    )
    app.state.unit_of_work = unit_of_work
    app.state.press = press
    app.state.clock = clock
    http.install(
        app,
        verify_max_bytes=settings.verify_max_bytes,
        # Holders download with a grant intake signed: checked with intake's published keys, whoever checks tokens.
        grants=GrantVerifier(
            keys=PublishedKeys(document=settings.auth_jwks, path=settings.auth_jwks_file),
            issuer=settings.auth_token_issuer,
        ),
        downloads_per_document=settings.downloads_per_document,
    )
    return app
