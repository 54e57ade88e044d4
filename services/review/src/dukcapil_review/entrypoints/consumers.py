"""Review listens to what intake announces about a request."""

from functools import partial

from dukcapil_review.domain.model import ReviewPolicy
from dukcapil_review.service_layer import handlers
from dukcapil_shared.contracts import RequestCancelled, RequestResubmitted, RequestSubmitted
from dukcapil_shared.messaging import Subscription


def subscriptions(policy: ReviewPolicy) -> list[Subscription]:
    return [
        Subscription(
            name="requests",
            description="Submitted, resubmitted and cancelled requests: the reviewers' work queue",
            handlers={
                RequestSubmitted: partial(handlers.queue_submitted_request, policy=policy),
                RequestResubmitted: handlers.requeue_resubmitted_request,
                RequestCancelled: handlers.withdraw_cancelled_request,
            },
        )
    ]
