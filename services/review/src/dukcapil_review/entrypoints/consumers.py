"""Review listens to what intake announces about a request."""

from functools import partial

from dukcapil_review.domain.model import ReviewPolicy
from dukcapil_review.service_layer import handlers
from dukcapil_review.service_layer.register import RegisterLookups
from dukcapil_shared.clock import Clock, system_clock
from dukcapil_shared.contracts import AttachmentAdded, RequestCancelled, RequestResubmitted, RequestSubmitted
from dukcapil_shared.messaging import Subscription


def subscriptions(
    policy: ReviewPolicy, clock: Clock = system_clock, register: RegisterLookups | None = None
) -> list[Subscription]:
    return [
        Subscription(
            name="requests",
            description="Submitted, completed, resubmitted and cancelled requests: the reviewers' work queue",
            handlers={
                RequestSubmitted: partial(
                    handlers.queue_submitted_request, policy=policy, clock=clock, register=register
                ),
                AttachmentAdded: partial(handlers.record_attachment, policy=policy, clock=clock),
                RequestResubmitted: partial(
                    handlers.requeue_resubmitted_request, policy=policy, clock=clock, register=register
                ),
                RequestCancelled: partial(handlers.withdraw_cancelled_request, clock=clock),
            },
        )
    ]
