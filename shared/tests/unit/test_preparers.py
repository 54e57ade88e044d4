"""A subscription's preparer runs before its handler's unit of work opens, and hands the handler its result."""

import uuid
from typing import Any

import pytest
from faststream.rabbit import RabbitBroker

from dukcapil_shared.contracts import Envelope, RequestCancelled, RequestResubmitted
from dukcapil_shared.messaging import EventConsumer, RetryPolicy, ServiceTopology, Subscription
from dukcapil_testing import FakeUnitOfWork, InMemoryEventBus


class RecordingUnitOfWork(FakeUnitOfWork):
    publishes = ()

    def __init__(self, steps: list[str]) -> None:
        super().__init__()
        self.steps = steps

    async def __aenter__(self) -> "RecordingUnitOfWork":
        self.steps.append("transaction begins")
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.steps.append("transaction ends")
        await self.rollback()


async def test_the_preparer_runs_outside_the_transaction_and_its_result_reaches_the_handler() -> None:
    steps: list[str] = []

    async def prepare(event: RequestCancelled, envelope: Envelope) -> str:
        steps.append("prepare")
        return f"drawn for {event.request_id}"

    async def cancelled(uow: RecordingUnitOfWork, event: RequestCancelled, envelope: Envelope, **kwargs: Any) -> None:
        steps.append(f"handle, prepared={kwargs.get('prepared')!r}")

    async def resubmitted(uow: RecordingUnitOfWork, event: RequestResubmitted, envelope: Envelope) -> None:
        steps.append("handle without a preparer")

    request_id = uuid.uuid4()
    subscription = Subscription(
        name="requests",
        handlers={RequestCancelled: cancelled, RequestResubmitted: resubmitted},
        preparers={RequestCancelled: prepare},
    )
    async with InMemoryEventBus("test", [subscription], lambda: RecordingUnitOfWork(steps)) as bus:
        await bus.publish(RequestCancelled(request_id=request_id))
        await bus.publish(RequestResubmitted(request_id=request_id, request_type="biodata_wni", details={}))

    assert steps == [
        "prepare",
        "transaction begins",
        f"handle, prepared='drawn for {request_id}'",
        "transaction ends",
        "transaction begins",
        "handle without a preparer",
        "transaction ends",
    ]


def test_a_preparer_for_an_event_the_subscription_does_not_handle_is_refused() -> None:
    async def handle(uow: FakeUnitOfWork, event: Any, envelope: Envelope) -> None: ...

    async def prepare(event: Any, envelope: Envelope) -> None: ...

    subscription = Subscription(
        name="requests", handlers={RequestCancelled: handle}, preparers={RequestResubmitted: prepare}
    )
    with pytest.raises(ValueError, match="preparers for events it does not handle"):
        EventConsumer(
            topology=ServiceTopology("test"),
            subscription=subscription,
            unit_of_work=FakeUnitOfWork,
            broker=RabbitBroker(),
            retry=RetryPolicy(),
        )
