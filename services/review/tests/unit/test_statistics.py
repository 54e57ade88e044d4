"""Overdue reviews, the office's figure that review owns: counted per type and kecamatan against the due dates,
over fakes, through the HTTP API (who may ask, filters, bad input) and the operators' command line."""

import json
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI

from dukcapil_review.domain.model import Review, ReviewPolicy, ReviewStatus
from dukcapil_review.entrypoints import statistics as statistics_http
from dukcapil_review.service_layer import handlers
from dukcapil_shared.auth.roles import Role
from dukcapil_shared.contracts import Delivery, Person
from dukcapil_shared.web import install_error_handlers
from dukcapil_testing import development_token, install_test_auth, run_ops_cli, staff_headers

from ..fakes import FakeReviewUnitOfWork, details_of

T0 = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
NOW = T0 + timedelta(hours=80)
RANGKASBITUNG, MALINGPING = "36.02.14", "36.02.01"
POLICY = ReviewPolicy()  # kartu_keluarga 3 working days, biodata_wni 1; T0 is a Monday


def a_review(request_type: str, kecamatan: str, received_after_hours: float, status: ReviewStatus) -> Review:
    received_at = T0 + timedelta(hours=received_after_hours)
    return Review(
        request_id=uuid.uuid4(), request_number="360214-20261130-0001", request_type=request_type,
        applicant=Person(nik="3602141205850003", name="Ahmad Fauzi"), details=details_of(request_type),
        delivery=Delivery(method="pickup"),
        kecamatan_code=kecamatan, status=status, received_at=received_at, updated_at=received_at,
        due_at=POLICY.due_at(request_type, received_at),
    )  # fmt: skip


def known_queue() -> list[Review]:
    """At NOW (T0 + 80 h), with each due date beside it."""
    return [
        a_review("kartu_keluarga", RANGKASBITUNG, 0, ReviewStatus.pending),  # due +72: 8 h overdue
        a_review("kartu_keluarga", RANGKASBITUNG, 50, ReviewStatus.pending),  # due +122
        a_review("biodata_wni", RANGKASBITUNG, 0, ReviewStatus.pending),  # due +24: 56 h overdue
        a_review("biodata_wni", MALINGPING, 0, ReviewStatus.info_requested),  # waits for the citizen: not counted
        a_review("kartu_keluarga", MALINGPING, 1, ReviewStatus.approved),  # decided: not counted
        a_review("kartu_keluarga", MALINGPING, 10, ReviewStatus.pending),  # due +82: not yet
    ]


# (type, kecamatan, pending, overdue, hours from T0 to the earliest due date)
EXPECTED = [
    ("biodata_wni", RANGKASBITUNG, 1, 1, 24),
    ("kartu_keluarga", MALINGPING, 1, 0, 82),
    ("kartu_keluarga", RANGKASBITUNG, 2, 1, 72),
]


def uow_with_known_queue() -> FakeReviewUnitOfWork:
    uow = FakeReviewUnitOfWork()
    for review in known_queue():
        uow.reviews.committed[review.request_id] = review
    return uow


def as_rows(groups) -> list[tuple]:  # type: ignore[no-untyped-def]
    return [
        (g.request_type, g.kecamatan_code, g.pending, g.overdue, (g.earliest_due_at - T0) / timedelta(hours=1))
        for g in groups
    ]


async def test_pending_reviews_past_their_due_date_are_counted_per_type_and_kecamatan() -> None:
    uow = uow_with_known_queue()
    found = await handlers.count_overdue(now=NOW, request_type=None, kecamatan_code=None, uow=uow)
    assert as_rows(found) == EXPECTED
    only_kk = await handlers.count_overdue(now=NOW, request_type="kartu_keluarga", kecamatan_code=MALINGPING, uow=uow)
    assert as_rows(only_kk) == [EXPECTED[1]]
    later = await handlers.count_overdue(now=T0 + timedelta(hours=83), request_type=None, kecamatan_code=None, uow=uow)
    assert [g.overdue for g in later] == [1, 1, 1]


@pytest.fixture
def review_app() -> FastAPI:
    uow = uow_with_known_queue()
    app = FastAPI()
    install_error_handlers(app)
    app.state.unit_of_work = lambda: uow
    app.state.policy = POLICY
    app.state.clock = lambda: NOW
    install_test_auth(app)
    statistics_http.install(app)
    return app


@pytest.fixture
async def api(review_app: FastAPI):  # type: ignore[no-untyped-def]
    headers = staff_headers(Role.SUPERVISOR, reason=None)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=review_app), base_url="http://test", headers=headers
    ) as client:
        yield client


GROUP_FIELDS = (
    "type",
    "kecamatan",
    "kecamatan_name",
    "pending",
    "overdue",
    "longest_overdue_hours",
    "longest_overdue_working_days",
)


async def test_the_api_answers_totals_groups_and_the_targets(api) -> None:  # type: ignore[no-untyped-def]
    answer = await api.get("/statistics/overdue")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["pending"], body["overdue"], body["type"], body["kecamatan"]) == (4, 2, None, None)
    assert body["as_of"].startswith("2026-12-03T16:00:00")
    assert body["sla_working_days"]["kartu_keluarga"] == 3 and body["sla_working_days"]["biodata_wni"] == 1
    assert [tuple(g[key] for key in GROUP_FIELDS) for g in body["groups"]] == [
        # Due on Tuesday 15:00 WIB, asked on Thursday 23:00 WIB: Wednesday and Thursday began since.
        ("biodata_wni", RANGKASBITUNG, "Rangkasbitung", 1, 1, 56.0, 2),
        ("kartu_keluarga", MALINGPING, "Malingping", 1, 0, None, None),
        ("kartu_keluarga", RANGKASBITUNG, "Rangkasbitung", 2, 1, 8.0, 0),
    ]
    assert "Ahmad" not in answer.text and "3602141205850003" not in answer.text
    filtered = (await api.get("/statistics/overdue", params={"type": "biodata_wni"})).json()
    assert (filtered["type"], filtered["pending"], filtered["overdue"]) == ("biodata_wni", 1, 1)


async def test_only_staff_with_the_statistics_scope_may_ask_and_an_operator_sees_their_kecamatan(api) -> None:  # type: ignore[no-untyped-def]
    anonymous = await api.get("/statistics/overdue", headers={"Authorization": ""})
    assert anonymous.status_code == 401
    reviewer = await api.get("/statistics/overdue", headers=staff_headers(Role.REVIEWER))
    assert reviewer.status_code == 403 and reviewer.json()["error"]["code"] == "insufficient_scope"
    operator = staff_headers(Role.KECAMATAN_OPERATOR, kecamatan=MALINGPING)
    own = (await api.get("/statistics/overdue", headers=operator)).json()
    assert own["kecamatan"] == MALINGPING and [g["kecamatan"] for g in own["groups"]] == [MALINGPING]
    other = await api.get("/statistics/overdue", params={"kecamatan": RANGKASBITUNG}, headers=operator)
    assert other.status_code == 403 and other.json()["error"]["code"] == "outside_your_kecamatan"


@pytest.mark.parametrize(
    ("params", "field"), [({"type": "paspor"}, "query.type"), ({"kecamatan": "Rangkasbitung"}, "query.kecamatan")]
)
async def test_bad_filters_get_422_in_the_projects_error_format(api, params, field) -> None:  # type: ignore[no-untyped-def]
    answer = await api.get("/statistics/overdue", params=params)
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["code"] == "invalid_request" and [d["field"] for d in error["details"]] == [field]


async def test_the_command_line_shows_overdue_reviews_per_type_and_kecamatan(review_app: FastAPI) -> None:
    app = review_app
    environ = {
        "DUKCAPIL_REVIEW_URL": "http://review.test",
        "DUKCAPIL_TOKEN": development_token(Role.SUPERVISOR, username="sari"),
    }
    status, printed, _ = await run_ops_cli({"http://review.test": app}, "statistics", "overdue", environ=environ)
    assert status == 0, printed
    lines = [line.split() for line in printed.splitlines()]
    assert lines[0] == ["TYPE", "KECAMATAN", "PENDING", "OVERDUE", "LONGEST", "OVERDUE", "TARGET"]
    assert [" ".join(line) for line in lines[1:4]] == [
        "biodata_wni 36.02.14 Rangkasbitung 1 1 2.3 d (2 working days) 1 working day",
        "kartu_keluarga 36.02.01 Malingping 1 0 - 3 working days",
        "kartu_keluarga 36.02.14 Rangkasbitung 2 1 8.0 h (0 working days) 3 working days",
    ]
    assert printed.splitlines()[-1] == "2 of 4 pending reviews past their due date at 2026-12-03 23:00 WIB."
    status, as_json, _ = await run_ops_cli(
        {"http://review.test": app}, "statistics", "overdue", "--type", "biodata_wni", "--json", environ=environ
    )
    assert (json.loads(as_json)["overdue"], json.loads(as_json)["type"]) == (1, "biodata_wni")
