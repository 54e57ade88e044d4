import uuid

from dukcapil_shared.contracts import (
    ALL_EVENTS,
    OPERATIONS_EVENTS,
    Envelope,
    MessageParked,
    MessageResolved,
    event_class,
)


def test_the_operations_events_are_versioned_documented_and_apart_from_the_lifecycle() -> None:
    assert [event.routing_key() for event in OPERATIONS_EVENTS] == [
        "operations.message_parked.v1",
        "operations.message_resolved.v1",
    ]
    assert not set(OPERATIONS_EVENTS) & set(ALL_EVENTS)
    for event in OPERATIONS_EVENTS:
        assert event_class(event.routing_key()) is event
        for name, field in event.model_fields.items():
            assert field.description, f"{event.__name__}.{name} has no description"


def test_a_parked_message_travels_in_an_envelope_about_its_request() -> None:
    event = MessageParked(
        request_id=uuid.uuid4(),
        service="review",
        queue="dukcapil.review.requests",
        message_routing_key="request.submitted.v1",
        error="attempts exhausted: RuntimeError: boom",
        attempts=6,
        dead_letter_id=uuid.uuid4(),
    )
    envelope = Envelope.wrap(event, source="/dukcapil/lebak/review")
    assert envelope.type == "operations.message_parked.v1" and envelope.subject == str(event.request_id)
    assert Envelope.model_validate_json(envelope.to_json()).event() == event
    resolved = MessageResolved(
        request_id=event.request_id,
        service="review",
        dead_letter_id=event.dead_letter_id,
        resolution="discarded",
        resolved_by="rina",
        reason="test data",
        queue=event.queue,
        message_routing_key=event.message_routing_key,
    )
    assert Envelope.model_validate_json(Envelope.wrap(resolved, source="/r").to_json()).event() == resolved
