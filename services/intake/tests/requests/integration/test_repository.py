"""Intake's SQL adapters against real databases, migrated by the service's own Alembic scripts."""

import asyncio
import copy
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import event, select, update
from sqlalchemy.exc import IntegrityError

from dukcapil_intake import tables
from dukcapil_intake.notifications.adapters.unit_of_work import SqlNotificationsUnitOfWork
from dukcapil_intake.notifications.domain.notifications import Channel, Notification, NotificationStatus, RetrySchedule
from dukcapil_intake.requests.adapters import tables as request_tables
from dukcapil_intake.requests.adapters.unit_of_work import SqlRequestsUnitOfWork
from dukcapil_intake.requests.domain.model import Attachment, RecordingBooking, RequestStatus, ServiceRequest
from dukcapil_intake.requests.service_layer.repository import ConcurrentUpdate, IdempotentSubmission, RequestFilter
from dukcapil_shared.contracts import BiodataWniDetails, KartuKeluargaDetails, RequestCancelled

from ...examples import AHMAD, pickup

pytestmark = pytest.mark.integration
T0 = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)


def uow(engine) -> SqlRequestsUnitOfWork:  # type: ignore[no-untyped-def]
    return SqlRequestsUnitOfWork(engine, outbox_table=tables.outbox, inbox_table=tables.inbox, source="/test")


def notices(engine) -> SqlNotificationsUnitOfWork:  # type: ignore[no-untyped-def]
    return SqlNotificationsUnitOfWork(engine, outbox_table=tables.outbox, inbox_table=tables.inbox, source="/test")


def a_request(number: str = "360214-20261128-0001") -> ServiceRequest:
    request = ServiceRequest(
        id=uuid.uuid4(),
        number=number,
        type="kartu_keluarga",
        applicant=AHMAD,
        details=KartuKeluargaDetails(reason="add_member", kk_number="3602141202100005"),
        delivery=pickup(),
        kecamatan_code="36.02.14",
        channel="online",
        status=RequestStatus.submitted,
        submitted_at=T0,
        updated_at=T0,
    )
    request.record(
        event_id=str(uuid.uuid4()), event_type="request.submitted.v1", stage="intake", occurred_at=T0, note="n",
        moves_to=RequestStatus.submitted,
    )  # fmt: skip
    return request


async def test_a_request_and_its_history_round_trip(engine) -> None:  # type: ignore[no-untyped-def]
    request = a_request()
    async with uow(engine) as unit:
        await unit.requests.add(request)
        await unit.commit()
    async with uow(engine) as unit:
        loaded = await unit.requests.get(request.id)
        loaded.record(
            event_id=str(uuid.uuid4()), event_type="review.started.v1", stage="review",
            occurred_at=T0 + timedelta(minutes=1), note="m", moves_to=RequestStatus.in_review,
        )  # fmt: skip
        await unit.requests.save(loaded)
        await unit.commit()
    async with uow(engine) as unit:
        stored = await unit.requests.get(request.id)
    assert stored.status == RequestStatus.in_review and stored.version == 1
    assert [entry.event_type for entry in stored.history] == ["request.submitted.v1", "review.started.v1"]
    assert stored.history[1].occurred_at == T0 + timedelta(minutes=1)
    assert stored.applicant == request.applicant and stored.delivery == request.delivery
    assert stored.details == request.details


async def test_a_request_loads_whole_in_one_round_trip_children_in_order_and_exact(engine) -> None:  # type: ignore[no-untyped-def]
    request = a_request("360214-20261128-0007")
    late = T0 + timedelta(hours=2, microseconds=120)
    early = T0 + timedelta(minutes=1, microseconds=999_999)
    quoted = 'Catatan "kutip" \\ dan ñ'
    for moment, note in ((late, quoted), (early, "")):
        request.record(
            event_id=str(uuid.uuid4()), event_type="review.note.v1", stage="review", occurred_at=moment, note=note,
            moves_to=None,
        )  # fmt: skip
    for kind, moment in (("surat_kuasa", late), ("kk_lama", early)):
        request.attach(
            Attachment(
                id=uuid.uuid4(), kind=kind, filename=f"{kind}.pdf", content_type="application/pdf", size=1234,
                sha256="b" * 64, uploaded_at=moment,
            )
        )  # fmt: skip
    followers = [a_request(f"360214-20261128-010{index}") for index in range(3)]
    async with uow(engine) as unit:
        await unit.requests.add(request)
        await unit.commit()
    async with uow(engine) as unit:
        origin = await unit.requests.get(request.id)
        for index, follower in enumerate(reversed(followers)):  # submitted oldest last
            follower.submitted_at = T0 + timedelta(days=3 - index)
            follower.follow_from(origin, event_id=str(uuid.uuid4()), now=follower.submitted_at)
            await unit.requests.add(follower)
        await unit.requests.save(origin)
        await unit.commit()

    statements: list[str] = []
    async with uow(engine) as unit:
        connection = unit.requests._connection.sync_connection  # type: ignore[attr-defined]
        event.listen(connection, "before_cursor_execute", lambda *call: statements.append(call[2]))
        loaded = await unit.requests.get(request.id)
        lonely = await unit.requests.get_by_number(followers[0].number)
    assert len(statements) == 2, "one statement a request, its children included"
    assert loaded is not None and lonely is not None
    assert [(entry.occurred_at, entry.event_type, entry.note, entry.status) for entry in loaded.history[:3]] == [
        (T0, "request.submitted.v1", "n", RequestStatus.submitted),
        (early, "review.note.v1", "", None),
        (late, "review.note.v1", quoted, None),
    ]
    assert [(entry.occurred_at, entry.event_type) for entry in loaded.history[3:]] == [
        (T0 + timedelta(days=day), "request.led_to.v1") for day in (1, 2, 3)
    ]
    assert [follower.number in entry.note for follower, entry in zip(followers, loaded.history[3:], strict=True)] == [
        True
    ] * 3
    assert loaded.history == sorted(loaded.history, key=lambda entry: entry.occurred_at)
    assert all(entry.occurred_at.tzinfo is not None for entry in loaded.history)
    assert [(item.kind, item.uploaded_at, item.size, item.sha256) for item in loaded.attachments] == [
        ("kk_lama", early, 1234, "b" * 64),
        ("surat_kuasa", late, 1234, "b" * 64),
    ]
    assert loaded.attachments == sorted(request.attachments, key=lambda item: item.uploaded_at)
    assert [link.number for link in loaded.led_to] == [follower.number for follower in followers]
    assert loaded.led_to[0].id == followers[0].id and loaded.led_to[0].type == "kartu_keluarga"
    assert lonely.follows is not None and lonely.follows.id == request.id
    assert lonely.led_to == [] and lonely.attachments == [] and len(lonely.history) == 2


async def test_a_unit_of_work_loads_a_request_once_and_each_handler_changes_that_same_object(engine) -> None:  # type: ignore[no-untyped-def]
    request = a_request()
    async with uow(engine) as unit:
        await unit.requests.add(request)
        assert await unit.requests.get(request.id) is request, "what it added is what it finds"
        await unit.commit()
    statements: list[str] = []
    async with uow(engine) as unit:
        connection = unit.requests._connection.sync_connection  # type: ignore[attr-defined]
        event.listen(connection, "before_cursor_execute", lambda *call: statements.append(call[2]))
        for minute, event_type in ((1, "shipment.status_changed.v1"), (2, "shipment.delivered.v1")):
            loaded = await unit.requests.get(request.id)
            assert loaded is not None
            loaded.record(
                event_id=str(uuid.uuid4()), event_type=event_type, stage="shipping",
                occurred_at=T0 + timedelta(minutes=minute), note="", moves_to=None,
            )  # fmt: skip
            await unit.requests.save(loaded)
        assert await unit.requests.get_by_number(request.number) is loaded
        await unit.commit()
    loads = [statement for statement in statements if statement.lstrip().upper().startswith("SELECT")]
    assert len(loads) == 2, "loaded once by id; by number, the row is read and the object in hand returned"
    async with uow(engine) as unit:
        stored = await unit.requests.get(request.id)
    assert stored is not None and stored is not loaded and stored.version == 2
    assert [entry.event_type for entry in stored.history] == [
        "request.submitted.v1",
        "shipment.status_changed.v1",
        "shipment.delivered.v1",
    ]


async def test_details_are_stored_with_their_type_and_rows_from_before_read_typed(engine) -> None:  # type: ignore[no-untyped-def]
    request = a_request()
    async with uow(engine) as unit:
        await unit.requests.add(request)
        await unit.commit()
    requests = request_tables.requests.c
    async with engine.begin() as connection:
        stored = (await connection.execute(select(requests.details).where(requests.id == str(request.id)))).scalar()
        assert stored == {"type": "kartu_keluarga", "reason": "add_member", "kk_number": "3602141202100005"}
        await connection.execute(
            update(request_tables.requests)
            .where(requests.id == str(request.id))
            .values(details={"reason": "add_member", "kk_number": "3602141202100005"})
        )
    async with uow(engine) as unit:
        loaded = await unit.requests.get(request.id)
    assert loaded.details == request.details


async def test_a_stale_copy_cannot_overwrite_a_newer_one(engine) -> None:  # type: ignore[no-untyped-def]
    request = a_request()
    async with uow(engine) as unit:
        await unit.requests.add(request)
        await unit.commit()
    async with uow(engine) as unit:
        fresh = await unit.requests.get(request.id)
    stale = copy.deepcopy(fresh)
    async with uow(engine) as unit:
        fresh.status = RequestStatus.cancelled
        await unit.requests.save(fresh)
        await unit.commit()
    async with uow(engine) as unit:
        stale.status = RequestStatus.in_review
        with pytest.raises(ConcurrentUpdate):
            await unit.requests.save(stale)
    for entries in (1, 2):  # with history, saved in the same statement as the change on PostgreSQL
        stale = copy.deepcopy(fresh)
        stale.version -= 1
        for _ in range(entries):
            stale.record(
                event_id=str(uuid.uuid4()), event_type="review.started.v1", stage="review", occurred_at=T0,
                note="stale", moves_to=RequestStatus.in_review,
            )  # fmt: skip
        async with uow(engine) as unit:
            with pytest.raises(ConcurrentUpdate):
                await unit.requests.save(stale)
            await unit.commit()
    async with uow(engine) as unit:
        stored = await unit.requests.get(request.id)
    assert stored is not None and stored.status == RequestStatus.cancelled and stored.version == 1
    assert [entry.note for entry in stored.history] == ["n"], "a refused save leaves no history behind"


async def outbox_ids(engine) -> set[str]:  # type: ignore[no-untyped-def]
    async with engine.connect() as connection:
        return set((await connection.execute(select(tables.outbox.c.id))).scalars())


async def test_a_request_and_the_events_it_announces_are_stored_together_and_a_refused_save_leaves_none(engine) -> None:  # type: ignore[no-untyped-def]
    """On PostgreSQL in the statement that stores the request (no INSERT INTO outbox of their own)."""
    request = a_request()
    statements: list[str] = []
    async with uow(engine) as unit:
        connection = unit.requests._connection.sync_connection  # type: ignore[attr-defined]
        event.listen(connection, "before_cursor_execute", lambda *call: statements.append(call[2]))
        submitted = await unit.outbox.add(RequestCancelled(request_id=request.id))
        await unit.requests.add(request)
        await unit.commit()
    stale = copy.deepcopy(request)
    async with uow(engine) as unit:
        connection = unit.requests._connection.sync_connection  # type: ignore[attr-defined]
        event.listen(connection, "before_cursor_execute", lambda *call: statements.append(call[2]))
        fresh = await unit.requests.get(request.id)
        assert fresh is not None
        fresh.record(
            event_id=str(uuid.uuid4()), event_type="request.cancelled.v1", stage="intake", occurred_at=T0,
            note="dibatalkan", moves_to=RequestStatus.cancelled,
        )  # fmt: skip
        cancelled = await unit.outbox.add(RequestCancelled(request_id=request.id))
        await unit.requests.save(fresh)
        await unit.commit()
    assert await outbox_ids(engine) == {str(submitted.id), str(cancelled.id)}
    separate = [statement for statement in statements if statement.startswith("INSERT INTO outbox")]
    assert separate == ([] if engine.dialect.name == "postgresql" else [separate[0]] * 2)

    stale.record(
        event_id=str(uuid.uuid4()), event_type="review.started.v1", stage="review", occurred_at=T0, note="stale",
        moves_to=RequestStatus.in_review,
    )  # fmt: skip
    async with uow(engine) as unit:
        await unit.outbox.add(RequestCancelled(request_id=request.id))
        with pytest.raises(ConcurrentUpdate):
            await unit.requests.save(stale)
        in_transaction = set((await unit.requests._connection.execute(select(tables.outbox.c.id))).scalars())  # type: ignore[attr-defined]
        assert in_transaction == {str(submitted.id), str(cancelled.id)}, "a refused change announces nothing"
    assert await outbox_ids(engine) == {str(submitted.id), str(cancelled.id)}


async def test_sequences_count_per_kecamatan_and_day_without_gaps_under_concurrency(engine) -> None:  # type: ignore[no-untyped-def]
    day = date(2026, 11, 28)

    async def take(kecamatan: str) -> int:
        async with uow(engine) as unit:
            number = await unit.requests.next_sequence(kecamatan, day)
            await unit.commit()
            return number

    numbers = await asyncio.gather(*(take("36.02.14") for _ in range(20)))
    assert sorted(numbers) == list(range(1, 21))
    assert await take("36.02.01") == 1
    async with uow(engine) as unit:
        assert await unit.requests.next_sequence("36.02.14", day) == 21
        # rolled back: the number is given back
    assert await take("36.02.14") == 21


async def test_listing_filters_by_status_and_type_oldest_first(engine) -> None:  # type: ignore[no-untyped-def]
    first, second = a_request("a-1"), a_request("a-2")
    second.submitted_at = T0 + timedelta(hours=1)
    second.type, second.details = "biodata_wni", BiodataWniDetails()
    async with uow(engine) as unit:
        await unit.requests.add(second)
        await unit.requests.add(first)
        await unit.commit()
    async with uow(engine) as unit:
        everything = await unit.requests.list(RequestFilter(), limit=10, offset=0)
        only_biodata = await unit.requests.list(RequestFilter(request_type="biodata_wni"), limit=10, offset=0)
        in_review = await unit.requests.list(RequestFilter(status=RequestStatus.in_review), limit=10, offset=0)
        same_day = await unit.requests.list(
            RequestFilter(kecamatan_code="36.02.14", submitted_from=T0.date(), submitted_to=T0.date()),
            limit=10,
            offset=0,
        )
        next_day = await unit.requests.list(
            RequestFilter(submitted_from=T0.date() + timedelta(days=1)), limit=10, offset=0
        )
    assert [r.number for r in everything] == ["a-1", "a-2"]
    assert [r.number for r in only_biodata] == ["a-2"] and in_review == []
    assert [r.number for r in same_day] == ["a-1", "a-2"] and next_day == []


async def test_scans_numbers_and_idempotency_keys_are_stored(engine) -> None:  # type: ignore[no-untyped-def]
    request = a_request("360214-20261128-0042")
    request.attach(
        Attachment(
            id=uuid.uuid4(), kind="kk_lama", filename="kk.pdf", content_type="application/pdf", size=10,
            sha256="a" * 64, uploaded_at=T0,
        )
    )  # fmt: skip
    async with uow(engine) as unit:
        await unit.requests.add(request)
        await unit.requests.remember_submission("key-1", IdempotentSubmission("f" * 64, request.id))
        await unit.commit()
    async with uow(engine) as unit:
        found = await unit.requests.get_by_number("360214-20261128-0042")
        remembered = await unit.requests.find_submission("key-1")
        with pytest.raises(ConcurrentUpdate):
            await unit.requests.remember_submission("key-1", IdempotentSubmission("e" * 64, request.id))
    assert found is not None and found.id == request.id
    assert [(a.kind, a.size) for a in found.attachments] == [("kk_lama", 10)]
    assert remembered == IdempotentSubmission("f" * 64, request.id)


async def test_recording_bookings_queue_per_office_and_day(engine) -> None:  # type: ignore[no-untyped-def]
    day = date(2026, 12, 7)
    async with uow(engine) as unit:
        first = await unit.bookings.next_queue_number("36.02.14", day)
        second = await unit.bookings.next_queue_number("36.02.14", day)
        other_office = await unit.bookings.next_queue_number("36.02.01", day)
        booking = RecordingBooking(
            id=uuid.uuid4(), number="REK-1", nik="3602144107900001", name="Siti", kecamatan_code="36.02.14",
            appointment_date=day, queue_number=first, created_at=T0,
        )  # fmt: skip
        await unit.bookings.add(booking)
        await unit.commit()
    assert (first, second, other_office) == (1, 2, 1)
    async with uow(engine) as unit:
        assert await unit.bookings.upcoming_for("3602144107900001", date(2026, 12, 1)) == booking
        assert await unit.bookings.upcoming_for("3602144107900001", date(2026, 12, 8)) is None
        assert await unit.bookings.get(booking.id) == booking


def a_notification(request_id: uuid.UUID, channel: Channel = Channel.sms, *, due: datetime = T0) -> Notification:
    return Notification(
        id=uuid.uuid4(), request_id=request_id, event_id=str(uuid.uuid4()), kind="received", channel=channel,
        recipient="6281234567890" if channel == Channel.sms else "siti@example.com",
        subject=None if channel == Channel.sms else "Permohonan diterima", body="Disdukcapil Lebak: diterima",
        created_at=due, next_attempt_at=due,
    )  # fmt: skip


async def test_notifications_are_claimed_when_due_leased_and_their_outcome_recorded(engine) -> None:  # type: ignore[no-untyped-def]
    request_id = uuid.uuid4()
    first, second = a_notification(request_id), a_notification(request_id, Channel.email)
    later = a_notification(request_id, due=T0 + timedelta(minutes=5))
    async with notices(engine) as unit:
        await unit.notifications.add([first, second, later])
        await unit.commit()
    lease = T0 + timedelta(minutes=2)
    async with notices(engine) as unit:
        claimed = await unit.notifications.claim_due(now=T0, until=lease, limit=10)
        await unit.commit()
    assert {n.id for n in claimed} == {first.id, second.id}
    assert all(n.attempts == 1 and n.next_attempt_at == lease for n in claimed)
    async with notices(engine) as unit:
        assert await unit.notifications.claim_due(now=T0 + timedelta(minutes=1), until=lease, limit=10) == []
    sms, email = sorted(claimed, key=lambda n: n.channel.value, reverse=True)
    sms.succeeded(T0 + timedelta(seconds=1))
    email.failed("NotificationFailed: SMTP down", T0 + timedelta(seconds=1), RetrySchedule((10,)))
    async with notices(engine) as unit:
        await unit.notifications.record(claimed)
        await unit.commit()
    async with notices(engine) as unit:
        stored = {n.id: n for n in await unit.notifications.about(request_id)}
        due_again = await unit.notifications.claim_due(now=T0 + timedelta(seconds=11), until=lease, limit=10)
    assert stored[sms.id].status == NotificationStatus.sent and stored[sms.id].sent_at == T0 + timedelta(seconds=1)
    assert stored[email.id].status == NotificationStatus.pending and stored[email.id].attempts == 1
    assert stored[email.id].last_error == "NotificationFailed: SMTP down"
    assert stored[email.id].next_attempt_at == T0 + timedelta(seconds=11)
    assert stored[later.id] == later and stored[sms.id].recipient == "6281234567890"
    assert [n.id for n in due_again] == [email.id] and due_again[0].attempts == 2


async def test_a_stale_claim_does_not_overwrite_a_newer_attempt(engine) -> None:  # type: ignore[no-untyped-def]
    notification = a_notification(uuid.uuid4())
    async with notices(engine) as unit:
        await unit.notifications.add([notification])
        await unit.commit()
    async with notices(engine) as unit:
        [stale] = await unit.notifications.claim_due(now=T0, until=T0 + timedelta(seconds=1), limit=10)
        await unit.commit()
    async with notices(engine) as unit:  # the lease ran out: another round takes it and sends it
        [fresh] = await unit.notifications.claim_due(now=T0 + timedelta(seconds=2), until=T0, limit=10)
        fresh.succeeded(T0 + timedelta(seconds=2))
        await unit.notifications.record([fresh])
        await unit.commit()
    stale.failed("late", T0 + timedelta(seconds=3), RetrySchedule())
    async with notices(engine) as unit:
        await unit.notifications.record([stale])
        await unit.commit()
    async with notices(engine) as unit:
        [stored] = await unit.notifications.about(notification.request_id)
    assert (stored.status, stored.attempts, stored.last_error) == (NotificationStatus.sent, 2, None)


async def test_one_notice_per_event_and_channel(engine) -> None:  # type: ignore[no-untyped-def]
    notification = a_notification(uuid.uuid4())
    twin = copy.copy(notification)
    twin.id = uuid.uuid4()
    async with notices(engine) as unit:
        await unit.notifications.add([notification])
        await unit.commit()
    async with notices(engine) as unit:
        with pytest.raises(IntegrityError):
            await unit.notifications.add([twin])


async def test_concurrent_rounds_never_claim_the_same_notification(engine) -> None:  # type: ignore[no-untyped-def]
    notifications = [a_notification(uuid.uuid4()) for _ in range(30)]
    async with notices(engine) as unit:
        await unit.notifications.add(notifications)
        await unit.commit()

    async def claim() -> list[uuid.UUID]:
        async with notices(engine) as unit:
            claimed = await unit.notifications.claim_due(now=T0, until=T0 + timedelta(minutes=2), limit=10)
            await unit.commit()
        return [n.id for n in claimed]

    rounds = await asyncio.gather(*(claim() for _ in range(4)))
    taken = [item for claimed in rounds for item in claimed]
    assert len(taken) == len(set(taken)) == 30
