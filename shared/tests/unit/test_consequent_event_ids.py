"""An event a consumer adds gets an id derived from the event it was handling: "the n-th event of this type about
this subject that handling added". A restored service that handles the events since its backup again adds the same
ids, in whatever order the events come back, and the consumers' inboxes drop what they already applied."""

import uuid

from dukcapil_shared.contracts import RequestCancelled
from dukcapil_shared.messaging.unit_of_work import caused_by
from dukcapil_testing.fakes import FakeOutbox

CONSUMER = "dukcapil.review.requests"


def _cancelled(request_id: uuid.UUID) -> RequestCancelled:
    return RequestCancelled(request_id=request_id, reason="withdrawn_by_applicant")


async def _handle(outbox: FakeOutbox, cause: str, *requests: uuid.UUID, consumer: str = CONSUMER) -> list[uuid.UUID]:
    """The ids of the events added while `consumer` handles the event `cause`, one about each of `requests`."""
    with caused_by(consumer, cause):
        return [(await outbox.add(_cancelled(request))).id for request in requests]


async def test_handling_the_same_events_again_adds_events_with_the_same_ids_in_any_order() -> None:
    first, second = uuid.uuid4(), uuid.uuid4()
    outbox = FakeOutbox()
    before = {"a": await _handle(outbox, "a", first, first), "b": await _handle(outbox, "b", second)}
    restored = FakeOutbox()
    after_b = await _handle(restored, "b", second)
    after_a = await _handle(restored, "a", first, first)
    assert (after_a, after_b) == (before["a"], before["b"])
    assert len({*before["a"], *before["b"]}) == 3, "two events of one type about one request differ"


async def test_the_ids_depend_on_the_event_handled_and_its_consumer_not_on_what_the_outbox_holds() -> None:
    request = uuid.uuid4()
    [handled] = await _handle(FakeOutbox(), "a", request)
    busy = FakeOutbox()
    await _handle(busy, "other", request, request)
    busy.committed, busy.pending = busy.pending, []
    assert await _handle(busy, "a", request) == [handled]
    assert await _handle(FakeOutbox(), "b", request) != [handled]
    assert await _handle(FakeOutbox(), "a", request, consumer="dukcapil.documents.approvals") != [handled]


async def test_outside_a_consumer_every_event_gets_a_random_id() -> None:
    request = uuid.uuid4()
    assert (await FakeOutbox().add(_cancelled(request))).id != (await FakeOutbox().add(_cancelled(request))).id
