"""Agencies that subscribe to the public events, what each is entitled to, and the broker access that follows.

An agency (BPJS, the statistics office, the election commission, a hospital) gets a broker user and queues of
its own, named after it. Its queue is bound to one public exchange (identity numbers masked, or in full when the
office entitles it) once per event type and region prefix it is entitled to. RabbitMQ enforces the rest: the
user may read its own two queues and nothing else, may declare, bind and publish nothing, and its topic
permissions name only the binding keys of its entitlements, should it ever be allowed to bind.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dukcapil_shared.contracts import exchanges
from dukcapil_shared.contracts.public import PUBLIC_EVENTS
from dukcapil_shared.contracts.regions import LEBAK, find_kecamatan, region_name
from dukcapil_shared.refusals import Refusal

NAME = re.compile(r"^[a-z][a-z0-9-]{0,28}[a-z0-9]$")
REGION_PREFIX = re.compile(r"^\d{2}(\.\d{2}){0,2}$")
NOTHING = "^$"
"""RabbitMQ's conventional 'no resource' pattern: no name but the empty one, and the default exchange is
checked as amq.default."""

MAX_QUEUE_LENGTH = 100_000
"""Events an agency's queue keeps while the agency is away; beyond that the oldest move to its dead-letter
queue (which keeps as many), and a replay from the log brings them back."""
DELIVERY_LIMIT = 10
"""Redeliveries of one message (the agency's consumer crashing on it) before it moves to the dead-letter queue."""


class AgencyRefused(Refusal, ValueError):
    """An onboarding the office's rules do not allow; the message says what to change."""

    code = "agency_refused"


@dataclass(frozen=True)
class QueueSpec:
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class Binding:
    exchange: str
    queue: str
    binding_key: str


@dataclass(frozen=True)
class Permissions:
    configure: str
    write: str
    read: str


@dataclass(frozen=True)
class TopicPermission:
    exchange: str
    write: str
    read: str


@dataclass(frozen=True)
class BrokerAccess:
    """Everything the broker must hold for one agency, and nothing more."""

    user: str
    permissions: Permissions
    topic_permissions: tuple[TopicPermission, ...]
    queues: tuple[QueueSpec, ...]
    bindings: tuple[Binding, ...]


@dataclass(frozen=True)
class Agency:
    name: str
    event_types: tuple[str, ...]
    region_prefixes: tuple[str, ...]
    identified: bool
    """Entitled to NIKs and KK numbers in full (dukcapil.public.identified) rather than masked."""
    onboarded_at: datetime
    onboarded_by: str

    @classmethod
    def entitle(
        cls,
        *,
        name: str,
        event_types: Iterable[str],
        region_prefixes: Iterable[str],
        identified: bool,
        by: str,
        now: datetime,
    ) -> "Agency":
        """A new agency with its entitlements, checked; raises AgencyRefused with what to change."""
        return cls(
            name=check_name(name),
            event_types=check_event_types(event_types),
            region_prefixes=check_region_prefixes(region_prefixes),
            identified=identified,
            onboarded_at=now,
            onboarded_by=by,
        )

    @property
    def broker_user(self) -> str:
        return broker_user_of(self.name)

    @property
    def queue(self) -> str:
        return queues_of(self.name)[0]

    @property
    def dead_letter_queue(self) -> str:
        return queues_of(self.name)[1]

    @property
    def exchange(self) -> str:
        return exchanges.IDENTIFIED_PUBLIC if self.identified else exchanges.PUBLIC

    @property
    def binding_keys(self) -> list[str]:
        """One topic pattern per event type and region prefix: `#` takes every kecamatan (and any finer level)
        under the prefix."""
        return [f"{event_type}.{prefix}.#" for event_type in self.event_types for prefix in self.region_prefixes]

    def entitled_to(self, event_type: str, region_code: str) -> bool:
        return event_type in self.event_types and any(
            region_code == prefix or region_code.startswith(prefix + ".") for prefix in self.region_prefixes
        )

    def broker_access(self) -> BrokerAccess:
        own_queues = rf"^agency\.{re.escape(self.name)}\.(events|dead)$"
        entitled_keys = "|".join(
            rf"{re.escape(event_type)}\.{re.escape(prefix)}(\..*)?"
            for event_type in self.event_types
            for prefix in self.region_prefixes
        )
        topic_permissions = tuple(
            TopicPermission(
                exchange=exchange,
                write=NOTHING,
                read=f"^({entitled_keys})$" if exchange == self.exchange else NOTHING,
            )
            for exchange in (exchanges.EVENTS, exchanges.PUBLIC, exchanges.IDENTIFIED_PUBLIC)
        )
        return BrokerAccess(
            user=self.broker_user,
            permissions=Permissions(configure=NOTHING, write=NOTHING, read=own_queues),
            topic_permissions=topic_permissions,
            queues=(
                QueueSpec(
                    self.queue,
                    {
                        "x-queue-type": "quorum",
                        # Through the default exchange, straight to the agency's own dead-letter queue.
                        "x-dead-letter-exchange": "",
                        "x-dead-letter-routing-key": self.dead_letter_queue,
                        "x-delivery-limit": DELIVERY_LIMIT,
                        "x-max-length": MAX_QUEUE_LENGTH,
                        "x-overflow": "drop-head",
                    },
                ),
                QueueSpec(self.dead_letter_queue, {"x-queue-type": "quorum", "x-max-length": MAX_QUEUE_LENGTH}),
            ),
            bindings=tuple(Binding(self.exchange, self.queue, key) for key in self.binding_keys),
        )


def broker_user_of(name: str) -> str:
    return f"agency-{name}"


def queues_of(name: str) -> tuple[str, str]:
    """The agency's queue and its dead-letter queue."""
    return f"agency.{name}.events", f"agency.{name}.dead"


def check_name(name: str) -> str:
    if not NAME.match(name):
        raise AgencyRefused(
            f"{name!r} cannot name an agency: use 2 to 30 lower-case letters, digits and hyphens, starting with a "
            "letter, e.g. bpjs-kesehatan",
            field="name",
        )
    return name


def check_event_types(event_types: Iterable[str]) -> tuple[str, ...]:
    known = [event.type_name() for event in PUBLIC_EVENTS]
    chosen = _unique(event_types)
    if not chosen:
        raise AgencyRefused(f"name at least one event type: {', '.join(known)}", field="event_types")
    unknown = [event_type for event_type in chosen if event_type not in known]
    if unknown:
        raise AgencyRefused(
            f"unknown event type {', '.join(unknown)}; the public events are {', '.join(known)}", field="event_types"
        )
    return chosen


def check_region_prefixes(prefixes: Iterable[str]) -> tuple[str, ...]:
    chosen = _unique(prefixes)
    if not chosen:
        raise AgencyRefused(
            f"name at least one region prefix, e.g. {LEBAK} (all of Lebak) or 36.02.14 (a kecamatan)",
            field="region_prefixes",
        )
    for prefix in chosen:
        if not REGION_PREFIX.match(prefix):
            raise AgencyRefused(
                f"{prefix!r} is no region prefix: give a province (36), a regency (36.02) or a kecamatan (36.02.14); "
                "events are routed by kecamatan, so a village code is too fine",
                field="region_prefixes",
            )
        if region_name(prefix) is None:
            raise AgencyRefused(f"{prefix} is no region code of Indonesia", field="region_prefixes")
        if not (LEBAK.startswith(prefix) or find_kecamatan(prefix) is not None):
            raise AgencyRefused(
                f"{prefix} lies outside Kabupaten Lebak ({LEBAK}): no event is ever registered there; use {LEBAK} or "
                "one of its kecamatan (36.02.01 to 36.02.28)",
                field="region_prefixes",
            )
    return chosen


def _unique(values: Iterable[str]) -> tuple[str, ...]:
    found: list[str] = []
    for value in values:
        value = value.strip()
        if value and value not in found:
            found.append(value)
    return tuple(found)
