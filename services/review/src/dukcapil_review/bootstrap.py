"""The composition root: builds the real database, broker and adapters, and wires them into the app."""

from datetime import timedelta
from functools import partial

import httpx
from fastapi import FastAPI

from dukcapil_review.adapters import tables
from dukcapil_review.adapters.queue_metrics import ReviewQueueGauges
from dukcapil_review.adapters.register import SiakRegister
from dukcapil_review.adapters.repository import SqlReviewUnitOfWork
from dukcapil_review.domain.model import DEFAULT_SLA_WORKING_DAYS, ReviewPolicy
from dukcapil_review.entrypoints import http, statistics
from dukcapil_review.entrypoints.consumers import subscriptions
from dukcapil_review.service_layer import handlers
from dukcapil_review.service_layer.register import RegisterLookups
from dukcapil_review.settings import ReviewSettings
from dukcapil_shared.clock import SystemClock
from dukcapil_shared.db import create_engine
from dukcapil_shared.logging import configure_logging
from dukcapil_shared.runtime import ServiceRuntime
from dukcapil_shared.working_days import WorkingCalendar, read_days_off


def build_app(settings: ReviewSettings | None = None) -> FastAPI:
    settings = settings or ReviewSettings()
    configure_logging("review", settings.log_level, settings.log_json)
    runtime = ServiceRuntime(
        service="review",
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
        migrations="dukcapil_review:migrations",
    )
    unit_of_work = runtime.unit_of_work_factory(SqlReviewUnitOfWork)
    policy = ReviewPolicy(
        auto_approve_types=frozenset(settings.auto_approve_types),
        sla_working_days=dict(DEFAULT_SLA_WORKING_DAYS) | settings.sla_working_days,
        calendar=WorkingCalendar(days_off=read_days_off(settings.days_off_file)),
        claim_duration=timedelta(minutes=settings.claim_minutes),
        register_blocking=frozenset(settings.register_blocking),
    )
    clock = SystemClock()
    register = _register_lookups(settings, runtime)
    for subscription in subscriptions(policy, clock, register):
        runtime.subscribe(subscription, unit_of_work)
    if register is not None:
        runtime.every(
            settings.register_retry_interval,
            "register checks retry",
            partial(
                handlers.retry_register_checks,
                unit_of_work=unit_of_work,
                register=register,
                policy=policy,
                clock=clock,
            ),
        )
    queue_gauges = ReviewQueueGauges(
        engine=runtime.engine, registry=runtime.metrics.registry, clock=clock, request_types=policy.sla_working_days
    )
    runtime.metrics.on_scrape("review_queue", queue_gauges.refresh)

    app = runtime.create_app(
        title="Disdukcapil Lebak: review",
        description="The reviewers' work queue: approve, reject, or ask the citizen for more information.",
    )
    app.state.unit_of_work = unit_of_work
    app.state.policy = policy
    app.state.clock = clock
    http.install(app)
    statistics.install(app)
    return app


def _register_lookups(settings: ReviewSettings, runtime: ServiceRuntime) -> RegisterLookups | None:
    """The population register's client, or None when the office consults none (REVIEW_REGISTER_URL empty)."""
    if not settings.register_url:
        return None
    # Each lookup may take the whole budget; the budget bounds them together (RegisterLookups.consult).
    http = httpx.AsyncClient(base_url=settings.register_url, timeout=settings.register_timeout)
    runtime.add_cleanup(http.aclose)
    return RegisterLookups(
        register=SiakRegister(http, api_key=settings.register_key(), pause=settings.register_pause),
        timeout=settings.register_timeout,
        retry_delays=tuple(timedelta(seconds=seconds) for seconds in settings.register_retry_delays),
    )
