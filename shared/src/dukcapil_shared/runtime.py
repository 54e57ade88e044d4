"""The running parts every service has: database, broker, topology, outbox relay, consumers, background loops.

Each service's composition root builds one `ServiceRuntime`, adds its subscriptions and loops, and hands
`lifespan` to FastAPI, so the broker starts and stops with the HTTP server. The runtime also wires what lets the
office see the service: Prometheus metrics on GET /metrics, tracing when an OTLP endpoint is set, and the
request id (see dukcapil_shared.observability).

A service stops within its graceful timeout (plus STOP_MARGIN to close its connections), under any load. On
SIGTERM it stops taking deliveries at once, while the HTTP server drains its requests; the deliveries in hand get
`graceful_timeout` to finish and those that do not are returned to their queue unacknowledged. Every later step is
bounded too, and should one still hang, the process ends itself at the deadline with the stacks of its threads
in its log rather than wait for an orchestrator's SIGKILL (`serve`).
"""

import asyncio
import contextlib
import faulthandler
import gc
import logging
import os
import socket
import sys
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from types import FrameType
from typing import Any, TypeVar

import aiormq
import anyio
import structlog
import uvicorn
from fastapi import FastAPI
from faststream.rabbit import Channel, RabbitBroker, RabbitRouter
from faststream.rabbit.prometheus import RabbitPrometheusMiddleware
from sqlalchemy import Table, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from yarl import URL

from dukcapil_shared.auth.access import AccessLogRetention, SqlAccessLog
from dukcapil_shared.auth.http import StaffAuth, install_auth
from dukcapil_shared.auth.keys import PublishedKeys
from dukcapil_shared.auth.ratelimit import RateLimits
from dukcapil_shared.auth.sessions import REFRESH_INTERVAL as SESSIONS_REFRESH_INTERVAL
from dukcapil_shared.auth.sessions import EndedSessions, SessionsUnitOfWork, sessions_subscription
from dukcapil_shared.auth.tokens import EndedSessionCheck, LocalTokenVerifier, OidcTokenVerifier, TokenVerifier
from dukcapil_shared.catalogue import asyncapi_document
from dukcapil_shared.contracts import Event
from dukcapil_shared.contracts.public import PUBLIC_EVENTS
from dukcapil_shared.db import migrate
from dukcapil_shared.messaging import (
    BrokerIdentities,
    EventConsumer,
    OutboxRelay,
    RetryPolicy,
    ServiceTopology,
    SqlUnitOfWork,
    Subscription,
)
from dukcapil_shared.messaging.access import ServiceAccess
from dukcapil_shared.messaging.cluster import connect_to_any_node, node_urls
from dukcapil_shared.observability import ServiceMetrics, Tracing
from dukcapil_shared.observability import http as observability_http
from dukcapil_shared.observability.gauges import BrokerQueueDepths, OutboxBacklog, ParkedDeadLetters
from dukcapil_shared.ops import http as dead_letter_http
from dukcapil_shared.ops.amqp import BrokerRepublisher, DeadLetterParking
from dukcapil_shared.ops.service import DeadLetterDesk
from dukcapil_shared.ops.store import OpsUnitOfWork, SqlOpsUnitOfWork
from dukcapil_shared.settings import ServiceSettings
from dukcapil_shared.startup import DependencyUnavailable, StartupRefused
from dukcapil_shared.storage import WritableFolder
from dukcapil_shared.web import (
    BodyLimit,
    NoSniff,
    RequestSizeLimit,
    catalogue_router,
    health_router,
    install_error_handlers,
)

log = structlog.get_logger(__name__)

UoW = TypeVar("UoW", bound=SqlUnitOfWork)

API_VERSION = "0.1.0"

STOP_MARGIN = 5.0
"""Seconds a stopping service has, after its graceful timeout, to close its broker connection, database pool and
exporters; past them the process ends regardless."""

ACCESS_LOG_PURGE_INTERVAL = 3600.0
"""Seconds between rounds of the access log's retention job: its periods are days."""


class BrokerUnavailable(DependencyUnavailable):
    reason = "broker_unavailable"


class BrokerMisconfigured(StartupRefused):
    reason = "broker_refused"


class DatabaseUnavailable(DependencyUnavailable):
    reason = "database_unavailable"


class DatabaseRefused(StartupRefused):
    reason = "database_refused"


def database_problem(service: str, engine: AsyncEngine, error: BaseException) -> StartupRefused:
    """What a failed first use of the database says: refused by the server (its role, password, database: a setting
    to fix), or not answering (PostgreSQL down or unreachable: starting again later may work)."""
    cause = error.orig if isinstance(error, DBAPIError) and error.orig is not None else error
    said = str(cause).strip().splitlines()[0] if str(cause).strip() else "no answer"
    where = engine.url.render_as_string(hide_password=True)
    prefix = service.upper()
    if isinstance(error, DBAPIError):
        return DatabaseRefused(
            f"PostgreSQL at {where} refused it ({type(cause).__name__}: {said}); check {prefix}_DATABASE_URL and "
            f"its password ({prefix}_DATABASE_PASSWORD or _FILE)"
        )
    return DatabaseUnavailable(
        f"its database at {where} did not answer ({type(cause).__name__}: {said}); check that PostgreSQL runs there "
        f"and {prefix}_DATABASE_URL"
    )


class ServiceRuntime:
    def __init__(
        self,
        *,
        service: str,
        settings: ServiceSettings,
        engine: AsyncEngine,
        outbox_table: Table,
        inbox_table: Table,
        dead_letter_table: Table,
        access_log_table: Table,
        migrations: str,
        ends_staff_sessions: bool = False,
    ) -> None:
        """`ends_staff_sessions`: this is intake, which ends staff sessions (and records them itself); every other
        service hears of them by event."""
        self.service = service
        self.settings = settings
        self.engine = engine
        self.source = f"/dukcapil/lebak/{service}"
        self._migrations = migrations
        self._outbox_table = outbox_table
        self._inbox_table = inbox_table
        self.metrics = ServiceMetrics(refresh_timeout=settings.readiness_timeout)
        self.tracing = Tracing.exporting_to(service=service, traces_endpoint=settings.otlp_traces_endpoint)
        self.identities = BrokerIdentities(settings.broker_user_prefix)
        self.broker_user = self.identities.user(service)
        # AMQP_URL may name every node of a cluster: the broker connects to the first live one, and to another when
        # its node is lost (messaging/cluster.py).
        self._broker_urls = [
            url.update_query(name=service)
            for url in node_urls(settings.amqp_url, signed_in_as=URL(settings.broker_url(service)))
        ]
        self._broker_url = self._broker_urls[0]
        self.broker = RabbitBroker(
            str(self._broker_url),
            default_channel=Channel(prefetch_count=settings.prefetch),
            graceful_timeout=settings.graceful_timeout,
            # No dependency injection: the handler's one argument is the message, from the decoder (consumer.py's
            # undecoded). With it, FastStream resolved `message: RabbitMessage` as a context field whose lookup is
            # synchronous, so every delivery took a trip through a worker thread: a fifth of intake's CPU in the
            # bench's profile went to handing work to threads and back.
            apply_types=False,
            # FastStream's per-message log lines cost more than the work in a hot path: keep them at DEBUG. Its
            # own lines go through the standard library's logging, so they are JSON lines like the service's.
            log_level=logging.DEBUG,
            logger=logging.getLogger("faststream"),
            middlewares=[
                *self.tracing.broker_middlewares(),
                # faststream_received_messages_total, faststream_published_messages_total and their durations.
                RabbitPrometheusMiddleware(registry=self.metrics.registry, app_name=service),
            ],
        )
        connect_to_any_node(self.broker, self._broker_urls)
        self.topology = ServiceTopology(service)
        self.retry = RetryPolicy(delays_ms=tuple(settings.retry_delays_ms))
        self.relay = OutboxRelay(
            engine=engine,
            outbox=outbox_table,
            broker=self.broker,
            source=self.source,
            user=self.broker_user,
            poll_interval=settings.outbox_poll_interval,
            publish_timeout=settings.publish_timeout,
            metrics=self.metrics,
        )
        self.metrics.on_scrape(
            "outbox", OutboxBacklog(engine=engine, outbox=outbox_table, metrics=self.metrics).refresh
        )
        self.metrics.on_scrape(
            "dead_letters",
            ParkedDeadLetters(engine=engine, dead_letters=dead_letter_table, metrics=self.metrics).refresh,
        )
        self.metrics.on_scrape(
            "broker_queues",
            BrokerQueueDepths(
                connection=self._running_connection, queues=self._queue_names, metrics=self.metrics
            ).refresh,
        )
        self._running = False
        self._router = RabbitRouter()
        self._consumers: list[EventConsumer[Any]] = []
        self._dead_letter_table = dead_letter_table
        self.ended_sessions = EndedSessions(engine)
        self.auth = StaffAuth(
            verifier=token_verifier(settings, self.ended_sessions),
            access_log=SqlAccessLog(engine, access_log_table),
            rate_limits=RateLimits(settings.rate_limit_storage_url, key_prefix=settings.rate_limit_key_prefix),
            citizen_rate=settings.citizen_rate_limit,
        )
        self.dead_letters = DeadLetterDesk(
            service=service,
            unit_of_work=self._ops_unit_of_work,
            republisher=BrokerRepublisher(
                broker=self.broker, topology=self.topology, timeout=settings.publish_timeout, user=self.broker_user
            ),
        )
        DeadLetterParking(topology=self.topology, unit_of_work=self._ops_unit_of_work).attach(self._router)
        self._published: dict[type[Event], None] = {}
        # Intake relays the minimised events for agencies to the public exchanges: its catalogue says so.
        self.publishes_for_agencies = False
        self._title = self._description = ""
        self._loops: dict[str, Periodic] = {}
        self._cleanups: list[Callable[[], Awaitable[None]]] = []
        self._startup_steps: list[Callable[[], Awaitable[object]]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._probes: set[asyncio.Task[None]] = set()
        self._folders: dict[str, WritableFolder] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._draining: asyncio.Task[None] | None = None
        self._stop_began: float | None = None
        # A token whose session ended is refused everywhere within seconds: replicas read the table again.
        self.after_migrations(self.ended_sessions.refresh)
        self.every(SESSIONS_REFRESH_INTERVAL, "ended-sessions", self.ended_sessions.refresh)
        access_log_retention = AccessLogRetention(
            engine=engine, table=access_log_table, days=settings.access_log_days, registry=self.metrics.registry
        )
        self.every(ACCESS_LOG_PURGE_INTERVAL, "access-log-retention", access_log_retention.purge)
        if not ends_staff_sessions:
            self.subscribe(sessions_subscription(self.ended_sessions), self.unit_of_work_factory(SessionsUnitOfWork))

    def unit_of_work_factory(self, unit_of_work_class: type[UoW]) -> Callable[[], UoW]:
        """Units of work on this service's database, waking the relay when they commit events. The events the class
        declares in `publishes` are the service's published events in its catalogue."""
        if unit_of_work_class.publishes is None:
            raise TypeError(f"{unit_of_work_class.__name__} must declare the events it publishes (`publishes`)")
        self._published |= dict.fromkeys(unit_of_work_class.publishes)

        def unit_of_work() -> UoW:
            return unit_of_work_class(
                self.engine,
                outbox_table=self._outbox_table,
                inbox_table=self._inbox_table,
                source=self.source,
                events_committed=self.relay.wake,
                traced=self.tracing.enabled,
            )

        return unit_of_work

    def _ops_unit_of_work(self) -> SqlOpsUnitOfWork:
        return SqlOpsUnitOfWork(
            self.engine,
            dead_letter_table=self._dead_letter_table,
            outbox_table=self._outbox_table,
            inbox_table=self._inbox_table,
            source=self.source,
            events_committed=self.relay.wake,
            traced=self.tracing.enabled,
        )

    def create_app(self, *, title: str, description: str, larger_bodies: Sequence[BodyLimit] = ()) -> FastAPI:
        """The service's FastAPI app with the broker in its lifespan, the error format, request size limits (the
        settings' max_request_bytes, or more on the routes in `larger_bodies`), health, readiness, metrics, the
        event catalogue and the operators' dead letters."""
        docs = self.settings.serves_api_docs  # off in production unless <SVC>_API_DOCS=true
        app = FastAPI(
            title=title,
            description=description,
            version=API_VERSION,
            lifespan=self.lifespan,
            telemetry=self.tracing.fastapi_telemetry(),
            docs_url="/docs" if docs else None,
            redoc_url="/redoc" if docs else None,
            openapi_url="/openapi.json" if docs else None,
        )
        app.state.runtime = self
        app.add_middleware(RequestSizeLimit, max_bytes=self.settings.max_request_bytes, larger=larger_bodies)
        app.add_middleware(NoSniff)  # outside the size limit, so that its 413 carries the header too
        self._title, self._description = title, description
        install_error_handlers(app)
        app.include_router(health_router(self.readiness))
        observability_http.install(app, self.metrics)
        install_auth(app, self.auth)
        app.include_router(catalogue_router(self.event_catalogue))
        dead_letter_http.install(app, self.dead_letters)
        return app

    @property
    def consumers(self) -> list[EventConsumer[Any]]:
        return list(self._consumers)

    def event_catalogue(self) -> dict[str, Any]:
        """The service's AsyncAPI document: its subscriptions as consumed, and the events its outboxes carry."""
        operations = OpsUnitOfWork.publishes or ()
        return asyncapi_document(
            service=self.service,
            title=self._title or self.service,
            description=self._description,
            version=API_VERSION,
            subscriptions=[consumer.subscription for consumer in self._consumers],
            publishes=[*self._published, *(event for event in operations if event not in self._published)],
            publishes_for_agencies=self.publishes_for_agencies,
        )

    def broker_access(self) -> ServiceAccess:
        """What this service's broker user needs, and nothing more: the events its outboxes carry, the routing
        keys its subscriptions bind, its own queues and exchanges (see messaging/access.py)."""
        operations = OpsUnitOfWork.publishes or ()
        return ServiceAccess.of(
            self.service,
            publishes=[*self._published, *operations],
            # Unbinding a retired routing key needs the same topic permission as binding it.
            consumes=[
                key
                for consumer in self._consumers
                for key in (*consumer.subscription.routing_keys, *consumer.subscription.retired_routing_keys)
            ],
            public_routing_keys=[f"{public.type_name()}.*.*.*" for public in PUBLIC_EVENTS]
            if self.publishes_for_agencies
            else (),
        )

    def subscribe(self, subscription: Subscription[Any], unit_of_work: Callable[[], Any]) -> EventConsumer[Any]:
        consumer = EventConsumer(
            topology=self.topology,
            subscription=subscription,
            unit_of_work=unit_of_work,
            broker=self.broker,
            retry=self.retry,
            publish_timeout=self.settings.publish_timeout,
            metrics=self.metrics,
            publishers=self.identities,
            batch_size=self.settings.consumer_batch_size,
        )
        consumer.attach(self._router)
        self._consumers.append(consumer)
        return consumer

    def every(self, interval: float, name: str, work: Callable[[], Awaitable[object]]) -> Callable[[], None]:
        """Run `work` every `interval` seconds while the service runs (e.g. polling the courier); returns what runs
        its next round at once (`Periodic.wake`), for what was just stored and should not wait for the interval."""
        loop = self._loops[name] = periodically(interval, name, work)
        return loop.wake

    def add_cleanup(self, cleanup: Callable[[], Awaitable[None]]) -> None:
        """Run at stop, after the last handler finished (e.g. closing an HTTP client the handlers use)."""
        self._cleanups.append(cleanup)

    def keeps_files_in(self, check: str, folder: str) -> None:
        """The service stores files in `folder`: it is ready only while the folder is there and writable, the
        readiness check `check` saying why not."""
        self._folders[check] = WritableFolder(folder)
        self._folders[check].create()

    def after_migrations(self, step: Callable[[], Awaitable[object]]) -> None:
        """Run at start once the database schema is current, before the broker connects."""
        self._startup_steps.append(step)

    async def start(self) -> None:
        self._check_broker_user()
        if self.settings.migrate_on_start:
            try:
                await migrate(self.engine, self._migrations)
            except (DBAPIError, ConnectionError, TimeoutError) as error:
                raise database_problem(self.service, self.engine, error) from error
        for step in self._startup_steps:
            await step()
        self.broker.include_router(self._router)
        await self._connect_broker()
        # A broker that accepts the connection but is too busy to declare the queues must not leave the service
        # starting for ever: it fails, and whatever runs it (compose, systemd) starts it again.
        try:
            with anyio.fail_after(self.settings.broker_connect_timeout):
                subscriptions = [consumer.subscription for consumer in self._consumers]
                await self.topology.declare(
                    self.broker,
                    {subscription.name: subscription.routing_keys for subscription in subscriptions},
                    list(self.retry.delays_ms),
                    {subscription.name: subscription.retired_routing_keys for subscription in subscriptions},
                )
                await self.broker.start()
        except aiormq.exceptions.ChannelNotFoundEntity as error:
            raise BrokerMisconfigured(
                f"RabbitMQ at {self._broker_url.with_password('***')} lacks what this service expects ({error}): the "
                "shared exchanges are declared by the provisioning step (python -m dukcapil_shared.messaging.provision;"
                " `make run` runs it)."
            ) from error
        except aiormq.exceptions.ChannelAccessRefused as error:
            raise BrokerMisconfigured(
                f"RabbitMQ refused {self.broker_user!r} what this service needs ({error}): its permissions are "
                "provisioned from deploy/rabbitmq/access.json; provision the broker again after an upgrade."
            ) from error
        except TimeoutError as error:
            raise BrokerUnavailable(
                f"RabbitMQ did not declare this service's queues and start its consumers within "
                f"{self.settings.broker_connect_timeout:g} s; it may be overloaded (see its management UI)."
            ) from error
        self._tasks = [asyncio.create_task(self.relay.run(), name=f"{self.service}-outbox-relay")]
        self._tasks += [asyncio.create_task(run(), name=f"{self.service}-{name}") for name, run in self._loops.items()]
        self._loop = asyncio.get_running_loop()
        self._running = True
        log.info("service_started", consumers=[c.queue.name for c in self._consumers])

    def request_stop(self) -> None:
        """`begin_stop` from any thread, or from a signal handler."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self.begin_stop)

    def begin_stop(self) -> None:
        """Stop taking work: no new delivery is handled, those in hand get graceful_timeout to finish, then the
        background loops and the relay stop and the broker connection closes. Called at SIGTERM, so that this runs
        while the HTTP server drains its requests; `stop` finishes the rest."""
        if self._draining is None:
            self._stop_began = time.monotonic()
            self._running = False
            self._draining = asyncio.create_task(self._drain(), name=f"{self.service}-drain")

    async def stop(self) -> None:
        self.begin_stop()
        assert self._draining is not None and self._stop_began is not None
        await self._draining
        for cleanup in self._cleanups:
            await _within(STOP_MARGIN, f"cleanup {getattr(cleanup, '__qualname__', cleanup)}", cleanup())
        await _within(STOP_MARGIN, "closing the database pool", self.engine.dispose())
        # The last spans, exported before the process ends (blocking: off the event loop).
        await _within(STOP_MARGIN, "exporting the last spans", asyncio.to_thread(self.tracing.shutdown))
        log.info("service_stopped", seconds=round(time.monotonic() - self._stop_began, 2))

    async def _drain(self) -> None:
        # FastStream stops each subscriber handling new deliveries, waits up to graceful_timeout for those in hand,
        # then cancels the consumer; a delivery still unfinished is cancelled when the channel closes, unacked.
        graceful = self.settings.graceful_timeout
        subscribers = list(self.broker.subscribers)
        await _within(graceful + STOP_MARGIN, "stopping the consumers", _all(sub.stop() for sub in subscribers))
        if unfinished := sum(consumer.in_hand for consumer in self._consumers):
            log.warning("deliveries_returned_unfinished", count=unfinished, graceful_timeout=graceful)
        await _within(STOP_MARGIN, "ending the batches in hand", _all(c.stop_applying() for c in self._consumers))
        for task in self._tasks:
            task.cancel()
        names = ", ".join(task.get_name() for task in self._tasks)
        await _within(STOP_MARGIN, f"stopping {names}", _all(self._tasks))
        await _within(STOP_MARGIN, "closing the broker connection", self.broker.stop())

    @contextlib.asynccontextmanager
    async def lifespan(self, _app: object) -> AsyncIterator[None]:
        await self.start()
        try:
            yield
        finally:
            await self.stop()

    def _check_broker_user(self) -> None:
        """Events are trusted by their publisher's broker user, so a service signs in as its own and no other (never
        as the broker's administrator)."""
        user = self._broker_url.user
        if user == self.broker_user:
            return
        prefix = self.service.upper()
        raise BrokerMisconfigured(
            f"{self.service} signs in to RabbitMQ as {user!r}, but it must sign in as its own broker user "
            f"{self.broker_user!r}, the only publisher the other services accept its events from. Provision the "
            f"broker's users (`make run` does: python -m dukcapil_shared.messaging.provision) and give {self.service} "
            f"its password in {prefix}_BROKER_PASSWORD or {prefix}_BROKER_PASSWORD_FILE."
        )

    @property
    def _vhost(self) -> str:
        # As aio-pika reads the URL: the path is the virtual host, "/" when empty.
        return self._broker_url.path[1:] or "/"

    def _broker_addresses(self) -> str:
        """The nodes this service connects to, without credentials."""
        return ", ".join(str(url.with_user(None)) for url in self._broker_urls)

    async def _running_connection(self) -> Any:
        """The broker connection made at start, or None before start and from stop on."""
        return await self.broker.connect() if self._running else None

    def _queue_names(self) -> list[str]:
        return [
            *(consumer.queue.name for consumer in self._consumers),
            *(self.topology.delay_queue(delay_ms).name for delay_ms in self.retry.delays_ms),
            self.topology.dead_letter_queue.name,
        ]

    async def readiness(self) -> dict[str, bool | str]:
        """Each check True, or False or the reason it fails (a folder's)."""
        database, broker, *folders = await asyncio.gather(
            self._database_reachable(),
            self._broker_reachable(),
            *(folder.problem(self.settings.readiness_timeout) for folder in self._folders.values()),
        )
        return {
            "database": database,
            "broker": broker,
            "consumers": all(subscriber.running for subscriber in self.broker.subscribers),
            **{check: problem or True for check, problem in zip(self._folders, folders, strict=True)},
        }

    async def _database_reachable(self) -> bool:
        try:
            with anyio.fail_after(self.settings.readiness_timeout):
                async with self.engine.connect() as connection:
                    await connection.execute(text("SELECT 1"))
        except Exception:  # any failure means not ready; the probe reports it, nothing else to do
            return False
        return True

    async def _broker_reachable(self) -> bool:
        """The connection is up and the broker answers: opening a channel is a round trip, so a broker that is
        unreachable without the socket closing (a network partition) is caught within readiness_timeout, not
        after the missed heartbeats (minutes)."""
        timeout = self.settings.readiness_timeout
        channel = None
        try:
            with anyio.fail_after(timeout):
                if not await self.broker.ping(timeout=timeout):
                    return False
                connection = await self.broker.connect()  # the connection made at start, not a new one
                channel = connection.channel(publisher_confirms=False)
                await channel  # opens it
        except Exception:  # any failure means not ready
            return False
        finally:
            if channel is not None:
                # A probe cut short may still open its channel later: close it whatever happened, without waiting.
                closing = asyncio.create_task(_close_quietly(channel))
                self._probes.add(closing)
                closing.add_done_callback(self._probes.discard)
        return True

    async def _connect_broker(self) -> None:
        deadline = anyio.current_time() + self.settings.broker_connect_timeout
        while True:
            try:
                await self.broker.connect()
                return
            except (aiormq.exceptions.ProbableAuthenticationError, aiormq.exceptions.AuthenticationError) as error:
                # A refused sign-in does not pass by waiting: say so at once.
                raise BrokerMisconfigured(
                    f"RabbitMQ refused {self.broker_user!r}'s sign-in at {self._broker_url.with_password('***')} "
                    f"(ACCESS_REFUSED): the user is not provisioned there or its password is wrong; check "
                    f"{self.service.upper()}_BROKER_PASSWORD (or _FILE), or provision the broker again."
                ) from error
            except (aiormq.exceptions.ConnectionNotAllowed, aiormq.exceptions.InvalidFrameError) as error:
                # RabbitMQ closes the connection instead of opening the virtual host (NOT_ALLOWED), which aiormq
                # reports as an unexpected Connection.Close frame: the sign-in passed, the virtual host did not.
                if isinstance(error, aiormq.exceptions.InvalidFrameError) and "Connection.Close" not in str(error):
                    raise BrokerMisconfigured(
                        f"RabbitMQ at {self._broker_url.with_password('***')} answered the connection with something "
                        f"this service does not understand ({error}): is it RabbitMQ, on its AMQP port?"
                    ) from error
                raise BrokerMisconfigured(
                    f"RabbitMQ does not let {self.broker_user!r} into virtual host {self._vhost!r} (NOT_ALLOWED): the "
                    "virtual host does not exist, or the user has no permissions on it. Check AMQP_URL's virtual host, "
                    "or provision the broker again (python -m dukcapil_shared.messaging.provision)."
                ) from error
            except Exception as error:  # aiormq and aio-pika raise several unrelated types
                if anyio.current_time() >= deadline:
                    raise BrokerUnavailable(
                        f"RabbitMQ is not reachable at {self._broker_addresses()}: {error}. "
                        "Start it (rabbitmq-server -detached, or docker compose up rabbitmq) or set AMQP_URL."
                    ) from error
                log.warning("broker_not_reachable_yet", error=type(error).__name__)
                await asyncio.sleep(1.0)


async def _all(awaitables: Any) -> None:
    await asyncio.gather(*awaitables, return_exceptions=True)


async def _within(seconds: float, step: str, awaitable: Awaitable[object]) -> bool:
    """Await a step of stopping for at most `seconds`; False, and an error in the log, if it took longer."""
    with anyio.move_on_after(seconds) as scope:
        await awaitable
    if scope.cancelled_caught:
        log.error("stop_step_timed_out", step=step, seconds=seconds)
        return False
    return True


async def _close_quietly(channel: Any) -> None:
    with contextlib.suppress(Exception):
        with anyio.fail_after(5):
            await channel.close()


def _freeze_startup_objects() -> None:
    """Leave what the start built (the imported modules, the app, its schemas and statements: most of the heap, and
    there for good) out of the garbage collector's full collections from now on. Each full collection walked them
    all: about 150 ms with the event loop stopped, every few seconds under load, every request in flight waiting
    (intake's p99 at half load went from 10 to 64 ms in a bench run with one of them in its window). In the served
    process only (`serve`): a test process that starts many apps keeps collecting what they leave."""
    gc.collect()
    gc.freeze()


class Periodic:
    """A loop running `work` every `interval` seconds, and at once when woken (`wake`); a failing round is logged and
    the next one tries again."""

    def __init__(self, interval: float, name: str, work: Callable[[], Awaitable[object]]) -> None:
        self._interval = interval
        self._name = name
        self._work = work
        self._woken = asyncio.Event()

    def wake(self) -> None:
        """Run the next round now instead of at the end of the interval. Wakes during a round make one round after
        it, however many they are; the interval then counts from that round."""
        self._woken.set()

    async def __call__(self) -> None:
        while True:
            self._woken.clear()
            try:
                await self._work()
            except Exception as error:  # e.g. the database is away for a moment: the next round tries again
                log.warning("background_round_failed", work=self._name, error=f"{type(error).__name__}: {error}")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._interval):
                    await self._woken.wait()


def periodically(interval: float, name: str, work: Callable[[], Awaitable[object]]) -> Periodic:
    """A loop running `work` every `interval` seconds (`Periodic`), started as a task: `asyncio.create_task(loop())`."""
    return Periodic(interval, name, work)


def serve(app: FastAPI, settings: ServiceSettings) -> None:
    """Run the app under uvicorn. SIGTERM (or Ctrl-C) stops it within graceful_timeout + STOP_MARGIN: the HTTP
    requests and the deliveries in hand finish side by side, each within graceful_timeout."""
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=max(1, int(settings.graceful_timeout)),
        # X-Forwarded-For is believed only from the proxies named; with none, never.
        proxy_headers=bool(settings.forwarded_allow_ips),
        forwarded_allow_ips=settings.forwarded_allow_ips or None,
    )
    config.app = guarded = QuietStartupFailure(app)
    try:
        _Server(config, runtime=app.state.runtime, deadline=settings.graceful_timeout + STOP_MARGIN).run()
    except SystemExit:  # uvicorn's own exit when the start failed: the entry point tells why instead
        if guarded.error is None:
            raise
    if guarded.error is not None:
        raise guarded.error


class QuietStartupFailure:
    """Keeps what stopped the app's start from uvicorn, which would log it with its traceback (Starlette hands it the
    formatted traceback): the error is kept here, and `serve` raises it to the entry point once uvicorn has
    stopped, where it is told as one sentence (dukcapil_shared.startup)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.error: BaseException | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return

        async def quiet_send(message: Message) -> None:
            if message["type"] == "lifespan.startup.failed":
                message = {**message, "message": ""}  # uvicorn logs a non-empty one
            await send(message)

        try:
            await self.app(scope, receive, quiet_send)
        except Exception as error:
            self.error = error
            raise


class _Server(uvicorn.Server):
    """uvicorn's server, which on the first stop signal also starts the runtime's drain and a deadline for the
    whole process."""

    def __init__(self, config: uvicorn.Config, *, runtime: ServiceRuntime, deadline: float) -> None:
        super().__init__(config)
        self._runtime = runtime
        self._deadline = deadline

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if not self.should_exit:  # uvicorn sets it when the start failed
            _freeze_startup_objects()

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if not self.should_exit:
            self._runtime.request_stop()
            StopDeadline(self._deadline).start()
        super().handle_exit(sig, frame)


class StopDeadline:
    """Ends the process `seconds` after the stop began if it has not ended by itself: whatever still holds it is
    a bug, and its threads' stacks go to the log so that it can be found, where an orchestrator's SIGKILL after
    its grace period would say nothing. A database transaction left open is rolled back by the server, and an
    unacknowledged delivery returns to its queue, as after any crash."""

    EXIT_CODE = 70  # EX_SOFTWARE

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def start(self) -> None:
        self._timer.start()

    def _expire(self) -> None:
        log.error("stop_deadline_exceeded", seconds=self.seconds, stacks="follow on stderr")
        sys.stdout.flush()
        faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
        sys.stderr.flush()
        os._exit(self.EXIT_CODE)


def token_verifier(settings: ServiceSettings, sessions: EndedSessionCheck) -> TokenVerifier:
    """The office's OpenID Connect provider when configured, else tokens from intake's token endpoint, checked
    with intake's public keys (AUTH_JWKS, or the file AUTH_JWKS_FILE)."""
    if settings.auth_oidc_jwks_url and settings.auth_oidc_issuer and settings.auth_oidc_audience:
        return OidcTokenVerifier(
            jwks_url=settings.auth_oidc_jwks_url,
            issuer=settings.auth_oidc_issuer,
            audience=settings.auth_oidc_audience,
            role_claim=settings.auth_oidc_role_claim,
            kecamatan_claim=settings.auth_oidc_kecamatan_claim,
        )
    return LocalTokenVerifier(
        keys=PublishedKeys(document=settings.auth_jwks, path=settings.auth_jwks_file),
        issuer=settings.auth_token_issuer,
        audience=settings.auth_token_audience,
        sessions=sessions,
    )
