"""A courier that forgets an airway bill it issued: the shipment is flagged courier_lost_parcel at the next poll and
no longer polled; a courier that is away or misrouted is an outage, asked again, and never a lost parcel."""

import json
from collections.abc import AsyncIterator

import httpx
import pytest
import structlog
from fastapi import FastAPI

from dukcapil_devtools.courier_simulator.app import SimulatorSettings, create_app
from dukcapil_shared.auth.roles import Role
from dukcapil_shared.clock import SystemClock
from dukcapil_shared.contracts import ShipmentCreated, ShipmentFlagged
from dukcapil_shared.contracts.regions import find_kecamatan
from dukcapil_shared.web import install_error_handlers
from dukcapil_shipping.adapters.courier import JneAccount, JneCourier, Shipper, says_airway_bill_unknown
from dukcapil_shipping.domain.model import FlagReason, ShipmentStatus
from dukcapil_shipping.entrypoints import http as shipping_http
from dukcapil_shipping.service_layer import handlers
from dukcapil_shipping.service_layer.courier import AirwayBillUnknown, CourierUnavailable
from dukcapil_testing import install_test_auth, staff_headers

from ..fakes import FakeClock, FakeShippingUnitOfWork, book, deliver, issued

ACCOUNT = JneAccount(
    username="courier-test",
    api_key="courier-test-key",
    branch="RKB000",
    customer="80000000",
    origin_code="RKB10000",
    destination_code="RKB10000",
)
SHIPPER = Shipper(
    name="Disdukcapil Kabupaten Lebak", address="Rangkasbitung", city="LEBAK", zip="42311", phone="0252000000"
)
STAFF = staff_headers(Role.SHIPPING_OFFICER)
JNE_NOT_FOUND = json.dumps({"status": False, "error": "Cnote No. Not Found."})


@pytest.mark.parametrize(
    ("status_code", "body", "unknown"),
    [
        (404, JNE_NOT_FOUND, True),
        (404, '{"status": false, "error": "CNOTE NO. NOT FOUND"}', True),
        (404, "<html><body><h1>404 Not Found</h1>nginx</body></html>", False),  # a proxy or web server
        (404, '{"detail": "Not Found"}', False),  # a path the courier's API does not have: misrouted
        (404, "", False),
        (404, '{"status": "false", "error": "Cnote No. Not Found."}', False),  # not the API's own boolean
        (404, '{"status": false, "error": "Invalid username or api_key"}', False),
        (404, '[{"status": false, "error": "Cnote No. Not Found."}]', False),
        (503, JNE_NOT_FOUND, False),
        (200, JNE_NOT_FOUND, False),
    ],
)
def test_only_the_partner_apis_own_not_found_says_an_airway_bill_is_unknown(
    status_code: int, body: str, unknown: bool
) -> None:
    assert says_airway_bill_unknown(status_code, body) is unknown


def simulator(clock: FakeClock) -> httpx.ASGITransport:
    """A courier in memory: a new one is the courier restarted without its records."""
    settings = SimulatorSettings(username=ACCOUNT.username, api_key=ACCOUNT.api_key, seed=11, data_dir=None)
    return httpx.ASGITransport(app=create_app(settings, clock=clock))


class CountingCourier(JneCourier):
    def __init__(self, http: httpx.AsyncClient) -> None:
        super().__init__(http, account=ACCOUNT, shipper=SHIPPER, attempts=2, backoff_seconds=0, sleep=_no_sleep)
        self.tracked: list[str] = []

    async def track(self, airway_bill: str):  # type: ignore[no-untyped-def]
        self.tracked.append(airway_bill)
        return await super().track(airway_bill)


async def _no_sleep(_seconds: float) -> None:
    pass


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def booked(clock: FakeClock) -> AsyncIterator[FakeShippingUnitOfWork]:
    """Two shipments booked with a courier that then lost its records."""
    uow = FakeShippingUnitOfWork()
    async with httpx.AsyncClient(transport=simulator(clock), base_url="http://courier") as first:
        for _ in range(2):
            await deliver(uow, issued())
        assert await book(uow, CountingCourier(first)) == 2
    yield uow


async def track(uow: FakeShippingUnitOfWork, courier: JneCourier, clock: FakeClock) -> int:
    return await handlers.track_shipments(
        unit_of_work=lambda: uow, courier=courier, find_office=find_kecamatan, clock=clock
    )


async def test_the_client_tells_an_unknown_airway_bill_from_a_misrouted_call(clock: FakeClock) -> None:
    transport = simulator(clock)
    async with httpx.AsyncClient(transport=transport, base_url="http://courier") as courier_http:
        with pytest.raises(AirwayBillUnknown, match="404"):
            await CountingCourier(courier_http).track("1234567890123456")
    async with httpx.AsyncClient(transport=transport, base_url="http://courier/wrong-prefix") as misrouted:
        with pytest.raises(CourierUnavailable, match="misrouted"):
            await CountingCourier(misrouted).track("1234567890123456")


async def test_a_forgotten_airway_bill_flags_the_shipment_once_and_stops_its_polling(
    booked: FakeShippingUnitOfWork, clock: FakeClock
) -> None:
    uow = booked
    async with httpx.AsyncClient(transport=simulator(clock), base_url="http://courier") as forgetful:
        courier = CountingCourier(forgetful)
        with structlog.testing.capture_logs() as logs:
            for _ in range(5):
                await track(uow, courier, clock)
                clock.advance(2)

    shipments = list(uow.shipments._current().values())
    assert len(courier.tracked) == 2, "each forgotten airway bill is asked about once, then never again"
    for shipment in shipments:
        assert shipment.status == ShipmentStatus.lost_by_courier
        assert not shipment.is_tracked
        assert [flag.reason for flag in shipment.flags] == [FlagReason.courier_lost_parcel]
        assert shipment.airway_bill in shipment.flags[0].detail
    flagged = [event for event in uow.outbox.events if isinstance(event, ShipmentFlagged)]
    assert sorted((e.shipment_id, e.reason) for e in flagged) == sorted(
        (s.id, "courier_lost_parcel") for s in shipments
    )
    warnings = [line for line in logs if line["log_level"] == "warning"]
    assert [line["event"] for line in warnings] == ["courier_lost_parcel", "courier_lost_parcel"]


async def test_a_courier_that_is_away_or_misrouted_loses_no_parcel_and_logs_one_line_a_round(
    booked: FakeShippingUnitOfWork, clock: FakeClock
) -> None:
    uow = booked
    async with httpx.AsyncClient(transport=simulator(clock), base_url="http://courier/not-the-api") as misrouted:
        courier = CountingCourier(misrouted)
        with structlog.testing.capture_logs() as logs:
            for _ in range(3):
                await track(uow, courier, clock)
                clock.advance(2)

    assert len(courier.tracked) == 6, "both shipments are asked about every round"
    for shipment in uow.shipments._current().values():
        assert shipment.is_tracked and shipment.flags == []
    assert not any(isinstance(event, ShipmentFlagged) for event in uow.outbox.events)
    warnings = [line for line in logs if line["log_level"] == "warning"]
    assert [(line["event"], line["shipments"]) for line in warnings] == [("tracking_poll_failed", 2)] * 3


def shipping_api(uow: FakeShippingUnitOfWork) -> httpx.AsyncClient:
    app = FastAPI()
    install_error_handlers(app)
    install_test_auth(app)
    shipping_http.install(app)
    app.state.unit_of_work = lambda: uow
    app.state.clock = SystemClock()
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://shipping")


async def test_an_officer_has_a_lost_parcel_booked_again_and_it_is_followed_under_its_new_airway_bill(
    booked: FakeShippingUnitOfWork, clock: FakeClock
) -> None:
    uow = booked
    async with httpx.AsyncClient(transport=simulator(clock), base_url="http://courier") as forgetful:
        courier = CountingCourier(forgetful)
        await track(uow, courier, clock)
        lost = next(iter(uow.shipments._current().values()))
        old_airway_bill = lost.airway_bill
        async with shipping_api(uow) as api:
            flagged = await api.get("/shipments", params={"flag": "courier_lost_parcel"}, headers=STAFF)
            assert len(flagged.json()) == 2 and flagged.json()[0]["status"] == "lost_by_courier"
            answer = await api.post(f"/shipments/{lost.id}/rebook", headers=STAFF)
            assert answer.status_code == 200, answer.text
            assert answer.json()["status"] == "booking" and answer.json()["flags"] == []
            again = await api.post(f"/shipments/{lost.id}/rebook", headers=STAFF)
            assert (again.status_code, again.json()["error"]["code"]) == (409, "not_lost_by_courier")

        assert await book(uow, courier) == 1
        first, created = [e for e in uow.outbox.events if isinstance(e, ShipmentCreated) and e.shipment_id == lost.id]
        assert first.airway_bill == old_airway_bill and created.airway_bill != old_airway_bill
        assert uow.status_of(lost.id) == ShipmentStatus.created
        courier.tracked.clear()
        await track(uow, courier, clock)
        assert courier.tracked == [created.airway_bill], "the other lost parcel waits for its officer"
        assert uow.status_of(lost.id) == ShipmentStatus.created
