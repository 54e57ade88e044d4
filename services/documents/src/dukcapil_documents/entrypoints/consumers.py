"""Documents listens to approvals: each approved request gets its document."""

from collections.abc import Callable
from functools import partial

from dukcapil_documents.service_layer import handlers
from dukcapil_documents.service_layer.unit_of_work import DocumentsUnitOfWork
from dukcapil_shared.clock import Clock, system_clock
from dukcapil_shared.contracts import RequestApproved
from dukcapil_shared.messaging import Subscription


def subscriptions(
    *,
    press: handlers.Press,
    unit_of_work: Callable[[], DocumentsUnitOfWork] | None = None,
    clock: Clock = system_clock,
) -> list[Subscription]:
    """With `unit_of_work`, each document is drawn before the transaction that issues it, under a number reserved in
    a short transaction of its own; without it, in the transaction that issues it."""
    preparers = (
        {RequestApproved: partial(handlers.draft_document, press=press, unit_of_work=unit_of_work, clock=clock)}
        if unit_of_work is not None
        else {}
    )
    return [
        Subscription(
            name="approvals",
            description="Approved requests: render, number, sign and store each one's document, then announce it",
            handlers={RequestApproved: partial(handlers.issue_document, press=press, clock=clock)},
            preparers=preparers,
        )
    ]
