"""Shipping listens to the documents service: every issued document is shipped or held for pickup."""

from functools import partial

from dukcapil_shared.contracts import DocumentIssued
from dukcapil_shared.messaging import Subscription
from dukcapil_shipping.service_layer.handlers import FindOffice, ship_document


def subscriptions(*, find_office: FindOffice) -> list[Subscription]:
    documents = Subscription(
        name="documents",
        description="Issued documents: line them up for the courier, or hold them at the kecamatan office",
        handlers={DocumentIssued: partial(ship_document, find_office=find_office)},
    )
    return [documents]
