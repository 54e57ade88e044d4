"""The composition root: builds the real database, broker and adapters, and wires them into the app."""

from fastapi import FastAPI

from dukcapil_intake.adapters import tables
from dukcapil_intake.adapters.repository import SqlIntakeUnitOfWork
from dukcapil_intake.entrypoints import http
from dukcapil_intake.entrypoints.consumers import SUBSCRIPTIONS
from dukcapil_intake.settings import IntakeSettings
from dukcapil_shared.db import create_engine
from dukcapil_shared.files import DirectoryFileStore
from dukcapil_shared.logging import configure_logging
from dukcapil_shared.runtime import ServiceRuntime


def build_app(settings: IntakeSettings | None = None) -> FastAPI:
    settings = settings or IntakeSettings()
    configure_logging("intake", settings.log_level, settings.log_json)
    runtime = ServiceRuntime(
        service="intake",
        settings=settings,
        engine=create_engine(settings.database_url),
        outbox_table=tables.outbox,
        inbox_table=tables.inbox,
        migrations="dukcapil_intake:migrations",
    )
    unit_of_work = runtime.unit_of_work_factory(SqlIntakeUnitOfWork)
    for subscription in SUBSCRIPTIONS:
        runtime.subscribe(subscription, unit_of_work)

    app = runtime.create_app(
        title="Disdukcapil Lebak: intake",
        description="Citizens and kecamatan operators submit population-document requests and follow them.",
    )
    app.state.unit_of_work = unit_of_work
    app.state.files = DirectoryFileStore(settings.attachments_dir)
    app.state.settings = settings
    http.install(app)
    return app
