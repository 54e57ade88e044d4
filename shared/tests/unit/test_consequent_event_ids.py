"""Events a consumer adds are "the n-th event of this type this service published about this request": a restored
service that handles the events since its backup again publishes the same ids, in whatever order they come back,
and the consumers' inboxes drop what they already applied."""

import uuid

from dukcapil_shared.contracts import RequestCancelled
from dukcapil_shared.messaging.unit_of_work import caused_by
from dukcapil_testing.fakes import FakeOutbox


def _cancelled(request_id: uuid.UUID) -> RequestCancelled:
    return RequestCancelled(request_id=request_id, reason="withdrawn_by_applicant")


async def _ids(outbox: FakeOutbox, *requests: uuid.UUID, consuming: bool = True) -> list[uuid.UUID]:
    if not consuming:
        return [(await outbox.add(_cancelled(request))).id for request in requests]
    with caused_by("dukcapil.review.requests"):
        return [(await outbox.add(_cancelled(request))).id for request in requests]


async def test_handling_the_same_events_again_adds_events_with_the_same_ids_in_any_order() -> None:
    first, second = uuid.uuid4(), uuid.uuid4()
    before = await _ids(FakeOutbox(), first, second, first)
    restored = await _ids(FakeOutbox(), second, first, first)
    assert {before[0], before[2]} == {restored[1], restored[2]}, "the first and the second about one request"
    assert before[1] == restored[0]
    assert len(set(before)) == 3


async def test_a_restored_outbox_continues_the_count_where_its_backup_stopped() -> None:
    request = uuid.uuid4()
    [first, second] = await _ids(FakeOutbox(), request, request)
    restored = FakeOutbox()
    assert await _ids(restored, request) == [first]  # in the backup
    restored.committed, restored.pending = restored.pending, []
    assert await _ids(restored, request) == [second]  # handled again after the restore


async def test_outside_a_consumer_every_event_gets_a_random_id() -> None:
    request = uuid.uuid4()
    assert await _ids(FakeOutbox(), request, consuming=False) != await _ids(FakeOutbox(), request, consuming=False)
