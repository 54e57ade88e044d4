"""The in-process dispatcher: what one feature's aggregates recorded, handed to the other features' service-layer
handlers inside the transaction that recorded it.

The requests' service layer hands on what happened to a request (RequestsUnitOfWork.hand_on); each handler gets its
own feature's unit of work joined to that transaction (`join`), so a step, its notices and its public events are
committed together or not at all, and no feature touches another's repositories. `follow_requests` is the one
wiring, used by the composition root (SQL units of work joined to the connection) and by the tests (fakes).
"""

from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable
from datetime import timedelta
from typing import Any, Generic, TypeVar

from dukcapil_intake.agencies.service_layer import public_events
from dukcapil_intake.agencies.service_layer.unit_of_work import AgenciesUnitOfWork
from dukcapil_intake.follow_ons.domain.follow_ons import DraftOffered, FollowOnDraft
from dukcapil_intake.follow_ons.service_layer import follow_ons
from dukcapil_intake.follow_ons.service_layer.submissions import Confirmer, Made, Submissions
from dukcapil_intake.follow_ons.service_layer.unit_of_work import FollowOnsUnitOfWork
from dukcapil_intake.incidents.service_layer import incidents as incidents_service
from dukcapil_intake.incidents.service_layer.unit_of_work import IncidentsUnitOfWork
from dukcapil_intake.notifications.service_layer import notices
from dukcapil_intake.notifications.service_layer.unit_of_work import NotificationsUnitOfWork
from dukcapil_intake.requests.domain.events import AccessCodeIssued, BookingConfirmed, StepRecorded
from dukcapil_intake.requests.service_layer import handlers as requests
from dukcapil_intake.requests.service_layer.unit_of_work import RequestsUnitOfWork
from dukcapil_shared.clock import Clock, system_clock
from dukcapil_shared.contracts import ShipmentFlagged

_FLAGGED = ShipmentFlagged.routing_key()

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
    follow_on_drafts: Callable[[T], FollowOnsUnitOfWork] | None = None,
    follow_on_lifetime: timedelta = timedelta(days=30),
    incidents: Callable[[T], IncidentsUnitOfWork] | None = None,
) -> Dispatcher[T]:
    """The features that follow the requests: the citizen's notices (of the steps and bookings only with `notify`;
    an access code always goes where it was asked), then the agencies' public events, then the incidents a flagged
    shipment opens and its next step closes, then the follow-on drafts an issued document leads to.
    `notifications`, `agencies`, `incidents` and `follow_on_drafts` give each feature's unit of work joined to the
    transaction (the drafts' own followers, follow_drafts, wired in)."""
    dispatcher: Dispatcher[T] = Dispatcher()
    if notify:
        dispatcher.on(StepRecorded, lambda t, step: notices.tell_of_step(notifications(t), step, clock=clock))
        dispatcher.on(
            BookingConfirmed, lambda t, booked: notices.confirm_booking(notifications(t), booked, clock=clock)
        )
    dispatcher.on(AccessCodeIssued, lambda t, issued: notices.send_access_code(notifications(t), issued))
    dispatcher.on(StepRecorded, lambda t, step: public_events.log_public_events(agencies(t), step))
    if incidents is not None:
        shipment_incidents = incidents
        dispatcher.on(
            StepRecorded,
            lambda t, step: incidents_service.follow_shipment(
                shipment_incidents(t), step.event, step.envelope, ever_flagged=step.request.has_recorded(_FLAGGED)
            ),
        )
    if follow_on_drafts is not None:
        drafts = follow_on_drafts
        dispatcher.on(
            StepRecorded,
            lambda t, step: follow_ons.offer_follow_ons(drafts(t), step, lifetime=follow_on_lifetime, clock=clock),
        )
    return dispatcher


def follow_drafts(*, notifications: Callable[[T], NotificationsUnitOfWork], notify: bool) -> Dispatcher[T]:
    """What follows a follow-on draft: the family's offer with the link to confirm it (only with `notify`)."""
    dispatcher: Dispatcher[T] = Dispatcher()
    if notify:
        dispatcher.on(DraftOffered, lambda t, offered: notices.offer_follow_on(notifications(t), offered))
    return dispatcher


class RequestsDesk(Submissions):
    """A confirmed follow-on draft submitted or booked through the requests' own use cases, as any other."""

    def __init__(
        self, unit_of_work: Callable[[], RequestsUnitOfWork], *, recording_capacity: int, clock: Clock = system_clock
    ) -> None:
        self._unit_of_work = unit_of_work
        self._capacity = recording_capacity
        self._clock = clock

    async def submit(self, draft: FollowOnDraft, confirmer: Confirmer) -> Made:
        assert draft.details is not None, "an offered family-card draft is filled in"
        command = requests.SubmitRequest(
            type=draft.request_type,
            applicant=draft.applicant,
            details=draft.details,
            delivery=draft.delivery,
            kecamatan_code=draft.kecamatan_code,
            channel="assisted" if confirmer.operator else "online",
            operator=confirmer.operator,
            office=confirmer.office,
            idempotency_key=f"follow-on:{draft.id}",
            operator_kecamatan=confirmer.operator_kecamatan,
            follows=draft.origin.request_id,
        )
        submitted = await requests.submit_request(command, uow=self._unit_of_work(), clock=self._clock)
        return Made(submitted.id, submitted.number)

    async def book_recording(self, draft: FollowOnDraft) -> Made | None:
        command = requests.BookRecording(
            applicant=draft.applicant,
            kecamatan_code=draft.kecamatan_code,
            phone=draft.delivery.phone,
            email=draft.delivery.email,
        )
        try:
            booking = await requests.book_recording(
                command, capacity=self._capacity, uow=self._unit_of_work(), clock=self._clock
            )
        except requests.AlreadyBooked:
            return None
        return Made(booking.id, booking.number)
