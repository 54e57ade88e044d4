"""The retention job and the export of one person's data, in SQL on SQLite and PostgreSQL migrated by intake's own
scripts: what has expired goes (scans' files with their rows), what has not stays; the export finds a person named
anywhere in a request, for a supervisor who says why, and the access is recorded without the NIK."""

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, insert, select

from dukcapil_intake import tables
from dukcapil_intake.agencies.adapters.tables import identified_public_events, public_events
from dukcapil_intake.notifications.adapters.tables import notifications
from dukcapil_intake.personal_data.adapters.unit_of_work import SqlPersonalDataUnitOfWork
from dukcapil_intake.personal_data.domain.retention import DataKind, RetentionPolicy
from dukcapil_intake.personal_data.entrypoints import http as personal_data_http
from dukcapil_intake.personal_data.service_layer.retention import purge_expired
from dukcapil_intake.requests.adapters.tables import attachments, request_history, requests
from dukcapil_shared.auth.roles import Role
from dukcapil_shared.files import DirectoryFileStore
from dukcapil_shared.web import install_error_handlers
from dukcapil_testing import install_test_auth, staff_headers
from dukcapil_testing.fakes import FixedClock

pytestmark = pytest.mark.integration

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
APPLICANT_NIK = "3602141205850003"
MEMBER_NIK = "3602145003240001"
POLICY = RetentionPolicy.of({"scans": 90, "notices": 365, "public_events": 180})


def unit_of_work(engine) -> SqlPersonalDataUnitOfWork:  # type: ignore[no-untyped-def]
    return SqlPersonalDataUnitOfWork(engine, outbox_table=tables.outbox, inbox_table=tables.inbox, source="/test")


async def _request(connection, *, status: str, updated: datetime, applicant_nik: str = APPLICANT_NIK) -> str:  # type: ignore[no-untyped-def]
    request_id = str(uuid.uuid4())
    await connection.execute(
        insert(requests).values(
            id=request_id,
            number=f"360214-20261203-{uuid.uuid4().hex[:4]}",
            type="kartu_keluarga",
            status=status,
            applicant={"nik": applicant_nik, "name": "Ahmad Fauzi", "birth_date": "1985-05-12", "sex": "male"},
            details={"reason": "add_member", "members": [{"nik": MEMBER_NIK, "name": "Nur Aisyah"}]},
            delivery={"method": "pickup", "pickup_kecamatan_code": "36.02.14"},
            kecamatan_code="36.02.14",
            channel="online",
            submitted_at=updated - timedelta(days=5),
            updated_at=updated,
            version=1,
            flags=[],
            required_attachments=[],
        )
    )
    await connection.execute(
        insert(request_history).values(
            request_id=request_id,
            event_id=str(uuid.uuid4()),
            event_type="request.submitted.v1",
            stage="intake",
            status="submitted",
            occurred_at=updated - timedelta(days=5),
            note="Permohonan diterima",
        )
    )
    return request_id


async def _scan(connection, files: Path, request_id: str) -> str:  # type: ignore[no-untyped-def]
    scan_id = str(uuid.uuid4())
    await connection.execute(
        insert(attachments).values(
            id=scan_id,
            request_id=request_id,
            kind="kartu_keluarga_lama",
            filename="kk.pdf",
            content_type="application/pdf",
            size=9,
            sha256="0" * 64,
            uploaded_at=NOW - timedelta(days=200),
        )
    )
    (files / scan_id).write_bytes(b"%PDF-scan")
    return scan_id


async def _notice(connection, request_id: str, created: datetime, status: str = "sent") -> None:  # type: ignore[no-untyped-def]
    await connection.execute(
        insert(notifications).values(
            id=str(uuid.uuid4()),
            request_id=request_id,
            event_id=str(uuid.uuid4()),
            kind="received",
            channel="sms",
            recipient="081234567890",
            body="Permohonan Anda diterima",
            status=status,
            attempts=1,
            created_at=created,
            next_attempt_at=created,
            sent_at=created if status == "sent" else None,
        )
    )


async def _public_event(connection, table, created: datetime, *, published: bool = True) -> None:  # type: ignore[no-untyped-def]
    await connection.execute(
        insert(table).values(
            id=str(uuid.uuid4()),
            routing_key="family_card.issued.v1.36.02.14",
            subject="KK-1",
            body="{}",
            event_type="family_card.issued.v1",
            region_code="36.02.14",
            request_id=str(uuid.uuid4()),
            occurred_at=created,
            created_at=created,
            attempts=0,
            next_attempt_at=created,
            published_at=created if published else None,
        )
    )


async def _count(engine, table) -> int:  # type: ignore[no-untyped-def]
    async with engine.connect() as connection:
        return (await connection.execute(select(func.count()).select_from(table))).scalar_one()


async def test_a_round_purges_what_expired_and_keeps_the_rest(engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    files = tmp_path / "attachments"
    files.mkdir()
    async with engine.begin() as connection:
        ended_long_ago = await _request(connection, status="delivered", updated=NOW - timedelta(days=91))
        ended_lately = await _request(connection, status="collected", updated=NOW - timedelta(days=89))
        still_open = await _request(connection, status="in_review", updated=NOW - timedelta(days=400))
        expired_scan = await _scan(connection, files, ended_long_ago)
        kept_scans = [await _scan(connection, files, ended_lately), await _scan(connection, files, still_open)]
        await _notice(connection, ended_long_ago, NOW - timedelta(days=366))
        await _notice(connection, ended_long_ago, NOW - timedelta(days=366), status="pending")
        await _notice(connection, ended_lately, NOW - timedelta(days=10))
        for log in (public_events, identified_public_events):
            await _public_event(connection, log, NOW - timedelta(days=181))
            await _public_event(connection, log, NOW - timedelta(days=181), published=False)
            await _public_event(connection, log, NOW - timedelta(days=1))

    store, clock = DirectoryFileStore(files), FixedClock(NOW)
    purged = await purge_expired(unit_of_work=lambda: unit_of_work(engine), files=store, policy=POLICY, clock=clock)

    assert purged == {DataKind.scans: 1, DataKind.notices: 1, DataKind.public_events: 2}
    assert not (files / expired_scan).exists()
    assert all((files / kept).exists() for kept in kept_scans)
    assert await _count(engine, attachments) == 2
    assert await _count(engine, notifications) == 2, "a notice not yet sent stays, whatever its age"
    assert await _count(engine, public_events) == 2, "an event not yet published stays"
    again = await purge_expired(unit_of_work=lambda: unit_of_work(engine), files=store, policy=POLICY, clock=clock)
    assert not any(again.values())


@pytest.fixture
async def api(engine):  # type: ignore[no-untyped-def]
    app = FastAPI()
    install_error_handlers(app)
    access_log = install_test_auth(app)
    personal_data_http.install(app, unit_of_work=lambda: unit_of_work(engine))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://intake") as client:
        yield client, access_log


async def test_a_supervisor_exports_everything_held_about_one_nik_and_the_access_is_recorded_without_it(
    api, engine
) -> None:  # type: ignore[no-untyped-def]
    client, access_log = api
    async with engine.begin() as connection:
        as_applicant = await _request(connection, status="delivered", updated=NOW)
        as_member = await _request(connection, status="in_review", updated=NOW, applicant_nik="3602144107900001")
        someone_else = await _request(connection, status="in_review", updated=NOW, applicant_nik="3602031503920007")
        await connection.execute(
            requests.update().where(requests.c.id == someone_else).values(details={"reason": "split"})
        )
        await _notice(connection, as_applicant, NOW)

    headers = staff_headers(Role.SUPERVISOR, username="sri", reason="the applicant asked at the counter (UU 27/2022)")
    response = await client.post("/people/export", json={"nik": APPLICANT_NIK}, headers=headers)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    assert [each["id"] for each in found["requests"]] == [as_applicant]
    [request] = found["requests"]
    assert request["named_as"] == "applicant" and request["history"][0]["event_type"] == "request.submitted.v1"
    assert request["notices"][0]["recipient"] == "081234567890"

    member = (await client.post("/people/export", json={"nik": MEMBER_NIK}, headers=headers)).json()
    assert {each["id"] for each in member["requests"]} == {as_applicant, as_member}
    assert {each["named_as"] for each in member["requests"]} == {"in_details"}

    recorded = [record for record in access_log.records if record.username == "sri"]
    assert recorded and all(record.scope == "personal_data:export" for record in recorded)
    assert any(as_applicant in record.path for record in recorded), "the access names the requests it opened"
    assert not any(APPLICANT_NIK in record.path or MEMBER_NIK in record.path for record in recorded)


async def test_the_export_needs_its_scope_a_reason_and_a_well_formed_nik(api) -> None:  # type: ignore[no-untyped-def]
    client, access_log = api
    body = {"nik": APPLICANT_NIK}
    assert (await client.post("/people/export", json=body)).status_code == 401
    for role in (Role.REVIEWER, Role.ADMIN, Role.KECAMATAN_OPERATOR):
        refused = await client.post("/people/export", json=body, headers=staff_headers(role, reason="asked"))
        assert refused.status_code == 403, role
    no_reason = await client.post("/people/export", json=body, headers=staff_headers(Role.SUPERVISOR, reason=None))
    assert no_reason.status_code == 400 and no_reason.json()["error"]["code"] == "access_reason_required"
    malformed = await client.post(
        "/people/export", json={"nik": "36021412"}, headers=staff_headers(Role.SUPERVISOR, reason="asked")
    )
    assert malformed.status_code == 422
    # The attempt is on record (the reason is checked and recorded before the body), but nothing was opened.
    assert [record.path for record in access_log.records] == ["/people/export"]
