"""The composition root: builds the real database, broker and adapters, and wires them into the app."""

from datetime import timedelta

from fastapi import FastAPI

from dukcapil_review.adapters import tables
from dukcapil_review.adapters.queue_metrics import ReviewQueueGauges
from dukcapil_review.adapters.repository import SqlReviewUnitOfWork
from dukcapil_review.domain.model import DEFAULT_SLA_WORKING_DAYS, ReviewPolicy
from dukcapil_review.entrypoints import http, statistics
from dukcapil_review.entrypoints.consumers import subscriptions
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
    )
    clock = SystemClock()
    for subscription in subscriptions(policy, clock):
        runtime.subscribe(subscription, unit_of_work)
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
