"""Onboarding and offboarding agencies, and replaying the public events they missed.

The office's record of an agency (intake's `agencies` table) is written first, so two operators cannot onboard
one name at once; the broker's side follows, and a failure on the way removes whatever was made, so an agency
is either fully there or not at all. Replays read intake's log of public events and put them straight into the
agency's queue, with their original ids: the agency's idempotency drops what it had already.
"""

import abc
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog

from dukcapil_intake.agencies.domain.agencies import Agency, BrokerAccess, broker_user_of, check_name, queues_of
from dukcapil_intake.agencies.domain.public_events import LoggedPublicEvent
from dukcapil_intake.agencies.service_layer.repository import AgencyExists
from dukcapil_intake.agencies.service_layer.unit_of_work import AgenciesUnitOfWork
from dukcapil_shared.clock import Clock, system_clock
from dukcapil_shared.messaging.topology import PUBLIC_EXCHANGES
from dukcapil_shared.refusals import Refusal, RefusalKind

log = structlog.get_logger(__name__)


class AgencyNotFound(Refusal, LookupError):
    code = "agency_not_found"
    kind = RefusalKind.not_found

    def __init__(self, name: str) -> None:
        super().__init__(f"There is no agency named {name}; the list of agencies shows their names.", agency=name)


class BrokerAdminFailed(Refusal, RuntimeError):
    """The broker's administration refused or could not be reached; the message says what to do."""

    code = "broker_admin_failed"
    kind = RefusalKind.unavailable


class ReplayNotDelivered(Refusal, RuntimeError):
    """The broker did not confirm every replayed event; what it did take, the agency drops as duplicates when the
    replay is run again."""

    code = "replay_not_delivered"
    kind = RefusalKind.unavailable


class InvalidTimeRange(Refusal, ValueError):
    code = "invalid_time_range"


@dataclass(frozen=True)
class QueueState:
    messages: int
    consumers: int


class BrokerAdmin(abc.ABC):
    """The broker's administration (RabbitMQ's management API in production). Deletions of what is not there
    succeed: offboarding can always finish what a failed onboarding left."""

    @abc.abstractmethod
    async def user_exists(self, user: str) -> bool: ...

    @abc.abstractmethod
    async def create_user(self, user: str, password: str) -> None: ...

    @abc.abstractmethod
    async def delete_user(self, user: str) -> None: ...

    @abc.abstractmethod
    async def set_permissions(self, user: str, *, configure: str, write: str, read: str) -> None: ...

    @abc.abstractmethod
    async def set_topic_permissions(self, user: str, *, exchange: str, write: str, read: str) -> None: ...

    @abc.abstractmethod
    async def declare_topic_exchange(self, name: str) -> None: ...

    @abc.abstractmethod
    async def declare_queue(self, name: str, arguments: dict[str, Any]) -> None: ...

    @abc.abstractmethod
    async def bind_queue(self, *, queue: str, exchange: str, binding_key: str) -> None: ...

    @abc.abstractmethod
    async def delete_queue(self, name: str) -> None: ...

    @abc.abstractmethod
    async def close_connections(self, user: str, reason: str) -> int:
        """Close every connection of the user; returns how many there were."""

    @abc.abstractmethod
    async def queue_state(self, name: str) -> QueueState | None:
        """None when the queue does not exist."""


class QueueDelivery(abc.ABC):
    @abc.abstractmethod
    async def deliver(self, queue: str, events: Sequence[LoggedPublicEvent]) -> None:
        """Put the events into the queue, persistently and confirmed by the broker, marked as replayed; raises
        ReplayNotDelivered if the broker refuses any."""


@dataclass(frozen=True)
class OnboardAgency:
    name: str
    event_types: Sequence[str]
    region_prefixes: Sequence[str]
    identified: bool
    by: str


@dataclass(frozen=True)
class Onboarded:
    agency: Agency
    password: str
    """Shown once, to be handed to the agency; the broker keeps only its hash."""


@dataclass(frozen=True)
class ListedAgency:
    agency: Agency
    queue: QueueState | None
    dead_letters: QueueState | None


@dataclass(frozen=True)
class Replayed:
    agency: Agency
    since: datetime
    until: datetime
    events: list[LoggedPublicEvent]

    @property
    def by_event_type(self) -> dict[str, int]:
        """How many of each event type were sent again, in the order they first occurred."""
        counts: dict[str, int] = {}
        for event in self.events:
            counts[event.event_type] = counts.get(event.event_type, 0) + 1
        return counts


async def onboard_agency(
    command: OnboardAgency,
    *,
    uow: AgenciesUnitOfWork,
    broker: BrokerAdmin,
    now: datetime | None = None,
    clock: Clock = system_clock,
) -> Onboarded:
    """Create the agency's broker user, queues and bindings for its entitlements, and record it."""
    agency = Agency.entitle(
        name=command.name,
        event_types=command.event_types,
        region_prefixes=command.region_prefixes,
        identified=command.identified,
        by=command.by,
        now=now or clock(),
    )
    access = agency.broker_access()
    async with uow:
        if await uow.agencies.get(agency.name) is not None:
            raise AgencyExists(
                f"an agency named {agency.name} exists already; offboard it first to change what it gets"
            )
    if await broker.user_exists(access.user):
        raise AgencyExists(
            f"the broker already has a user {access.user} but the office has no agency {agency.name}: a leftover; "
            "offboard it first"
        )
    async with uow:
        await uow.agencies.add(agency)  # raises AgencyExists if another operator got in first
        await uow.commit()
    password = secrets.token_urlsafe(24)
    try:
        await _grant(access, password, broker)
    except BaseException:
        await _undo_onboarding(agency, uow=uow, broker=broker)
        raise
    log.info(
        "agency_onboarded",
        agency=agency.name,
        event_types=list(agency.event_types),
        region_prefixes=list(agency.region_prefixes),
        identified=agency.identified,
        by=agency.onboarded_by,
    )
    return Onboarded(agency=agency, password=password)


async def _grant(access: BrokerAccess, password: str, broker: BrokerAdmin) -> None:
    # The exchanges may not exist yet if intake has never run against this broker.
    for exchange in PUBLIC_EXCHANGES:
        await broker.declare_topic_exchange(exchange.name)
    for queue in access.queues:
        await broker.declare_queue(queue.name, queue.arguments)
    for binding in access.bindings:
        await broker.bind_queue(queue=binding.queue, exchange=binding.exchange, binding_key=binding.binding_key)
    await broker.create_user(access.user, password)
    permissions = access.permissions
    await broker.set_permissions(
        access.user, configure=permissions.configure, write=permissions.write, read=permissions.read
    )
    for topic in access.topic_permissions:
        await broker.set_topic_permissions(access.user, exchange=topic.exchange, write=topic.write, read=topic.read)


async def _undo_onboarding(agency: Agency, *, uow: AgenciesUnitOfWork, broker: BrokerAdmin) -> None:
    try:
        await _revoke(agency.name, broker, reason="onboarding failed")
        async with uow:
            await uow.agencies.remove(agency.name)
            await uow.commit()
    except Exception as error:  # the original failure is what the operator must see; this one is logged
        log.error("agency_onboarding_not_undone", agency=agency.name, error=f"{type(error).__name__}: {error}")


async def _revoke(name: str, broker: BrokerAdmin, *, reason: str) -> int:
    # The user first: with it gone nobody can connect again (RabbitMQ also closes its connections), then whoever
    # is still connected is cut off, then the queues go.
    user = broker_user_of(name)
    await broker.delete_user(user)
    closed = await broker.close_connections(user, reason)
    for queue in queues_of(name):
        await broker.delete_queue(queue)
    return closed


@dataclass(frozen=True)
class Offboarded:
    name: str
    user: str
    queues: tuple[str, str]
    connections_closed: int
    leftover: bool
    """Only the broker had it: what a failed or interrupted onboarding left behind."""


async def offboard_agency(name: str, *, uow: AgenciesUnitOfWork, broker: BrokerAdmin, by: str) -> Offboarded:
    """Remove the agency's broker user (its permissions with it), close its connections, delete its queues and
    its record. An agency only the broker knows (a leftover) is removed from the broker too."""
    async with uow:
        agency = await uow.agencies.get(name)
    if agency is None:
        check_name(name)
        on_broker = await broker.user_exists(broker_user_of(name)) or any(
            [await broker.queue_state(queue) is not None for queue in queues_of(name)]
        )
        if not on_broker:
            raise AgencyNotFound(name)
    closed = await _revoke(name, broker, reason="agency offboarded")
    async with uow:
        await uow.agencies.remove(name)
        await uow.commit()
    log.info("agency_offboarded", agency=name, connections_closed=closed, leftover=agency is None, by=by)
    return Offboarded(
        name=name, user=broker_user_of(name), queues=queues_of(name), connections_closed=closed, leftover=agency is None
    )


async def list_agencies(*, uow: AgenciesUnitOfWork, broker: BrokerAdmin) -> list[ListedAgency]:
    async with uow:
        agencies = await uow.agencies.list()
    return [
        ListedAgency(
            agency=agency,
            queue=await broker.queue_state(agency.queue),
            dead_letters=await broker.queue_state(agency.dead_letter_queue),
        )
        for agency in agencies
    ]


async def replay_to_agency(
    name: str,
    *,
    since: datetime,
    until: datetime,
    uow: AgenciesUnitOfWork,
    delivery: QueueDelivery,
    by: str = "",
) -> Replayed:
    """Send the agency again every logged public event it is entitled to that occurred in [since, until), in the
    variant it is entitled to, in the order they occurred."""
    if until <= since:
        raise InvalidTimeRange(f"the end ({until.isoformat()}) must come after the start ({since.isoformat()})")
    async with uow:
        agency = await uow.agencies.get(name)
        if agency is None:
            raise AgencyNotFound(name)
        logged = await uow.public_events.between(
            since=since, until=until, event_types=agency.event_types, identified=agency.identified
        )
    events = [event for event in logged if agency.entitled_to(event.event_type, event.region_code)]
    await delivery.deliver(agency.queue, events)
    log.info(
        "agency_replayed",
        agency=name,
        events=len(events),
        since=since.isoformat(),
        until=until.isoformat(),
        by=by or None,
    )
    return Replayed(agency=agency, since=since, until=until, events=events)
