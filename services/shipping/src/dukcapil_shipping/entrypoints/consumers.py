"""Shipping listens to the documents service: every issued document is shipped or held for pickup."""

from functools import partial

from dukcapil_shared.contracts import DocumentIssued
from dukcapil_shared.messaging import Subscription
from dukcapil_shipping.service_layer.courier import CourierClient
from dukcapil_shipping.service_layer.handlers import FindOffice, ship_document


def subscriptions(*, courier: CourierClient, find_office: FindOffice) -> list[Subscription]:
    documents = Subscription(
        name="documents",
        description="Issued documents: book the courier, or hold the document at the kecamatan office",
        handlers={DocumentIssued: partial(ship_document, courier=courier, find_office=find_office)},
    )
    return [documents]
