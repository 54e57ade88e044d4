"""The composition root: builds the real database, broker and adapters, and wires them into the app."""

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from yarl import URL

from dukcapil_intake import tables
from dukcapil_intake.accounts.adapters.accounts import SqlAccountsUnitOfWork
from dukcapil_intake.accounts.domain.accounts import LockoutPolicy
from dukcapil_intake.accounts.entrypoints import accounts
from dukcapil_intake.accounts.service_layer.accounts import add_development_accounts
from dukcapil_intake.agencies.adapters import tables as agencies_tables
from dukcapil_intake.agencies.adapters.public_events import relay_public_events
from dukcapil_intake.agencies.adapters.rabbitmq_admin import AmqpQueueDelivery, RabbitMqManagement
from dukcapil_intake.agencies.adapters.unit_of_work import SqlAgenciesUnitOfWork
from dukcapil_intake.agencies.entrypoints import http as agencies_http
from dukcapil_intake.dispatch import RequestsDesk, follow_drafts, follow_requests
from dukcapil_intake.follow_ons.adapters.register import HttpRegister
from dukcapil_intake.follow_ons.adapters.unit_of_work import DraftFollowers, SqlFollowOnsUnitOfWork
from dukcapil_intake.follow_ons.domain.follow_ons import PrefillSchedule
from dukcapil_intake.follow_ons.domain.links import FollowOnLinks
from dukcapil_intake.follow_ons.entrypoints import http as follow_ons_http
from dukcapil_intake.follow_ons.service_layer.follow_ons import expire_drafts, fill_from_register
from dukcapil_intake.incidents.adapters.unit_of_work import SqlIncidentsUnitOfWork
from dukcapil_intake.incidents.domain.incidents import DEFAULT_STALL_HOURS, StallPolicy
from dukcapil_intake.incidents.entrypoints import consumers as incident_consumers
from dukcapil_intake.incidents.entrypoints import incidents
from dukcapil_intake.notifications.adapters.notice_quota import RecipientQuota
from dukcapil_intake.notifications.adapters.sms_gateway import HttpSmsGateway
from dukcapil_intake.notifications.adapters.smtp import SmtpEmailSender
from dukcapil_intake.notifications.adapters.unit_of_work import SqlNotificationsUnitOfWork
from dukcapil_intake.notifications.domain.notifications import Notification, RetrySchedule
from dukcapil_intake.notifications.service_layer.notifications import ChannelNotifier, send_due_notifications
from dukcapil_intake.personal_data.adapters.unit_of_work import SqlPersonalDataUnitOfWork
from dukcapil_intake.personal_data.domain.retention import RetentionPolicy
from dukcapil_intake.personal_data.entrypoints import http as personal_data_http
from dukcapil_intake.requests.adapters.scans import DecodingScanInspector
from dukcapil_intake.requests.adapters.unit_of_work import Followers, SqlRequestsUnitOfWork
from dukcapil_intake.requests.domain.access_codes import AccessCodes
from dukcapil_intake.requests.entrypoints import consumers, http
from dukcapil_intake.settings import IntakeSettings
from dukcapil_intake.statistics.adapters.unit_of_work import SqlStatisticsUnitOfWork
from dukcapil_intake.statistics.entrypoints import statistics
from dukcapil_shared.auth.grants import DownloadGrants
from dukcapil_shared.auth.keys import SigningKey, development_signing_key
from dukcapil_shared.auth.tokens import TokenIssuer
from dukcapil_shared.clock import Clock, SystemClock
from dukcapil_shared.contracts.public import PUBLIC_SOURCE
from dukcapil_shared.db import create_engine, migrate
from dukcapil_shared.files import DirectoryFileStore
from dukcapil_shared.logging import configure_logging
from dukcapil_shared.messaging import IDENTIFIED_PUBLIC_EXCHANGE, PUBLIC_EXCHANGE, OutboxRelay
from dukcapil_shared.messaging.cluster import broker_addresses
from dukcapil_shared.runtime import ServiceRuntime
from dukcapil_shared.web import BodyLimit
from dukcapil_shared.working_days import WorkingCalendar, read_days_off

# Room for the multipart form around a scan: boundaries, part headers, the kind and the file name.
MULTIPART_ALLOWANCE = 64 * 1024

MIGRATIONS = "dukcapil_intake:migrations"


def build_app(settings: IntakeSettings | None = None) -> FastAPI:
    settings = settings or IntakeSettings()
    configure_logging("intake", settings.log_level, settings.log_json)
    signing_key = staff_token_key(settings)
    # Intake checks the tokens it signs with its own public keys, whatever AUTH_JWKS says.
    settings = settings.model_copy(update={"auth_jwks": json.dumps(signing_key.jwks())})
    runtime = ServiceRuntime(
        service="intake",
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
        migrations=MIGRATIONS,
        ends_staff_sessions=True,
    )
    clock = SystemClock()
    notifications_unit_of_work = runtime.unit_of_work_factory(SqlNotificationsUnitOfWork)
    drafts_followers = follow_drafts(
        notifications=SqlNotificationsUnitOfWork.joining, notify=settings.notifications_enabled
    )
    follow_ons_unit_of_work = partial(
        with_followers, runtime.unit_of_work_factory(SqlFollowOnsUnitOfWork), drafts_followers
    )
    requests_unit_of_work = partial(
        with_followers,
        runtime.unit_of_work_factory(SqlRequestsUnitOfWork),
        requests_followers(
            notify=settings.notifications_enabled,
            clock=clock,
            follow_on_drafts=partial(joined_follow_ons, drafts_followers),
            follow_on_lifetime=timedelta(days=settings.follow_on_days),
        ),
    )
    runtime.subscribe(consumers.LIFECYCLE, requests_unit_of_work)
    runtime.subscribe(incident_consumers.OPERATIONS, runtime.unit_of_work_factory(SqlIncidentsUnitOfWork))
    # The logs of events for agencies are outboxes of their own, each relayed to its public exchange.
    public_relays = [
        OutboxRelay(
            engine=runtime.engine,
            outbox=log_table,
            broker=runtime.broker,
            source=PUBLIC_SOURCE,
            exchange=exchange,
            poll_interval=settings.outbox_poll_interval,
            publish_timeout=settings.publish_timeout,
        )
        for log_table, exchange in (
            (agencies_tables.public_events, PUBLIC_EXCHANGE),
            (agencies_tables.identified_public_events, IDENTIFIED_PUBLIC_EXCHANGE),
        )
    ]
    runtime.every(
        settings.outbox_poll_interval, "public-events", partial(relay_public_events, runtime.broker, public_relays)
    )
    runtime.publishes_for_agencies = True
    access_codes = AccessCodes(settings.access_code_secret())
    follow_on_links = FollowOnLinks(settings.access_code_secret(), settings.portal_url)
    register: HttpRegister | None = None  # INTAKE_REGISTER_URL empty: the office consults no register
    if settings.register_url:
        register_http = httpx.AsyncClient(timeout=settings.register_timeout)
        runtime.add_cleanup(register_http.aclose)
        register = HttpRegister(
            register_http, url=settings.register_url, api_key=settings.register_api_key.get_secret_value()
        )
    prefill_schedule = PrefillSchedule(tuple(settings.follow_on_retry_delays))

    async def follow_on_round() -> None:
        await fill_from_register(
            unit_of_work=follow_ons_unit_of_work, register=register, schedule=prefill_schedule, clock=clock
        )
        await expire_drafts(unit_of_work=follow_ons_unit_of_work, clock=clock)

    runtime.every(settings.follow_on_interval, "follow-ons", follow_on_round)
    if settings.notifications_enabled:
        # Each call counted by its outcome: the SMS gateway failing is alerted on (deploy/prometheus/alerts.yml).
        sms_http = httpx.AsyncClient(
            timeout=settings.sms_timeout, transport=runtime.metrics.outbound_transport("sms_gateway")
        )
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
                unit_of_work=notifications_unit_of_work,
                notifier=notifier,
                clock=clock,
                schedule=RetrySchedule(tuple(settings.notify_retry_delays)),
                batch_size=settings.notify_batch_size,
                send_timeout=max(settings.smtp_timeout, settings.sms_timeout) * 2,
                quota=RecipientQuota(runtime.auth.rate_limits, settings.notices_per_recipient),
                fill=partial(_with_secrets, access_codes, follow_on_links),
            ),
        )

    app = runtime.create_app(
        title="Disdukcapil Lebak: intake",
        description="Citizens and kecamatan operators submit population-document requests and follow them.",
        larger_bodies=[
            BodyLimit("POST", "/requests/{request_id}/attachments", settings.max_attachment_bytes + MULTIPART_ALLOWANCE)
        ],
    )
    app.state.clock = clock
    app.state.files = DirectoryFileStore(settings.attachments_dir)
    runtime.keeps_files_in("attachments", settings.attachments_dir)
    app.state.scans = DecodingScanInspector(
        concurrency=settings.scan_inspections, timeout=settings.scan_inspection_timeout
    )
    app.state.settings = settings
    app.state.stall_policy = StallPolicy.from_hours(DEFAULT_STALL_HOURS | settings.stall_after_hours)
    accounts_unit_of_work = runtime.unit_of_work_factory(SqlAccountsUnitOfWork)
    if settings.environment == "development" and settings.development_accounts:
        runtime.after_migrations(partial(add_development_accounts, unit_of_work=accounts_unit_of_work))
    accounts.install(
        app,
        unit_of_work=accounts_unit_of_work,
        issuer=TokenIssuer(
            key=signing_key,
            issuer=settings.auth_token_issuer,
            audience=settings.auth_token_audience,
            lifetime=timedelta(minutes=settings.token_minutes),
        ),
        lockout=LockoutPolicy(after=settings.sign_in_lockout_after, durations=tuple(settings.sign_in_lockout_seconds)),
    )
    http.install(
        app,
        unit_of_work=requests_unit_of_work,
        notifications=notifications_unit_of_work,
        access_codes=access_codes,
        download_grants=DownloadGrants(
            key=signing_key,
            issuer=settings.auth_token_issuer,
            lifetime=timedelta(minutes=settings.download_link_minutes),
        ),
    )
    follow_ons_http.install(
        app,
        unit_of_work=follow_ons_unit_of_work,
        submissions=RequestsDesk(requests_unit_of_work, recording_capacity=settings.recording_capacity, clock=clock),
        links=follow_on_links,
    )
    incidents.install(app, unit_of_work=runtime.unit_of_work_factory(SqlIncidentsUnitOfWork))
    administration = broker_administration(settings)
    runtime.add_cleanup(administration.broker.aclose)
    agencies_http.install(
        app,
        unit_of_work=runtime.unit_of_work_factory(SqlAgenciesUnitOfWork),
        broker=administration.broker,
        delivery=administration.delivery,
        connection_url=administration.connection_url,
    )
    statistics.install(
        app,
        unit_of_work=runtime.unit_of_work_factory(SqlStatisticsUnitOfWork),
        calendar=WorkingCalendar(days_off=read_days_off(settings.days_off_file)),
    )
    personal_data_unit_of_work = runtime.unit_of_work_factory(SqlPersonalDataUnitOfWork)
    personal_data_http.install(app, unit_of_work=personal_data_unit_of_work)
    personal_data_http.schedule_retention(
        runtime,
        unit_of_work=personal_data_unit_of_work,
        files=app.state.files,
        policy=RetentionPolicy.of(settings.retention_days),
        clock=clock,
        interval=settings.retention_interval,
    )
    return app


def requests_followers(
    *,
    notify: bool,
    clock: Clock,
    follow_on_drafts: Callable[[AsyncConnection], SqlFollowOnsUnitOfWork] | None = None,
    follow_on_lifetime: timedelta = timedelta(days=30),
) -> Followers:
    """What follows a request's steps (its notices, the agencies' public events, the follow-on drafts), each
    feature's unit of work joined to the transaction that recorded them (dispatch.py)."""
    return follow_requests(
        notifications=SqlNotificationsUnitOfWork.joining,
        agencies=SqlAgenciesUnitOfWork.joining,
        notify=notify,
        clock=clock,
        follow_on_drafts=follow_on_drafts,
        follow_on_lifetime=follow_on_lifetime,
        incidents=SqlIncidentsUnitOfWork.joining,
    )


def joined_follow_ons(followers: DraftFollowers, connection: AsyncConnection) -> SqlFollowOnsUnitOfWork:
    """The drafts' unit of work inside the transaction that records a request's step, with the drafts' followers."""
    unit_of_work = SqlFollowOnsUnitOfWork.joining(connection)
    unit_of_work.followers = followers
    return unit_of_work


U = TypeVar("U", SqlRequestsUnitOfWork, SqlFollowOnsUnitOfWork)


def with_followers(make: Callable[[], U], followers: Any) -> U:
    unit_of_work = make()
    unit_of_work.followers = followers
    return unit_of_work


def _with_access_code(codes: AccessCodes, notification: Notification) -> Notification:
    """The notice as sent: its request's access code in place of the placeholder (the stored one keeps that)."""
    return dataclasses.replace(notification, body=codes.fill(notification.body, notification.request_id))


def _with_secrets(codes: AccessCodes, links: FollowOnLinks, notification: Notification) -> Notification:
    """The notice as sent: its request's access code and any follow-on link in place of their placeholders (the
    stored one keeps those)."""
    with_code = _with_access_code(codes, notification)
    return dataclasses.replace(with_code, body=links.fill(with_code.body))


def staff_token_key(settings: IntakeSettings) -> SigningKey:
    """The key intake signs staff tokens with: the office's (INTAKE_SIGNING_KEY or the file), or in development
    one made on first start in INTAKE_SIGNING_KEY_FILE, its public keys written beside it for the other services."""
    if settings.signing_key is not None:
        return SigningKey.from_pem(settings.signing_key.get_secret_value(), settings.retired_jwks)
    if settings.environment == "development":
        return development_signing_key(settings.signing_key_file)
    return SigningKey.from_pem(Path(settings.signing_key_file).read_bytes(), settings.retired_jwks)


@dataclass(frozen=True)
class BrokerAdministration:
    """What onboarding, offboarding and replays need of the broker: its management API as an administrator, AMQP
    as that administrator for replays, and the address agencies connect to."""

    broker: RabbitMqManagement
    delivery: AmqpQueueDelivery
    agency_amqp_url: URL
    """Where agencies connect, without credentials."""

    def connection_url(self, user: str, password: str) -> str:
        return str(self.agency_amqp_url.with_user(user).with_password(password))


def broker_administration(settings: IntakeSettings) -> BrokerAdministration:
    # Of a cluster's nodes, the first: the virtual host and the administrator are the same on every node.
    amqp_url = broker_addresses(settings.amqp_url)[0]
    username = settings.rabbitmq_management_user or amqp_url.user or "guest"
    password = _management_password(settings) or amqp_url.password or "guest"
    return BrokerAdministration(
        broker=RabbitMqManagement(
            url=settings.rabbitmq_management_url,
            username=username,
            password=password,
            # As aio-pika reads AMQP_URL: the path is the virtual host, "/" when empty.
            vhost=unquote(amqp_url.raw_path[1:]) or "/",
        ),
        # Replays are put into an agency's queue by the broker's administrator (no service may publish there).
        delivery=AmqpQueueDelivery(
            str(amqp_url.with_user(username).with_password(password)), timeout=max(settings.publish_timeout, 10.0)
        ),
        agency_amqp_url=URL(settings.agency_amqp_url) if settings.agency_amqp_url else amqp_url.with_user(None),
    )


@dataclass
class AgencyDesk:
    """What the agencies' command line works with: intake's database and the broker's administration."""

    engine: AsyncEngine
    unit_of_work: Callable[[], SqlAgenciesUnitOfWork]
    administration: BrokerAdministration

    @property
    def broker(self) -> RabbitMqManagement:
        return self.administration.broker

    @property
    def delivery(self) -> AmqpQueueDelivery:
        return self.administration.delivery

    async def open(self) -> None:
        await migrate(self.engine, MIGRATIONS)

    async def close(self) -> None:
        await self.broker.aclose()
        await self.engine.dispose()

    def connection_url(self, user: str, password: str) -> str:
        return self.administration.connection_url(user, password)


def build_agency_desk(settings: IntakeSettings | None = None) -> AgencyDesk:
    settings = settings or IntakeSettings()
    engine = create_engine(settings.database_connection_url())
    return AgencyDesk(
        engine=engine,
        unit_of_work=lambda: SqlAgenciesUnitOfWork(
            engine, outbox_table=tables.outbox, inbox_table=tables.inbox, source="/dukcapil/lebak/intake"
        ),
        administration=broker_administration(settings),
    )


def _management_password(settings: IntakeSettings) -> str | None:
    if settings.rabbitmq_management_password is not None:
        return settings.rabbitmq_management_password.get_secret_value()
    return None
