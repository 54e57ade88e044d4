"""Queuing the citizen's notices: the dispatcher's handlers for what happened to a request or a booking, each run
in the transaction that recorded it (the step and its notice are stored together or not at all); sending happens
later, in rounds (notifications.py)."""

import uuid

from dukcapil_intake.follow_ons.domain.follow_ons import DraftOffered
from dukcapil_intake.notifications.domain.notices import access_code_notice, follow_on_notice, notice_for
from dukcapil_intake.notifications.domain.notifications import Contact, Notification
from dukcapil_intake.notifications.service_layer.unit_of_work import NotificationsUnitOfWork
from dukcapil_intake.requests.domain.events import AccessCodeIssued, BookingConfirmed, StepRecorded
from dukcapil_shared.clock import Clock, system_clock


async def tell_of_step(uow: NotificationsUnitOfWork, step: StepRecorded, *, clock: Clock = system_clock) -> None:
    """Queue the notice the step deserves, if any, to the contacts on the request."""
    notice = notice_for(step.event, step.request)
    if notice is None:
        return
    contact = Contact.of(step.request.delivery)
    await uow.notifications.add(
        notice.notifications(contact, request_id=step.event.request_id, event_id=str(step.envelope.id), now=clock())
    )


async def confirm_booking(
    uow: NotificationsUnitOfWork, booked: BookingConfirmed, *, clock: Clock = system_clock
) -> None:
    notice = notice_for(booked.event)
    if notice is None:
        return
    contact = Contact(email=booked.email, phone=booked.phone)
    await uow.notifications.add(
        notice.notifications(contact, request_id=booked.event.request_id, event_id=str(booked.envelope.id), now=clock())
    )


async def send_access_code(uow: NotificationsUnitOfWork, issued: AccessCodeIssued) -> None:
    """The request's access code, to the phone and e-mail address on file and nowhere else."""
    request = issued.request
    await uow.notifications.add(
        access_code_notice(request).notifications(
            Contact.of(request.delivery), request_id=request.id, event_id=issued.id, now=issued.at
        )
    )


async def offer_follow_on(uow: NotificationsUnitOfWork, offered: DraftOffered) -> None:
    """A follow-on draft ready for the family: the link to confirm it, to the contacts of the request it follows."""
    draft = offered.draft
    await uow.notifications.add(
        follow_on_notice(draft).notifications(
            Contact.of(draft.delivery), request_id=draft.origin.request_id, event_id=str(draft.id), now=offered.at
        )
    )


async def list_notifications(request_id: uuid.UUID, *, uow: NotificationsUnitOfWork) -> list[Notification]:
    """What the citizen was told about a request or an e-KTP booking, and whether it reached them."""
    async with uow:
        return await uow.notifications.about(request_id)
