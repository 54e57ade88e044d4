"""Documents listens to approvals: each approved request gets its document."""

from functools import partial

from dukcapil_documents.service_layer import handlers
from dukcapil_shared.contracts import RequestApproved
from dukcapil_shared.messaging import Subscription


def subscriptions(*, press: handlers.Press) -> list[Subscription]:
    return [
        Subscription(
            name="approvals",
            description="Approved requests: render, number, sign and store each one's document, then announce it",
            handlers={RequestApproved: partial(handlers.issue_document, press=press)},
        )
    ]
