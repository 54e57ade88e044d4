import json
import uuid

import pytest
from pydantic import ValidationError

from dukcapil_shared.contracts import (
    ALL_EVENTS,
    Envelope,
    RequestCancelled,
    RequestSubmitted,
    UnknownEventType,
    event_class,
)


def test_every_lifecycle_event_has_a_versioned_routing_key_and_documented_fields() -> None:
    keys = [event.routing_key() for event in ALL_EVENTS]
    assert len(set(keys)) == len(keys) == 19
    for event in ALL_EVENTS:
        assert event.routing_key().endswith(".v1")
        assert event_class(event.routing_key()) is event
        for name, field in event.model_fields.items():
            assert field.description, f"{event.__name__}.{name} has no description"


def test_the_envelope_carries_the_cloudevents_attributes_and_round_trips() -> None:
    event = RequestCancelled(request_id=uuid.uuid4(), reason="salah pilih layanan")
    envelope = Envelope.wrap(
        event, source="/dukcapil/lebak/intake", traceparent="00-" + "a" * 32 + "-" + "b" * 16 + "-01"
    )
    wire = json.loads(envelope.to_json())
    assert {"id", "source", "type", "specversion", "time", "subject", "datacontenttype", "traceparent", "data"} <= set(
        wire
    )
    assert wire["specversion"] == "1.0"
    assert wire["type"] == "request.cancelled.v1"
    assert wire["subject"] == str(event.request_id)
    assert Envelope.model_validate_json(envelope.to_json()).event() == event


def test_consumers_ignore_fields_they_do_not_know() -> None:
    event = RequestCancelled(request_id=uuid.uuid4())
    wire = json.loads(Envelope.wrap(event, source="/t").to_json())
    wire["data"]["added_in_a_later_minor_version"] = 1
    wire["an_extension_attribute"] = "x"
    assert Envelope.model_validate(wire).event() == event


def test_unknown_types_and_bad_payloads_are_refused() -> None:
    envelope = Envelope.wrap(RequestCancelled(request_id=uuid.uuid4()), source="/t")
    with pytest.raises(UnknownEventType):
        envelope.model_copy(update={"type": "request.cancelled.v9"}).event()
    with pytest.raises(ValidationError):
        envelope.model_copy(update={"type": RequestSubmitted.routing_key()}).event()
