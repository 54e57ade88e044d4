"""Documents listens to approvals: each approved request gets its document."""

from functools import partial

from dukcapil_documents.service_layer import handlers
from dukcapil_documents.service_layer.ports import DocumentRenderer, DocumentStorage
from dukcapil_shared.contracts import RequestApproved
from dukcapil_shared.messaging import Subscription


def subscriptions(*, renderer: DocumentRenderer, storage: DocumentStorage, public_base_url: str) -> list[Subscription]:
    return [
        Subscription(
            name="approvals",
            description="Approved requests: render, number and store each one's document, then announce it",
            handlers={
                RequestApproved: partial(
                    handlers.issue_document, renderer=renderer, storage=storage, public_base_url=public_base_url
                ),
            },
        )
    ]
