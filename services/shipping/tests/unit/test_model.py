import uuid
from datetime import timedelta

import pytest

from dukcapil_shipping.domain.model import (
    CarriedDocument,
    Parcel,
    Shipment,
    ShipmentRefused,
    ShipmentStatus,
    booking_delay,
)

from ..fakes import T0

PARCEL = Parcel(
    order_id="6a3c1f0e-0000-4000-8000-000000000001",
    receiver_name="Siti Aminah",
    address_line1="Kp. Cibeureum No. 5",
    address_line2="Kec. Rangkasbitung",
    city="LEBAK",
    postal_code="42314",
    phone="081234567890",
    contents="DOKUMEN KEPENDUDUKAN",
)


def waiting_for_the_courier() -> Shipment:
    return Shipment.for_booking(
        request_id=uuid.uuid4(),
        document=CarriedDocument("BIO/3602/2026/000001"),
        recipient="Siti Aminah",
        address={"kecamatan_code": "36.02.14"},
        kecamatan_code="36.02.14",
        parcel=PARCEL,
        now=T0,
    )


def test_booking_is_asked_again_each_time_a_little_later_then_every_five_minutes() -> None:
    waits = [booking_delay(failed_attempts).total_seconds() for failed_attempts in range(1, 8)]
    assert waits == [2, 5, 15, 60, 300, 300, 300]


def test_a_postponed_booking_counts_its_attempts_and_forgets_the_error_once_booked() -> None:
    shipment = waiting_for_the_courier()
    assert (shipment.status, shipment.next_booking_at) == (ShipmentStatus.booking, T0)
    shipment.postpone_booking("CourierUnavailable: HTTP 503", now=T0)
    shipment.postpone_booking("CourierUnavailable: timeout", now=T0 + timedelta(seconds=2))
    assert (shipment.booking_attempts, shipment.last_booking_error) == (2, "CourierUnavailable: timeout")
    assert shipment.next_booking_at == T0 + timedelta(seconds=7)

    shipment.booked(courier="JNE", service="REG", airway_bill="0123", now=T0 + timedelta(seconds=7))
    assert (shipment.status, shipment.airway_bill, shipment.next_booking_at) == (ShipmentStatus.created, "0123", None)
    assert (shipment.booking_attempts, shipment.last_booking_error) == (2, None)
    assert shipment.is_tracked and [entry.status for entry in shipment.tracking] == ["created"]


def test_a_refused_booking_waits_for_an_operator() -> None:
    shipment = waiting_for_the_courier()
    shipment.fail_booking("CourierRefused: HTTP 400", now=T0)
    assert (shipment.status, shipment.next_booking_at, shipment.is_tracked) == ("booking_failed", None, False)
    with pytest.raises(ShipmentRefused) as refused:
        shipment.booked(courier="JNE", service="REG", airway_bill="0123", now=T0)
    assert refused.value.code == "not_booking"
