"""Agencies: entitlements checked, the broker access they lead to, onboarding that is all or nothing, offboarding,
replays of a time range, and the command line's output and errors. The broker is a fake here; the real RabbitMQ
is in tests/integration/test_agencies_broker.py."""

import io
import json
import re
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dukcapil_intake.agencies import cli as agency_cli
from dukcapil_intake.agencies.domain.agencies import Agency, AgencyRefused
from dukcapil_intake.agencies.domain.public_events import LoggedPublicEvent, PublicEventRecord
from dukcapil_intake.agencies.service_layer import agencies
from dukcapil_intake.agencies.service_layer.agencies import BrokerAdmin, BrokerAdminFailed, QueueDelivery, QueueState
from dukcapil_intake.agencies.service_layer.repository import AgencyExists
from dukcapil_intake.settings import IntakeSettings
from dukcapil_shared.contracts.public import DeathRegistered, FamilyCardIssued
from dukcapil_shared.contracts.regions import WIB

from ...fakes import FakeAgenciesUnitOfWork

T0 = datetime(2026, 11, 28, 1, 0, tzinfo=UTC)


class FakeBrokerAdmin(BrokerAdmin):
    def __init__(self) -> None:
        self.users: dict[str, str] = {}
        self.permissions: dict[str, tuple[str, str, str]] = {}
        self.topic_permissions: dict[tuple[str, str], tuple[str, str]] = {}
        self.exchanges: set[str] = set()
        self.queues: dict[str, dict[str, Any]] = {}
        self.bindings: set[tuple[str, str, str]] = set()
        self.connections: dict[str, int] = {}
        self.failing: str | None = None
        """A method that raises, as the management API would when it refuses."""

    def _maybe_fail(self, method: str) -> None:
        if method == self.failing:
            raise BrokerAdminFailed(f"RabbitMQ refused {method}")

    async def user_exists(self, user: str) -> bool:
        return user in self.users

    async def create_user(self, user: str, password: str) -> None:
        self._maybe_fail("create_user")
        self.users[user] = password

    async def delete_user(self, user: str) -> None:
        self.users.pop(user, None)
        self.permissions.pop(user, None)
        self.topic_permissions = {key: value for key, value in self.topic_permissions.items() if key[0] != user}

    async def set_permissions(self, user: str, *, configure: str, write: str, read: str) -> None:
        self._maybe_fail("set_permissions")
        self.permissions[user] = (configure, write, read)

    async def set_topic_permissions(self, user: str, *, exchange: str, write: str, read: str) -> None:
        self._maybe_fail("set_topic_permissions")
        self.topic_permissions[(user, exchange)] = (write, read)

    async def declare_topic_exchange(self, name: str) -> None:
        self.exchanges.add(name)

    async def declare_queue(self, name: str, arguments: dict[str, Any]) -> None:
        self._maybe_fail("declare_queue")
        self.queues[name] = arguments

    async def bind_queue(self, *, queue: str, exchange: str, binding_key: str) -> None:
        self._maybe_fail("bind_queue")
        assert queue in self.queues and exchange in self.exchanges
        self.bindings.add((exchange, queue, binding_key))

    async def delete_queue(self, name: str) -> None:
        self.queues.pop(name, None)
        self.bindings = {binding for binding in self.bindings if binding[1] != name}

    async def close_connections(self, user: str, reason: str) -> int:
        return self.connections.pop(user, 0)

    async def queue_state(self, name: str) -> QueueState | None:
        return QueueState(messages=3, consumers=1) if name in self.queues else None


class FakeQueueDelivery(QueueDelivery):
    def __init__(self) -> None:
        self.delivered: list[tuple[str, list[LoggedPublicEvent]]] = []

    async def deliver(self, queue: str, events: Sequence[LoggedPublicEvent]) -> None:
        self.delivered.append((queue, list(events)))


def onboarding(name: str = "bpjs", **changes: Any) -> agencies.OnboardAgency:
    fields = {
        "name": name,
        "event_types": ["death.registered.v1"],
        "region_prefixes": ["36.02"],
        "identified": False,
        "by": "rina",
    } | changes
    return agencies.OnboardAgency(**fields)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"name": "BPJS"}, "cannot name an agency"),
        ({"name": "bpjs.kesehatan"}, "cannot name an agency"),
        ({"name": "b"}, "cannot name an agency"),
        ({"event_types": ["death.registered.v2"]}, "unknown event type death.registered.v2"),
        ({"event_types": ["request.submitted.v1"]}, "the public events are death.registered.v1"),
        ({"event_types": []}, "at least one event type"),
        ({"region_prefixes": ["36.2"]}, "'36.2' is no region prefix"),
        ({"region_prefixes": ["36.02.*"]}, "is no region prefix"),
        ({"region_prefixes": ["36.02.14.2001"]}, "a village code is too fine"),
        ({"region_prefixes": ["36.99"]}, "36.99 is no region code"),
        ({"region_prefixes": ["32.01"]}, "outside Kabupaten Lebak"),
        ({"region_prefixes": []}, "at least one region prefix"),
    ],
)
def test_entitlements_are_checked_with_a_message_that_says_what_to_change(changes: dict, message: str) -> None:
    command = onboarding(**changes)
    with pytest.raises(AgencyRefused, match=re.escape(message)):
        Agency.entitle(
            name=command.name,
            event_types=command.event_types,
            region_prefixes=command.region_prefixes,
            identified=False,
            by="rina",
            now=T0,
        )


def an_agency(**changes: Any) -> Agency:
    fields = {
        "name": "bpjs",
        "event_types": ("death.registered.v1", "residence.moved.v1"),
        "region_prefixes": ("36.02.14", "36.02.03"),
        "identified": False,
        "onboarded_at": T0,
        "onboarded_by": "rina",
    } | changes
    return Agency(**fields)


def test_the_broker_access_is_read_only_on_its_own_queues_and_bound_to_its_entitlements() -> None:
    agency = an_agency()
    access = agency.broker_access()
    assert access.user == "agency-bpjs"
    assert (access.permissions.configure, access.permissions.write) == ("^$", "^$")
    own = re.compile(access.permissions.read)
    assert own.match("agency.bpjs.events") and own.match("agency.bpjs.dead")
    for other in (
        "agency.bpjs-x.events",
        "agency.bpjsx.events",
        "agency.bpjs.events2",
        "dukcapil.intake.lifecycle",
        "",
    ):
        assert not own.match(other), other
    assert {binding.binding_key for binding in access.bindings} == {
        "death.registered.v1.36.02.14.#",
        "death.registered.v1.36.02.03.#",
        "residence.moved.v1.36.02.14.#",
        "residence.moved.v1.36.02.03.#",
    }
    assert {binding.exchange for binding in access.bindings} == {"dukcapil.public"}
    topics = {topic.exchange: topic for topic in access.topic_permissions}
    assert set(topics) == {"dukcapil.events", "dukcapil.public", "dukcapil.public.identified"}
    assert {topic.write for topic in topics.values()} == {"^$"}
    assert topics["dukcapil.events"].read == topics["dukcapil.public.identified"].read == "^$"
    entitled = re.compile(topics["dukcapil.public"].read)
    for key in ("death.registered.v1.36.02.14.#", "death.registered.v1.36.02.14", "residence.moved.v1.36.02.03.*"):
        assert entitled.match(key), key
    for key in ("death.registered.v1.#", "death.registered.v1.36.02.#", "death.registered.v1.36.02.15.#", "#"):
        assert not entitled.match(key), key
    [events_queue, dead] = access.queues
    assert events_queue.arguments["x-dead-letter-routing-key"] == dead.name == "agency.bpjs.dead"
    assert events_queue.arguments["x-queue-type"] == dead.arguments["x-queue-type"] == "quorum"


def test_an_identified_agency_is_bound_to_the_identified_exchange_only() -> None:
    access = an_agency(identified=True).broker_access()
    assert {binding.exchange for binding in access.bindings} == {"dukcapil.public.identified"}
    topics = {topic.exchange: topic.read for topic in access.topic_permissions}
    assert topics["dukcapil.public"] == "^$" and topics["dukcapil.public.identified"] != "^$"


def test_an_agency_is_entitled_to_its_types_within_its_regions() -> None:
    agency = an_agency(region_prefixes=("36.02.14",))
    assert agency.entitled_to("death.registered.v1", "36.02.14")
    assert not agency.entitled_to("death.registered.v1", "36.02.15")
    assert not agency.entitled_to("family_card.issued.v1", "36.02.14")
    assert an_agency(region_prefixes=("36",)).entitled_to("death.registered.v1", "36.02.28")
    assert not an_agency(region_prefixes=("36.02.1",)).entitled_to("death.registered.v1", "36.02.14")


async def test_onboarding_creates_the_user_queues_and_bindings_and_records_the_agency() -> None:
    uow, broker = FakeAgenciesUnitOfWork(), FakeBrokerAdmin()
    onboarded = await agencies.onboard_agency(
        onboarding(event_types=["death.registered.v1", "document.revoked.v1"]), uow=uow, broker=broker
    )
    agency = onboarded.agency
    assert broker.users == {"agency-bpjs": onboarded.password}
    assert len(onboarded.password) >= 32
    assert broker.permissions["agency-bpjs"] == ("^$", "^$", r"^agency\.bpjs\.(events|dead)$")
    assert set(broker.queues) == {"agency.bpjs.events", "agency.bpjs.dead"}
    assert broker.bindings == {
        ("dukcapil.public", "agency.bpjs.events", "death.registered.v1.36.02.#"),
        ("dukcapil.public", "agency.bpjs.events", "document.revoked.v1.36.02.#"),
    }
    assert broker.exchanges == {"dukcapil.public", "dukcapil.public.identified"}
    assert uow.agencies.committed == {"bpjs": agency}
    assert (agency.onboarded_by, agency.identified) == ("rina", False)


async def test_an_agency_cannot_be_onboarded_twice_nor_over_a_leftover_broker_user() -> None:
    uow, broker = FakeAgenciesUnitOfWork(), FakeBrokerAdmin()
    first = await agencies.onboard_agency(onboarding(), uow=uow, broker=broker)
    with pytest.raises(AgencyExists, match="an agency named bpjs exists already"):
        await agencies.onboard_agency(onboarding(), uow=uow, broker=FakeBrokerAdmin())
    with pytest.raises(AgencyExists, match="the broker already has a user agency-bpjs"):
        await agencies.onboard_agency(onboarding(), uow=FakeAgenciesUnitOfWork(), broker=broker)
    assert broker.users == {"agency-bpjs": first.password}, "the first agency's password is untouched"
    assert uow.agencies.committed == {"bpjs": first.agency}


@pytest.mark.parametrize(
    "failing", ["declare_queue", "bind_queue", "create_user", "set_permissions", "set_topic_permissions"]
)
async def test_a_failed_onboarding_leaves_nothing_behind(failing: str) -> None:
    uow, broker = FakeAgenciesUnitOfWork(), FakeBrokerAdmin()
    broker.failing = failing
    with pytest.raises(BrokerAdminFailed):
        await agencies.onboard_agency(onboarding(), uow=uow, broker=broker)
    assert (broker.users, broker.permissions, broker.topic_permissions) == ({}, {}, {})
    assert (broker.queues, broker.bindings) == ({}, set())
    assert uow.agencies.committed == {}


async def test_offboarding_removes_the_user_its_connections_its_queues_and_its_record() -> None:
    uow, broker = FakeAgenciesUnitOfWork(), FakeBrokerAdmin()
    await agencies.onboard_agency(onboarding(), uow=uow, broker=broker)
    await agencies.onboard_agency(onboarding("kpu"), uow=uow, broker=broker)
    broker.connections["agency-bpjs"] = 2
    await agencies.offboard_agency("bpjs", uow=uow, broker=broker, by="rina")
    assert set(broker.users) == {"agency-kpu"} and broker.connections == {}
    assert set(broker.queues) == {"agency.kpu.events", "agency.kpu.dead"}
    assert set(uow.agencies.committed) == {"kpu"}
    with pytest.raises(agencies.AgencyNotFound):
        await agencies.offboard_agency("bpjs", uow=uow, broker=broker, by="rina")


async def test_what_an_interrupted_onboarding_left_on_the_broker_can_be_offboarded() -> None:
    uow, broker = FakeAgenciesUnitOfWork(), FakeBrokerAdmin()
    await agencies.onboard_agency(onboarding(), uow=uow, broker=broker)
    uow.agencies.committed.clear()  # as if the command had been killed before its record was written
    with pytest.raises(AgencyExists, match="a leftover; offboard it first"):
        await agencies.onboard_agency(onboarding(), uow=uow, broker=broker)
    gone = await agencies.offboard_agency("bpjs", uow=uow, broker=broker, by="rina")
    assert gone.leftover and (broker.users, broker.queues) == ({}, {})
    await agencies.onboard_agency(onboarding(), uow=uow, broker=broker)
    with pytest.raises(AgencyRefused):
        await agencies.offboard_agency("Not A Name", uow=uow, broker=broker, by="rina")


def death_in(region: str, document: int) -> DeathRegistered:
    return DeathRegistered(
        document_number=f"AKM/3602/2026/{document:06d}",
        region_code=region,
        deceased_nik="3602140101500002",
        date_of_death="2026-11-20",
    )


async def test_a_replay_sends_the_entitled_events_of_the_range_in_the_agencys_variant_in_order() -> None:
    uow, broker, delivery = FakeAgenciesUnitOfWork(), FakeBrokerAdmin(), FakeQueueDelivery()
    await agencies.onboard_agency(onboarding(region_prefixes=["36.02.14"]), uow=uow, broker=broker)
    logged = [
        (T0, death_in("36.02.14", 1)),
        (T0 + timedelta(hours=1), death_in("36.02.14", 2)),
        (T0 + timedelta(hours=1, minutes=30), death_in("36.02.03", 3)),  # another kecamatan
        (
            T0 + timedelta(hours=2),
            FamilyCardIssued(document_number="KK/3602/2026/000001", region_code="36.02.14", reason="data_change"),
        ),
        (T0 + timedelta(hours=2, minutes=30), death_in("36.02.14", 4)),
        (T0 + timedelta(hours=3), death_in("36.02.14", 5)),  # the end is exclusive
    ]
    async with uow:
        for moment, event in logged:
            await uow.public_events.add(PublicEventRecord(uuid.uuid4(), event, moment, uuid.uuid4()))
        await uow.commit()
    replayed = await agencies.replay_to_agency(
        "bpjs", since=T0 + timedelta(hours=1), until=T0 + timedelta(hours=3), uow=uow, delivery=delivery
    )
    [(queue, events)] = delivery.delivered
    assert queue == "agency.bpjs.events"
    assert [event.document_number for event in events] == ["AKM/3602/2026/000002", "AKM/3602/2026/000004"]
    assert replayed.events == events
    assert all("360214******0002" in event.body and "3602140101500002" not in event.body for event in events)
    with pytest.raises(agencies.InvalidTimeRange):
        await agencies.replay_to_agency("bpjs", since=T0, until=T0, uow=uow, delivery=delivery)
    with pytest.raises(agencies.AgencyNotFound):
        await agencies.replay_to_agency("kpu", since=T0, until=T0 + timedelta(hours=1), uow=uow, delivery=delivery)


class FakeDesk:
    def __init__(self) -> None:
        self.uow = FakeAgenciesUnitOfWork()
        self.broker = FakeBrokerAdmin()
        self.delivery = FakeQueueDelivery()

    def unit_of_work(self) -> FakeAgenciesUnitOfWork:
        return self.uow

    async def open(self) -> None:
        pass

    def connection_url(self, user: str, password: str) -> str:
        return f"amqps://{user}:{password}@broker.example:5671/"


async def cli(desk: FakeDesk, *argv: str) -> str:
    out = io.StringIO()
    await agency_cli.run(agency_cli.parse(argv), desk, out)  # type: ignore[arg-type]
    return out.getvalue()


async def test_the_command_line_prints_the_connection_details_once_and_lists_and_replays() -> None:
    desk = FakeDesk()
    text = await cli(
        desk, "onboard", "--name", "bpjs", "--events", "death.registered.v1", "--regions", "36.02", "--by", "rina"
    )
    password = desk.broker.users["agency-bpjs"]
    assert f"amqps://agency-bpjs:{password}@broker.example:5671/" in text
    assert "agency.bpjs.events" in text and "agency.bpjs.dead" in text and "death.registered.v1.36.02.#" in text
    assert "NIK and KK numbers masked" in text

    details = json.loads(
        await cli(desk, "onboard", "--name", "kpu", "--events", "death.registered.v1,residence.moved.v1", "--regions",
                  "36.02.14", "--regions", "36.02.03", "--identified", "--json")
    )  # fmt: skip
    assert details["exchange"] == "dukcapil.public.identified"
    assert details["password"] == desk.broker.users["agency-kpu"]
    assert len(details["binding_keys"]) == 4

    listing = await cli(desk, "list")
    assert "bpjs" in listing and "kpu" in listing and "identified" in listing and password not in listing
    assert [row["agency"] for row in json.loads(await cli(desk, "list", "--json"))] == ["bpjs", "kpu"]

    async with desk.uow:
        await desk.uow.public_events.add(PublicEventRecord(uuid.uuid4(), death_in("36.02.14", 1), T0, uuid.uuid4()))
        await desk.uow.commit()
    since = T0.astimezone(WIB).strftime("%Y-%m-%dT%H:%M")
    text = await cli(desk, "replay", "--name", "bpjs", "--since", since)
    assert text.startswith("Replayed 1 events to agency.bpjs.events") and "1 death.registered.v1" in text

    assert "Offboarded bpjs" in await cli(desk, "offboard", "--name", "bpjs")
    assert [row["agency"] for row in json.loads(await cli(desk, "list", "--json"))] == ["kpu"]


def test_times_without_a_zone_are_lebaks_and_dates_start_at_midnight() -> None:
    assert agency_cli._moment("2026-11-01") == datetime(2026, 11, 1, tzinfo=WIB)
    assert agency_cli._moment("2026-11-01T08:00") == datetime(2026, 11, 1, 1, 0, tzinfo=UTC)
    assert agency_cli._moment("2026-11-01T08:00+00:00") == datetime(2026, 11, 1, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["onboard", "--name", "bpjs", "--events", "death.registered", "--regions", "36.02"], "unknown event type"),
        (["onboard", "--name", "bpjs", "--events", "death.registered.v1", "--regions", "Lebak"], "is no region prefix"),
        (["offboard", "--name", "nobody"], "no agency named nobody"),
        (["replay", "--name", "nobody", "--since", "2026-11-01"], "no agency named nobody"),
    ],
)
def test_the_command_line_explains_what_is_wrong_and_exits_with_1(
    argv: list[str], message: str, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(agency_cli, "configure_logging", lambda *args, **kwargs: None)
    settings = IntakeSettings(database_url=f"sqlite+aiosqlite:///{tmp_path}/intake.db")
    out, err = io.StringIO(), io.StringIO()
    assert agency_cli.main(argv, settings=settings, out=out, err=err) == 1
    assert err.getvalue().startswith("error: ") and message in err.getvalue()
    assert out.getvalue() == ""


def test_a_malformed_time_is_refused_before_anything_happens(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_status:
        agency_cli.parse(["replay", "--name", "bpjs", "--since", "kemarin"])
    assert exit_status.value.code == 2
    assert "'kemarin' is no date or time" in capsys.readouterr().err
