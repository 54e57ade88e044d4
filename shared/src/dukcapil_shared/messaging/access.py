"""Who may do what on the broker, and who published a message.

Every service connects as a broker user of its own (`<prefix><service>`, e.g. `dukcapil-review`) with least
privilege, derived from its code by `ServiceAccess.of` (its subscriptions and the events its units of work
declare) and written to `deploy/rabbitmq/access.json` by `make asyncapi`, beside its AsyncAPI document:

- configure: its own queues and exchanges (`dukcapil.<service>.*`) only; the shared exchanges are declared by the
  provisioning step (`python -m dukcapil_shared.messaging.provision`), never by a service;
- write: `dukcapil.events` (and, for intake, the agencies' exchanges) and its own exchanges (retries, dead letters);
- read: its own queues, and `dukcapil.events` to bind them;
- topic permissions on each topic exchange: write only the routing keys it publishes, read (bind) only those it
  consumes.

Every publish sets the AMQP `user_id`, which RabbitMQ refuses unless it is the connection's own user, so a
consumer knows the publisher for certain and applies an event only when it is the producer the contract names
(`Event.produced_by`). A message a service sends back to itself (a retry, a dead letter, an operator's replay) is
published as itself and carries, in `x-publisher`, the publisher checked when it first arrived; nobody else may
write to a service's own exchanges, so that header is trusted only from the service itself.
"""

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dukcapil_shared.contracts import Event

DEFAULT_USER_PREFIX = "dukcapil-"

PUBLISHER_HEADER = "x-publisher"
"""On a message a service sent back to itself: the broker user that published it first (checked then)."""

SERVICES = ("intake", "review", "documents", "shipping")

EVENTS_EXCHANGE_NAME = "dukcapil.events"
PUBLIC_EXCHANGE_NAMES = ("dukcapil.public", "dukcapil.public.identified")
SHARED_EXCHANGES = (EVENTS_EXCHANGE_NAME, *PUBLIC_EXCHANGE_NAMES)
"""Topic exchanges every deployment has, declared by provisioning (a service may not configure them)."""


@dataclass(frozen=True)
class BrokerIdentities:
    """The broker user of each service, by the deployment's naming: `<prefix><service>`."""

    prefix: str = DEFAULT_USER_PREFIX

    def user(self, service: str) -> str:
        return f"{self.prefix}{service}"

    def service(self, user: str | None) -> str | None:
        """The service a broker user belongs to, or None for any other user (an administrator, an agency...)."""
        if user is None or not user.startswith(self.prefix):
            return None
        service = user.removeprefix(self.prefix)
        return service if service in SERVICES else None


@dataclass(frozen=True)
class TopicPermission:
    exchange: str
    write: str
    read: str


@dataclass(frozen=True)
class ServiceAccess:
    """What one service's broker user may do: RabbitMQ's configure/write/read regular expressions on resource
    names, and its topic permissions."""

    service: str
    configure: str
    write: str
    read: str
    topics: tuple[TopicPermission, ...] = field(default_factory=tuple)

    @classmethod
    def of(
        cls,
        service: str,
        *,
        publishes: Iterable[type[Event]],
        consumes: Iterable[str],
        public_routing_keys: Sequence[str] = (),
    ) -> "ServiceAccess":
        """From the events its outboxes may carry, the routing keys its subscriptions bind, and (intake) the
        public events' routing key patterns (`death.registered.v1.*.*.*`)."""
        own = rf"dukcapil\.{re.escape(service)}\..+"
        writes = [EVENTS_EXCHANGE_NAME, *(PUBLIC_EXCHANGE_NAMES if public_routing_keys else ())]
        topics = [
            TopicPermission(
                exchange=EVENTS_EXCHANGE_NAME,
                write=_exactly(sorted({event.routing_key() for event in publishes})),
                read=_exactly(sorted(set(consumes))),
            )
        ]
        for exchange in PUBLIC_EXCHANGE_NAMES:
            topics.append(TopicPermission(exchange=exchange, write=_patterns(public_routing_keys), read=_NOTHING))
        return cls(
            service=service,
            configure=f"^{own}$",
            write=f"^({'|'.join(re.escape(name) for name in writes)}|{own})$",
            read=f"^({re.escape(EVENTS_EXCHANGE_NAME)}|{own})$",
            topics=tuple(topics),
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "configure": self.configure,
            "write": self.write,
            "read": self.read,
            "topics": [{"exchange": t.exchange, "write": t.write, "read": t.read} for t in self.topics],
        }

    @classmethod
    def from_json(cls, service: str, data: Mapping[str, Any]) -> "ServiceAccess":
        return cls(
            service=service,
            configure=data["configure"],
            write=data["write"],
            read=data["read"],
            topics=tuple(TopicPermission(**topic) for topic in data["topics"]),
        )


@dataclass(frozen=True)
class AccessPlan:
    """Every service's access: what provisioning gives each broker user."""

    services: tuple[ServiceAccess, ...]
    exchanges: tuple[str, ...] = SHARED_EXCHANGES

    def render(self) -> str:
        document = {
            "description": "Each service's broker permissions, generated from its code by `make asyncapi` "
            "(dukcapil_shared.messaging.access); applied by `python -m dukcapil_shared.messaging.provision`.",
            "exchanges": [{"name": name, "type": "topic", "durable": True} for name in self.exchanges],
            "services": {access.service: access.as_json() for access in self.services},
        }
        return json.dumps(document, indent=2) + "\n"

    @classmethod
    def parse(cls, text: str) -> "AccessPlan":
        document = json.loads(text)
        return cls(
            services=tuple(ServiceAccess.from_json(name, data) for name, data in document["services"].items()),
            exchanges=tuple(exchange["name"] for exchange in document["exchanges"]),
        )

    def of(self, service: str) -> ServiceAccess:
        return next(access for access in self.services if access.service == service)


_NOTHING = "^$"


def _exactly(routing_keys: Sequence[str]) -> str:
    if not routing_keys:
        return _NOTHING
    return f"^({'|'.join(re.escape(key) for key in routing_keys)})$"


def _patterns(topic_patterns: Sequence[str]) -> str:
    """AMQP topic patterns with `*` (one word) as a regular expression."""
    if not topic_patterns:
        return _NOTHING
    alternatives = sorted({re.escape(pattern).replace(r"\*", r"[^.]+") for pattern in topic_patterns})
    return f"^({'|'.join(alternatives)})$"
