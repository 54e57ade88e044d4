"""Shipping listens to intake (requests, to check the address early) and to documents (issued documents to ship)."""

from collections.abc import Callable
from functools import partial

from dukcapil_shared.clock import Clock, system_clock
from dukcapil_shared.contracts import DocumentIssued, RequestResubmitted, RequestSubmitted
from dukcapil_shared.messaging import Subscription
from dukcapil_shipping.domain.destinations import DestinationTable
from dukcapil_shipping.service_layer.handlers import FindOffice, check_address, note_resubmission, ship_document


def subscriptions(
    *,
    find_office: FindOffice,
    destinations: DestinationTable,
    clock: Clock = system_clock,
    book_now: Callable[[], None] | None = None,
) -> list[Subscription]:
    """`book_now`: wakes the booking loop, called once a shipment for the courier is committed."""
    requests = Subscription(
        name="requests",
        description="Submitted requests: check a courier address at once, and keep who may receive the document",
        handlers={
            RequestSubmitted: partial(check_address, destinations=destinations, clock=clock),
            RequestResubmitted: partial(note_resubmission, clock=clock),
        },
    )
    documents = Subscription(
        name="documents",
        description="Issued documents: line them up for the courier, or hold them at the kecamatan office",
        handlers={
            DocumentIssued: partial(
                ship_document, find_office=find_office, destinations=destinations, clock=clock, book_now=book_now
            )
        },
    )
    return [requests, documents]
