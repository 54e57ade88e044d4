"""The in-process dispatcher: what one feature's aggregates recorded, handed to the other features' service-layer
handlers inside the transaction that recorded it.

The requests' service layer hands on what happened to a request (RequestsUnitOfWork.hand_on); each handler gets its
own feature's unit of work joined to that transaction (`join`), so a step, its notices and its public events are
committed together or not at all, and no feature touches another's repositories. `follow_requests` is the one
wiring, used by the composition root (SQL units of work joined to the connection) and by the tests (fakes).
"""

from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Generic, TypeVar

from dukcapil_intake.agencies.service_layer import public_events
from dukcapil_intake.agencies.service_layer.unit_of_work import AgenciesUnitOfWork
from dukcapil_intake.notifications.service_layer import notices
from dukcapil_intake.notifications.service_layer.unit_of_work import NotificationsUnitOfWork
from dukcapil_intake.requests.domain.events import AccessCodeIssued, BookingConfirmed, StepRecorded
from dukcapil_shared.clock import Clock, system_clock

T = TypeVar("T")
"""The transaction the handlers join: a database connection, or a fake unit of work in the tests."""
E = TypeVar("E")


class Dispatcher(Generic[T]):
    def __init__(self) -> None:
        self._handlers: dict[type, list[Callable[[T, Any], Awaitable[None]]]] = defaultdict(list)

    def on(self, event_type: type[E], handler: Callable[[T, E], Awaitable[None]]) -> None:
        """Handlers of one event type run in the order they were added."""
        self._handlers[event_type].append(handler)

    async def __call__(self, transaction: T, events: Iterable[object]) -> None:
        for event in events:
            for handler in self._handlers.get(type(event), ()):
                await handler(transaction, event)


def follow_requests(
    *,
    notifications: Callable[[T], NotificationsUnitOfWork],
    agencies: Callable[[T], AgenciesUnitOfWork],
    notify: bool,
    clock: Clock = system_clock,
) -> Dispatcher[T]:
    """The features that follow the requests: the citizen's notices (of the steps and bookings only with `notify`;
    an access code always goes where it was asked), then the agencies' public events. `notifications` and
    `agencies` give each feature's unit of work joined to the transaction."""
    dispatcher: Dispatcher[T] = Dispatcher()
    if notify:
        dispatcher.on(StepRecorded, lambda t, step: notices.tell_of_step(notifications(t), step, clock=clock))
        dispatcher.on(
            BookingConfirmed, lambda t, booked: notices.confirm_booking(notifications(t), booked, clock=clock)
        )
    dispatcher.on(AccessCodeIssued, lambda t, issued: notices.send_access_code(notifications(t), issued))
    dispatcher.on(StepRecorded, lambda t, step: public_events.log_public_events(agencies(t), step))
    return dispatcher
