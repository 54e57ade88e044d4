from dukcapil_shared.messaging.access import PUBLISHER_HEADER, BrokerIdentities
from dukcapil_shared.messaging.consumer import (
    AlreadyApplied,
    EventConsumer,
    PermanentFailure,
    RetryPolicy,
    Subscription,
)
from dukcapil_shared.messaging.relay import OutboxRelay
from dukcapil_shared.messaging.tables import add_dead_letter_table, add_messaging_tables
from dukcapil_shared.messaging.topology import (
    EVENTS_EXCHANGE,
    IDENTIFIED_PUBLIC_EXCHANGE,
    PUBLIC_EXCHANGE,
    PUBLIC_EXCHANGES,
    ServiceTopology,
    declare_public_exchanges,
)
from dukcapil_shared.messaging.unit_of_work import ConcurrentChange, Inbox, Outbox, SqlUnitOfWork, UnitOfWork

__all__ = [
    "EVENTS_EXCHANGE",
    "IDENTIFIED_PUBLIC_EXCHANGE",
    "PUBLIC_EXCHANGE",
    "PUBLIC_EXCHANGES",
    "PUBLISHER_HEADER",
    "AlreadyApplied",
    "BrokerIdentities",
    "ConcurrentChange",
    "EventConsumer",
    "Inbox",
    "Outbox",
    "OutboxRelay",
    "PermanentFailure",
    "RetryPolicy",
    "ServiceTopology",
    "SqlUnitOfWork",
    "Subscription",
    "UnitOfWork",
    "add_dead_letter_table",
    "add_messaging_tables",
    "declare_public_exchanges",
]
