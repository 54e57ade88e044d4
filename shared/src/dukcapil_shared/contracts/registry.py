"""Every event type the services know, by its CloudEvents type: the lifecycle events, the operations events and
the staff events (each module builds on events.Event; this one sees them all, so none has to import another)."""

from dukcapil_shared.contracts.events import ALL_EVENTS, Event
from dukcapil_shared.contracts.operations import OPERATIONS_EVENTS
from dukcapil_shared.contracts.staff import STAFF_EVENTS

_BY_TYPE: dict[str, type[Event]] = {cls.routing_key(): cls for cls in (*ALL_EVENTS, *OPERATIONS_EVENTS, *STAFF_EVENTS)}


def event_class(cloudevent_type: str) -> type[Event] | None:
    """The event model of a CloudEvents type, or None for a type no service knows."""
    return _BY_TYPE.get(cloudevent_type)
