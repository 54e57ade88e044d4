"""The office's figures over fakes: months in WIB, counts by group, stage lead times worked out by hand, the HTTP
API (who may ask, filters, bad input), and the operators' command line over it (statistics, follow)."""

import json
import uuid
from datetime import UTC, date, datetime

import httpx
import pytest
from fastapi import FastAPI

from dukcapil_intake.requests.domain.access_codes import AccessCodes
from dukcapil_intake.requests.entrypoints import http
from dukcapil_intake.statistics.domain.statistics import (
    Dimension,
    Milestone,
    Month,
    RequestMilestones,
    StatisticsFilter,
    StatisticsRefused,
    lead_times,
    parse_dimensions,
    percentile,
)
from dukcapil_intake.statistics.entrypoints import statistics as statistics_http
from dukcapil_intake.statistics.service_layer import statistics
from dukcapil_shared.auth.roles import Role
from dukcapil_shared.clock import SystemClock
from dukcapil_shared.web import install_error_handlers
from dukcapil_shared.working_days import WorkingCalendar
from dukcapil_testing import development_token, download_grants_for_tests, install_test_auth, run_ops_cli, staff_headers

from ...fakes import FakeRequestsUnitOfWork, FakeStatisticsUnitOfWork
from ...known_histories import MALINGPING, NOVEMBER_LEAD_TIMES, RANGKASBITUNG, known_requests

NOVEMBER = StatisticsFilter(first_month=Month(2026, 11), last_month=Month(2026, 11))


def uow_with_known_requests() -> FakeStatisticsUnitOfWork:
    return FakeStatisticsUnitOfWork(known_requests_uow().requests)


def known_requests_uow() -> FakeRequestsUnitOfWork:
    uow = FakeRequestsUnitOfWork()
    for request in known_requests().values():
        uow.requests.committed[request.id] = request
    return uow


# --- the rules ---


def test_a_month_is_the_offices_month_in_wib() -> None:
    assert Month.of(datetime(2026, 10, 31, 16, 59, tzinfo=UTC)) == Month(2026, 10)  # 23:59 WIB
    assert Month.of(datetime(2026, 10, 31, 17, 0, tzinfo=UTC)) == Month(2026, 11)  # midnight WIB
    assert Month(2026, 11).starts_at() == datetime(2026, 10, 31, 17, 0, tzinfo=UTC)
    assert Month(2026, 12).next() == Month(2027, 1) and str(Month(2027, 1)) == "2027-01"
    for wrong in ("2026-13", "2026-00", "26-11", "2026-1", "0001-01", "9999-12"):
        with pytest.raises(StatisticsRefused) as refused:
            Month.parse(wrong, field="query.from")
        assert refused.value.code == "invalid_month"


def test_a_month_range_admits_requests_submitted_within_it_in_wib() -> None:
    where = StatisticsFilter(first_month=Month(2026, 11), last_month=Month(2026, 11), kecamatan_code=RANGKASBITUNG)
    assert where.admits("biodata_wni", RANGKASBITUNG, datetime(2026, 10, 31, 17, 0, tzinfo=UTC))
    assert not where.admits("biodata_wni", RANGKASBITUNG, datetime(2026, 10, 31, 16, 59, tzinfo=UTC))
    assert where.admits("biodata_wni", RANGKASBITUNG, datetime(2026, 11, 30, 16, 59, tzinfo=UTC))
    assert not where.admits("biodata_wni", RANGKASBITUNG, datetime(2026, 11, 30, 17, 0, tzinfo=UTC))
    assert not where.admits("biodata_wni", MALINGPING, datetime(2026, 11, 10, tzinfo=UTC))
    with pytest.raises(StatisticsRefused) as refused:
        StatisticsFilter(first_month=Month(2026, 12), last_month=Month(2026, 11))
    assert refused.value.code == "empty_month_range"


def test_groups_are_named_once_each_and_only_known_ones() -> None:
    assert parse_dimensions("month, type,month") == (Dimension.month, Dimension.type)
    assert parse_dimensions(None) == () == parse_dimensions("")
    with pytest.raises(StatisticsRefused) as refused:
        parse_dimensions("type,colour")
    assert refused.value.field == "query.group_by" and "colour" in refused.value.message


def test_percentiles_interpolate_between_the_closest_ranks() -> None:
    assert percentile([1, 2, 3, 4], 0.5) == 2.5
    assert percentile([1, 2, 3, 4], 0.9) == pytest.approx(3.7)
    assert percentile([7], 0.9) == 7
    assert percentile([0, 10], 0) == 0 and percentile([0, 10], 1) == 10


def test_the_first_event_of_each_milestone_counts_and_clock_drift_never_gives_negative_time() -> None:
    t0 = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)
    at = lambda hours: datetime.fromtimestamp(t0.timestamp() + hours * 3600, UTC)  # noqa: E731
    request = RequestMilestones.of(
        uuid.uuid4(),
        t0,
        [
            ("review.started.v1", at(-0.0001)),  # review's clock a little behind intake's
            ("request.approved.v1", at(3)),
            ("document.issued.v1", at(9)),  # the corrected document
            ("document.issued.v1", at(4)),
            ("review.claimed.v1", at(1)),
        ],
    )
    assert request.reached[Milestone.document_issued] == at(4)
    [intake, review, documents, dispatch, *_] = lead_times([request])
    assert (intake.count, intake.mean_hours) == (1, 0.0)
    assert (review.count, review.p50_hours) == (1, pytest.approx(3.0001))
    assert (documents.count, documents.p90_hours) == (1, 1.0)
    assert (dispatch.count, dispatch.mean_hours, dispatch.p50_hours) == (0, None, None)


def test_lead_times_count_working_days_across_weekends_holidays_and_the_offices_days_off() -> None:
    # Submitted Thursday 13 August 2026, 10:00 WIB; delivered Tuesday 18 August, 10:00 WIB: 120 hours, but only
    # Friday 14 and Tuesday 18 are working days (Monday 17 is Independence Day).
    submitted = datetime(2026, 8, 13, 3, 0, tzinfo=UTC)
    delivered = datetime(2026, 8, 18, 3, 0, tzinfo=UTC)
    same_day = datetime(2026, 8, 13, 9, 0, tzinfo=UTC)
    requests = [
        RequestMilestones.of(uuid.uuid4(), submitted, [("shipment.delivered.v1", delivered)]),
        RequestMilestones.of(uuid.uuid4(), submitted, [("shipment.delivered.v1", same_day)]),
    ]
    end_to_end = next(lead for lead in lead_times(requests) if lead.stage.name == "end_to_end")
    assert (end_to_end.count, end_to_end.mean_hours) == (2, 63.0)
    assert (end_to_end.mean_working_days, end_to_end.p50_working_days, end_to_end.p90_working_days) == (1.0, 1.0, 1.8)
    office = WorkingCalendar(days_off={date(2026, 8, 14): "Cuti daerah"})
    closed_friday = next(lead for lead in lead_times(requests, office) if lead.stage.name == "end_to_end")
    assert closed_friday.mean_working_days == 0.5


# --- the use cases over the known histories ---


async def test_requests_are_counted_by_month_of_submission_in_wib() -> None:
    counts = await statistics.count_requests(StatisticsFilter(), (Dimension.month,), uow=uow_with_known_requests())
    assert counts.total == 6
    assert [(group.month, group.count) for group in counts.groups] == [("2026-10", 1), ("2026-11", 4), ("2026-12", 1)]
    assert all(group.type is None and group.status is None for group in counts.groups)


async def test_requests_are_counted_by_type_and_current_status() -> None:
    counts = await statistics.count_requests(
        StatisticsFilter(), (Dimension.type, Dimension.status), uow=uow_with_known_requests()
    )
    assert [(group.type, group.status, group.count) for group in counts.groups] == [
        ("akta_kematian", "rejected", 1),
        ("biodata_wni", "in_review", 1),
        ("kartu_keluarga", "collected", 2),
        ("kartu_keluarga", "delivered", 1),
        ("surat_pindah", "submitted", 1),
    ]


async def test_filters_narrow_the_count_and_no_groups_gives_the_total() -> None:
    uow = uow_with_known_requests()
    where = StatisticsFilter(first_month=Month(2026, 11), last_month=Month(2026, 11), kecamatan_code=RANGKASBITUNG)
    counts = await statistics.count_requests(where, (), uow=uow)
    assert counts.total == 3 and [group.count for group in counts.groups] == [3]
    by_kecamatan = await statistics.count_requests(
        StatisticsFilter(request_type="kartu_keluarga"), (Dimension.kecamatan,), uow=uow
    )
    assert [(group.kecamatan, group.count) for group in by_kecamatan.groups] == [(RANGKASBITUNG, 3)]
    nothing = await statistics.count_requests(StatisticsFilter(first_month=Month(2030, 1)), (), uow=uow)
    assert nothing.total == 0


async def test_lead_times_per_stage_over_the_november_requests() -> None:
    report = await statistics.measure_lead_times(NOVEMBER, uow=uow_with_known_requests())
    assert report.requests == 4
    measured = {
        lead.stage.name: (lead.count, lead.mean_hours, lead.p50_hours, lead.p90_hours) for lead in report.stages
    }
    assert list(measured) == ["intake", "review", "documents", "dispatch", "delivery", "end_to_end"]
    for stage, expected in NOVEMBER_LEAD_TIMES.items():
        assert measured[stage] == pytest.approx(expected), stage


async def test_lead_times_refuse_more_requests_than_they_can_measure_at_once() -> None:
    with pytest.raises(StatisticsRefused) as refused:
        await statistics.measure_lead_times(StatisticsFilter(), uow=uow_with_known_requests(), limit=5)
    assert refused.value.code == "too_many_requests" and "6 requests match" in refused.value.message


# --- HTTP ---


@pytest.fixture
async def api():  # type: ignore[no-untyped-def]
    uow = uow_with_known_requests()
    app = FastAPI()
    install_error_handlers(app)
    install_test_auth(app)
    statistics_http.install(app, unit_of_work=lambda: uow)
    headers = staff_headers(Role.SUPERVISOR, reason=None)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test", headers=headers
    ) as client:
        yield client


async def test_the_counts_answer_groups_with_names_and_the_filters_applied(api) -> None:  # type: ignore[no-untyped-def]
    answer = await api.get(
        "/statistics/requests", params={"group_by": "kecamatan,month", "from": "2026-11", "to": "2026-12"}
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["from"], body["to"], body["type"], body["kecamatan"]) == ("2026-11", "2026-12", None, None)
    assert body["group_by"] == ["kecamatan", "month"] and body["total"] == 5
    assert [(g["kecamatan"], g["kecamatan_name"], g["month"], g["count"]) for g in body["groups"]] == [
        (MALINGPING, "Malingping", "2026-11", 1),
        (MALINGPING, "Malingping", "2026-12", 1),
        (RANGKASBITUNG, "Rangkasbitung", "2026-11", 3),
    ]
    assert "Ahmad" not in answer.text and "3602141205850003" not in answer.text
    by_type = (await api.get("/statistics/requests", params={"type": "akta_kematian"})).json()
    assert by_type["total"] == 1 and by_type["groups"] == [
        {"count": 1, "type": None, "status": None, "kecamatan": None, "kecamatan_name": None, "month": None}
    ]


async def test_the_lead_times_answer_each_stage_in_hours(api) -> None:  # type: ignore[no-untyped-def]
    body = (await api.get("/statistics/lead-times", params={"from": "2026-11", "to": "2026-11"})).json()
    assert body["requests"] == 4
    stages = {stage["stage"]: stage for stage in body["stages"]}
    assert (stages["review"]["starts"], stages["review"]["ends"]) == ("review_started", "decided")
    for name, (count, mean, p50, p90) in NOVEMBER_LEAD_TIMES.items():
        assert stages[name]["count"] == count
        assert (stages[name]["mean_hours"], stages[name]["p50_hours"], stages[name]["p90_hours"]) == (
            round(mean, 3),
            p50,
            p90,
        )
    assert all(isinstance(stage["p90_working_days"], float) for stage in body["stages"] if stage["count"]), (
        "working days beside the hours"
    )
    only_d = (await api.get("/statistics/lead-times", params={"to": "2026-10"})).json()
    assert only_d["requests"] == 1
    assert [(s["stage"], s["count"], s["mean_hours"]) for s in only_d["stages"]][:2] == [
        ("intake", 1, 0.25),
        ("review", 0, None),
    ]


async def test_only_staff_with_the_statistics_scope_may_ask(api) -> None:  # type: ignore[no-untyped-def]
    for path in ("/statistics/requests", "/statistics/lead-times"):
        anonymous = await api.get(path, headers={"Authorization": ""})
        assert anonymous.status_code == 401 and anonymous.json()["error"]["code"] == "not_authenticated"
        reviewer = await api.get(path, headers=staff_headers(Role.REVIEWER))
        assert reviewer.status_code == 403 and reviewer.json()["error"]["required_scope"] == "statistics:read"
        assert (await api.get(path, headers=staff_headers(Role.ADMIN))).status_code == 200


async def test_a_kecamatan_operator_sees_their_own_kecamatans_figures_only(api) -> None:  # type: ignore[no-untyped-def]
    operator = staff_headers(Role.KECAMATAN_OPERATOR, kecamatan=MALINGPING)
    own = (await api.get("/statistics/requests", params={"group_by": "kecamatan"}, headers=operator)).json()
    assert own["kecamatan"] == MALINGPING and own["total"] == 2
    assert [group["kecamatan"] for group in own["groups"]] == [MALINGPING]
    lead = (await api.get("/statistics/lead-times", headers=operator)).json()
    assert lead["kecamatan"] == MALINGPING and lead["requests"] == 2
    other = await api.get("/statistics/requests", params={"kecamatan": RANGKASBITUNG}, headers=operator)
    assert other.status_code == 403 and other.json()["error"]["code"] == "outside_your_kecamatan"


@pytest.mark.parametrize(
    ("path", "params", "field", "code"),
    [
        ("/statistics/requests", {"group_by": "type,colour"}, "query.group_by", "unknown_group"),
        ("/statistics/requests", {"from": "2026-13"}, "query.from", "invalid_month"),
        ("/statistics/requests", {"from": "November"}, "query.from", "string_pattern_mismatch"),
        ("/statistics/lead-times", {"from": "2026-12", "to": "2026-11"}, "query.from", "empty_month_range"),
        ("/statistics/lead-times", {"type": "paspor"}, "query.type", "enum"),
        ("/statistics/lead-times", {"kecamatan": "36.2.14"}, "query.kecamatan", "string_pattern_mismatch"),
    ],
)
async def test_bad_questions_get_422_in_the_projects_error_format(api, path, params, field, code) -> None:  # type: ignore[no-untyped-def]
    answer = await api.get(path, params=params)
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["code"] == "invalid_request" and error["message"]
    assert [(detail["field"], detail["code"]) for detail in error["details"]] == [(field, code)]


# --- the operators' command line, against this API ---


@pytest.fixture
def intake_app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    uow = known_requests_uow()
    app.state.access_log = install_test_auth(app)
    app.state.clock = SystemClock()
    http.install(
        app,
        unit_of_work=lambda: uow,
        notifications=lambda: uow.notices,
        access_codes=AccessCodes(b"access-code-key-for-the-tests"),
        download_grants=download_grants_for_tests(),
    )
    statistics_http.install(app, unit_of_work=lambda: FakeStatisticsUnitOfWork(uow.requests))
    return app


def as_supervisor(**more: str) -> dict[str, str]:
    token = development_token(Role.SUPERVISOR, username="sari")
    return {"DUKCAPIL_INTAKE_URL": "http://intake.test", "DUKCAPIL_TOKEN": token, **more}


async def test_the_command_line_counts_requests_in_a_table_or_as_json(intake_app: FastAPI) -> None:
    apps = {"http://intake.test": intake_app}
    argv = ("statistics", "requests", "--group-by", "kecamatan,type", "--from", "2026-11", "--to", "2026-11")
    status, printed, _ = await run_ops_cli(apps, *argv, environ=as_supervisor())
    assert status == 0, printed
    lines = [line.split() for line in printed.splitlines()]
    assert lines[0] == ["KECAMATAN", "TYPE", "REQUESTS"]
    assert lines[1:3] == [
        ["36.02.01", "Malingping", "akta_kematian", "1"],
        ["36.02.14", "Rangkasbitung", "kartu_keluarga", "3"],
    ]
    assert printed.splitlines()[-1] == "Total: 4 requests (from 2026-11, to 2026-11)."
    status, as_json, _ = await run_ops_cli(apps, *argv, "--json", environ=as_supervisor())
    assert json.loads(as_json)["groups"][1] == {
        "count": 3,
        "type": "kartu_keluarga",
        "status": None,
        "kecamatan": RANGKASBITUNG,
        "kecamatan_name": "Rangkasbitung",
        "month": None,
    }
    status, _, err = await run_ops_cli(apps, "statistics", "requests", "--group-by", "colour", environ=as_supervisor())
    assert status == 1 and "422 invalid_request" in err and "query.group_by" in err


async def test_the_command_line_shows_lead_times_per_stage(intake_app: FastAPI) -> None:
    apps = {"http://intake.test": intake_app}
    status, printed, _ = await run_ops_cli(
        apps, "statistics", "lead-times", "--from", "2026-11", "--to", "2026-11", environ=as_supervisor()
    )
    assert status == 0, printed
    rows = {line.split()[0]: line for line in printed.splitlines()[1:-1]}
    assert list(rows) == ["intake", "review", "documents", "dispatch", "delivery", "end_to_end"]
    # stage, from → to, requests, mean, median, p90
    assert rows["intake"].split()[3:] == ["review_started", "4", "1.1", "h", "1.0", "h", "1.7", "h"]
    assert rows["end_to_end"].split()[3:] == ["handed_over", "3", "2.1", "d", "2.3", "d", "2.5", "d"]
    assert printed.splitlines()[-1] == "Over 4 requests submitted (from 2026-11, to 2026-11)."


async def test_the_command_line_follows_a_request_with_a_reason_on_record(intake_app: FastAPI) -> None:
    apps = {"http://intake.test": intake_app}
    request = next(
        r
        for r in intake_app.state.requests_unit_of_work().requests.committed.values()
        if r.number.endswith("1101-0001")
    )
    status, printed, _ = await run_ops_cli(
        apps, "follow", str(request.id), "--reason", "citizen asked at the counter", environ=as_supervisor()
    )
    assert status == 0, printed
    assert printed.splitlines()[0].split() == ["360214-20261101-0001", "kartu_keluarga", "delivered"]
    assert "submitted 2026-11-01 01:00 WIB" in printed
    history = [line.split()[:5] for line in printed.splitlines() if line.startswith("2026-")]
    assert history[0] == ["2026-11-01", "01:00", "intake", "submitted", "request.submitted.v1"]
    assert history[-1] == ["2026-11-02", "14:00", "shipping", "delivered", "shipment.delivered.v1"]
    [access] = intake_app.state.access_log.records
    assert (access.username, access.reason) == ("sari", "citizen asked at the counter")

    status, _, err = await run_ops_cli(apps, "follow", str(request.id), environ=as_supervisor())
    assert status == 2 and "--reason" in err
    operator = as_supervisor(DUKCAPIL_TOKEN=development_token(Role.KECAMATAN_OPERATOR, kecamatan=MALINGPING))
    status, _, err = await run_ops_cli(apps, "follow", str(request.id), "--reason", "curious", environ=operator)
    assert status == 1 and "404 not_found" in err
