"""Events caused by a consumed event get ids derived from it, so that a restored service that handles the same
event again publishes the same ids (and the consumers' inboxes drop what they already applied)."""

import uuid

from dukcapil_shared.contracts import RequestCancelled
from dukcapil_shared.messaging.unit_of_work import caused_by
from dukcapil_testing.fakes import FakeOutbox

REQUEST = uuid.UUID("8f0c7a52-0c55-4f3c-9d7e-0d8c2a1b5e11")


async def _ids_added(consumer: str, cause: uuid.UUID | None, count: int = 2) -> list[uuid.UUID]:
    outbox = FakeOutbox()
    event = RequestCancelled(request_id=REQUEST, reason="withdrawn_by_applicant")
    if cause is None:
        return [(await outbox.add(event)).id for _ in range(count)]
    with caused_by(consumer, cause):
        return [(await outbox.add(event)).id for _ in range(count)]


async def test_handling_the_same_event_again_adds_events_with_the_same_ids() -> None:
    cause = uuid.uuid4()
    first = await _ids_added("dukcapil.review.requests", cause)
    again = await _ids_added("dukcapil.review.requests", cause)
    assert first == again
    assert len(set(first)) == 2, "two events of one type from one handling need ids of their own"


async def test_ids_differ_per_cause_and_per_consumer_and_are_random_outside_a_handling() -> None:
    cause = uuid.uuid4()
    by_review = await _ids_added("dukcapil.review.requests", cause)
    by_another_queue = await _ids_added("dukcapil.review.corrections", cause)
    by_another_event = await _ids_added("dukcapil.review.requests", uuid.uuid4())
    assert not set(by_review) & set(by_another_queue)
    assert not set(by_review) & set(by_another_event)
    assert await _ids_added("", None) != await _ids_added("", None)
