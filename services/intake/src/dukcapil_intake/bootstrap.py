"""The composition root: builds the real database, broker and adapters, and wires them into the app."""

from datetime import timedelta
from functools import partial

import httpx
from fastapi import FastAPI

from dukcapil_intake.adapters import tables
from dukcapil_intake.adapters.accounts import SqlAccountStore
from dukcapil_intake.adapters.repository import SqlIntakeUnitOfWork
from dukcapil_intake.adapters.sms_gateway import HttpSmsGateway
from dukcapil_intake.adapters.smtp import SmtpEmailSender
from dukcapil_intake.domain.incidents import DEFAULT_STALL_MINUTES, StallPolicy
from dukcapil_intake.domain.notifications import RetrySchedule
from dukcapil_intake.entrypoints import accounts, consumers, http, incidents, statistics
from dukcapil_intake.service_layer.accounts import add_development_accounts
from dukcapil_intake.service_layer.notifications import ChannelNotifier, send_due_notifications
from dukcapil_intake.settings import IntakeSettings
from dukcapil_shared.auth import TokenIssuer
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
        dead_letter_table=tables.dead_letters,
        access_log_table=tables.access_log,
        migrations="dukcapil_intake:migrations",
    )
    unit_of_work = runtime.unit_of_work_factory(SqlIntakeUnitOfWork)
    for subscription in consumers.subscriptions(notify=settings.notifications_enabled):
        runtime.subscribe(subscription, unit_of_work)
    if settings.notifications_enabled:
        sms_http = httpx.AsyncClient(timeout=settings.sms_timeout)
        # Closed after the last round has stopped using it.
        runtime.add_cleanup(sms_http.aclose)
        notifier = ChannelNotifier(
            email=SmtpEmailSender(
                host=settings.smtp_host,
                port=settings.smtp_port,
                sender=settings.smtp_sender,
                username=settings.smtp_username,
                password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
                start_tls=settings.smtp_start_tls,
                timeout=settings.smtp_timeout,
            ),
            sms=HttpSmsGateway(
                sms_http,
                url=settings.sms_gateway_url,
                api_key=settings.sms_api_key.get_secret_value(),
                key_header=settings.sms_api_key_header,
            ),
        )
        runtime.every(
            settings.notify_interval,
            "notifications",
            partial(
                send_due_notifications,
                unit_of_work=unit_of_work,
                notifier=notifier,
                schedule=RetrySchedule(tuple(settings.notify_retry_delays)),
                batch_size=settings.notify_batch_size,
                send_timeout=max(settings.smtp_timeout, settings.sms_timeout) * 2,
            ),
        )

    app = runtime.create_app(
        title="Disdukcapil Lebak: intake",
        description="Citizens and kecamatan operators submit population-document requests and follow them.",
    )
    app.state.unit_of_work = unit_of_work
    app.state.files = DirectoryFileStore(settings.attachments_dir)
    app.state.settings = settings
    app.state.stall_policy = StallPolicy.from_minutes(DEFAULT_STALL_MINUTES | settings.stall_after_minutes)
    account_store = SqlAccountStore(runtime.engine)
    if settings.environment == "development" and settings.development_accounts:
        runtime.after_migrations(partial(add_development_accounts, accounts=account_store))
    accounts.install(
        app,
        accounts=account_store,
        issuer=TokenIssuer(
            secret=settings.auth_jwt_secret.get_secret_value(),
            issuer=settings.auth_token_issuer,
            audience=settings.auth_token_audience,
            lifetime=timedelta(minutes=settings.token_minutes),
        ),
    )
    http.install(app)
    incidents.install(app)
    statistics.install(app)
    return app
