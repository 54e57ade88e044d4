"""The composition root: builds the real database, broker, courier client and adapters, and wires them in."""

from datetime import timedelta
from functools import partial

import httpx
from fastapi import FastAPI

from dukcapil_shared.clock import SystemClock
from dukcapil_shared.contracts.regions import find_kecamatan
from dukcapil_shared.db import create_engine
from dukcapil_shared.logging import configure_logging
from dukcapil_shared.runtime import ServiceRuntime
from dukcapil_shipping.adapters import tables
from dukcapil_shipping.adapters.courier import JneAccount, JneCourier, Shipper
from dukcapil_shipping.adapters.destinations import load_destinations
from dukcapil_shipping.adapters.repository import SqlShippingUnitOfWork
from dukcapil_shipping.entrypoints import consumers, http
from dukcapil_shipping.service_layer import handlers
from dukcapil_shipping.settings import ShippingSettings


def build_app(settings: ShippingSettings | None = None) -> FastAPI:
    settings = settings or ShippingSettings()
    configure_logging("shipping", settings.log_level, settings.log_json)
    runtime = ServiceRuntime(
        service="shipping",
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
        migrations="dukcapil_shipping:migrations",
    )
    unit_of_work = runtime.unit_of_work_factory(SqlShippingUnitOfWork)
    clock = SystemClock()

    courier_http = httpx.AsyncClient(
        base_url=settings.courier_url,
        timeout=settings.courier_timeout,
        # Each call counted by its outcome: the courier failing is alerted on (deploy/prometheus/alerts.yml).
        transport=runtime.metrics.outbound_transport("courier"),
    )
    courier = JneCourier(
        courier_http,
        account=JneAccount(
            username=settings.courier_username,
            api_key=settings.courier_api_key.get_secret_value(),
            branch=settings.courier_branch,
            customer=settings.courier_customer,
            origin_code=settings.origin_code,
            destination_code=settings.destination_code,
            service=settings.courier_service,
        ),
        shipper=Shipper(
            name=settings.sender_name,
            address=settings.sender_address,
            city=settings.sender_city,
            zip=settings.sender_zip,
            phone=settings.sender_phone,
        ),
        attempts=settings.courier_attempts,
    )

    # Closed after the last handler and loop have stopped using it.
    runtime.add_cleanup(courier_http.aclose)

    destinations = load_destinations(settings.destinations_file)
    book_now = runtime.every(
        settings.booking_interval,
        "courier booking",
        partial(
            handlers.book_shipments,
            unit_of_work=unit_of_work,
            courier=courier,
            batch_size=settings.booking_batch_size,
            lease=timedelta(seconds=settings.booking_lease),
            clock=clock,
        ),
    )
    # A shipment for the courier is booked as soon as it is committed; the interval is for what failed before.
    for subscription in consumers.subscriptions(
        find_office=find_kecamatan, destinations=destinations, clock=clock, book_now=book_now
    ):
        runtime.subscribe(subscription, unit_of_work)
    runtime.every(
        settings.tracking_interval,
        "courier tracking",
        partial(
            handlers.track_shipments,
            unit_of_work=unit_of_work,
            courier=courier,
            find_office=find_kecamatan,
            batch_size=settings.tracking_batch_size,
            clock=clock,
        ),
    )
    runtime.every(
        settings.stuck_check_interval,
        "stuck parcels",
        partial(
            handlers.flag_stuck_shipments,
            unit_of_work=unit_of_work,
            stuck_after=timedelta(hours=settings.stuck_after_hours),
            batch_size=settings.tracking_batch_size,
            clock=clock,
        ),
    )

    app = runtime.create_app(
        title="Disdukcapil Lebak: shipping",
        description="Issued documents reach the citizen by courier (JNE), or wait for pickup at the kecamatan office.",
    )
    app.state.unit_of_work = unit_of_work
    app.state.clock = clock
    http.install(app)
    return app
