"""The JNE client against the courier simulator, in process (httpx's ASGI transport)."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from dukcapil_devtools.courier_simulator.app import SimulatorSettings, create_app
from dukcapil_shared.contracts import ShipmentCreated, ShipmentDelivered, ShipmentStatusChanged
from dukcapil_shared.contracts.regions import find_kecamatan
from dukcapil_shipping.adapters.courier import JneAccount, JneCourier, Shipper
from dukcapil_shipping.domain.model import Parcel, ShipmentStatus
from dukcapil_shipping.service_layer import handlers
from dukcapil_shipping.service_layer.courier import CourierRefused, CourierUnavailable

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
PARCEL = Parcel(
    order_id="5b7c9d3e-1111-4222-8333-444455556666",
    receiver_name="Siti Aminah",
    address_line1="Kp. Cibeureum No. 5",
    address_line2="Kec. Rangkasbitung",
    city="Kabupaten Lebak",
    postal_code=None,
    phone=None,
    contents="DOKUMEN KEPENDUDUKAN",
)


class FlakyTransport(httpx.AsyncBaseTransport):
    """Refuses the first connections, then lets calls through to the courier."""

    def __init__(self, inner: httpx.AsyncBaseTransport, refusals: int) -> None:
        self.inner = inner
        self.refusals = refusals

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.refusals:
            self.refusals -= 1
            raise httpx.ConnectError("connection refused", request=request)
        return await self.inner.handle_async_request(request)


class Sleeps(list[float]):
    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def simulator(clock: FakeClock) -> httpx.ASGITransport:
    settings = SimulatorSettings(username=ACCOUNT.username, api_key=ACCOUNT.api_key, seed=3, data_dir=None)
    return httpx.ASGITransport(app=create_app(settings, clock=clock))


@pytest.fixture
async def http(simulator: httpx.ASGITransport) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=simulator, base_url="http://courier") as client:
        yield client


def jne(http: httpx.AsyncClient, sleeps: Sleeps, account: JneAccount = ACCOUNT) -> JneCourier:
    return JneCourier(http, account=account, shipper=SHIPPER, attempts=3, backoff_seconds=0.5, sleep=sleeps)


async def test_booking_twice_gives_the_same_airway_bill(http: httpx.AsyncClient) -> None:
    courier = jne(http, Sleeps())
    airway_bill = await courier.book(PARCEL)
    assert len(airway_bill) == 16 and airway_bill.isdigit()
    assert await courier.book(PARCEL) == airway_bill


async def test_503_is_retried_with_growing_delays_then_succeeds(http: httpx.AsyncClient) -> None:
    await http.post("/simulator/scripts", json={"order_id": PARCEL.order_id, "fail_next_requests": 2})
    sleeps = Sleeps()
    assert await jne(http, sleeps).book(PARCEL)
    assert sleeps == [0.5, 1.0]


async def test_a_courier_that_stays_unavailable_is_reported_as_transient(http: httpx.AsyncClient) -> None:
    await http.post("/simulator/scripts", json={"order_id": PARCEL.order_id, "fail_next_requests": 3})
    with pytest.raises(CourierUnavailable, match="503"):
        await jne(http, Sleeps()).book(PARCEL)


async def test_connection_errors_are_retried(simulator: httpx.ASGITransport) -> None:
    transport = FlakyTransport(simulator, refusals=2)
    async with httpx.AsyncClient(transport=transport, base_url="http://courier") as http:
        sleeps = Sleeps()
        assert await jne(http, sleeps).book(PARCEL)
    assert len(sleeps) == 2


async def test_4xx_is_permanent_and_not_retried(http: httpx.AsyncClient) -> None:
    sleeps = Sleeps()
    wrong_key = JneAccount(**{**ACCOUNT.__dict__, "api_key": "wrong"})
    with pytest.raises(CourierRefused, match="401"):
        await jne(http, sleeps, wrong_key).book(PARCEL)
    nameless = Parcel(**{**PARCEL.__dict__, "receiver_name": ""})
    with pytest.raises(CourierRefused, match="OLSHOP_RECEIVER_NAME"):
        await jne(http, sleeps).book(nameless)
    with pytest.raises(CourierRefused, match="404"):
        await jne(http, sleeps).track("0000000000000000")
    assert sleeps == []


async def test_tracking_reads_the_timeline_and_the_proof_of_delivery(http: httpx.AsyncClient, clock: FakeClock) -> None:
    courier = jne(http, Sleeps())
    airway_bill = await courier.book(PARCEL)
    report = await courier.track(airway_bill)
    assert [(e.status, e.courier_code) for e in report.entries] == [("manifested", "MNF")]
    assert report.receiver_name is None

    clock.advance(6)
    report = await courier.track(airway_bill)
    assert [e.status for e in report.entries] == ["manifested", "picked_up", "in_transit", "delivered"]
    assert report.receiver_name == "Siti Aminah"
    assert report.delivered_at == datetime(2026, 11, 28, 3, 0, tzinfo=UTC)  # to the minute, as the courier says


async def test_a_failed_delivery_carries_the_couriers_reason(http: httpx.AsyncClient, clock: FakeClock) -> None:
    await http.post("/simulator/scripts", json={"order_id": PARCEL.order_id, "outcome": "failed"})
    courier = jne(http, Sleeps())
    airway_bill = await courier.book(PARCEL)
    clock.advance(6)
    report = await courier.track(airway_bill)
    assert report.entries[-1].status == "failed"
    assert report.failure_reason == "ALAMAT TIDAK DITEMUKAN"


async def test_a_document_goes_from_issued_to_delivered_through_the_real_client(
    http: httpx.AsyncClient, clock: FakeClock
) -> None:
    uow, courier = FakeShippingUnitOfWork(), jne(http, Sleeps())
    event = issued()
    await deliver(uow, event)
    assert await book(uow, courier) == 1
    statuses = []
    for _ in range(4):
        await handlers.track_shipments(unit_of_work=lambda: uow, courier=courier, find_office=find_kecamatan)
        statuses.append(uow.only_shipment().status)
        clock.advance(2)
    assert statuses == ["created", "picked_up", "in_transit", "delivered"]
    assert uow.only_shipment().status == ShipmentStatus.delivered
    kinds = [type(e) for e in uow.outbox.events]
    assert kinds == [ShipmentCreated, *[ShipmentStatusChanged] * 4, ShipmentDelivered]
    assert uow.outbox.events[-1].receiver_name == "Siti Aminah"  # type: ignore[attr-defined]


async def test_a_courier_outage_postpones_the_booking_and_a_refusal_fails_it(http: httpx.AsyncClient) -> None:
    uow, later = FakeShippingUnitOfWork(), FakeClock(datetime.now(UTC) + timedelta(seconds=3))
    outage, refused = issued(), issued()
    await http.post("/simulator/scripts", json={"order_id": str(outage.request_id), "fail_next_requests": 3})
    await deliver(uow, outage)
    assert await book(uow, jne(http, Sleeps())) == 0
    await deliver(uow, refused)
    assert await book(uow, jne(http, Sleeps(), JneAccount(**{**ACCOUNT.__dict__, "api_key": "wrong"}))) == 0

    waiting = await uow.shipments.get_by_request(outage.request_id)
    failed = await uow.shipments.get_by_request(refused.request_id)
    assert waiting is not None and failed is not None
    assert (waiting.status, waiting.booking_attempts) == ("booking", 1)
    assert "503" in (waiting.last_booking_error or "")
    assert (failed.status, failed.booking_attempts) == ("booking_failed", 1)
    assert "401" in (failed.last_booking_error or "")

    assert await book(uow, jne(http, Sleeps()), later) == 1
    assert [type(e) for e in uow.outbox.events] == [ShipmentCreated]
    assert uow.status_of(waiting.id) == ShipmentStatus.created
