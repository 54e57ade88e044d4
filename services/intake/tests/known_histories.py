"""Requests with known histories, for the statistics: what each stage took is written beside each request, so the
expected figures can be worked out by hand (see test_statistics.py)."""

import uuid
from datetime import UTC, datetime, timedelta

from dukcapil_intake.requests.domain.model import RequestStatus, ServiceRequest

from .examples import AHMAD, MINIMAL_DETAILS, pickup

RANGKASBITUNG, MALINGPING = "36.02.14", "36.02.01"

# event type → the status it moves a request to (as intake's `domain.history.describe` has it); None: it moves none
_MOVES = {
    "request.submitted.v1": RequestStatus.submitted,
    "review.started.v1": RequestStatus.in_review,
    "request.approved.v1": RequestStatus.approved,
    "request.rejected.v1": RequestStatus.rejected,
    "document.issued.v1": RequestStatus.document_issued,
    "shipment.created.v1": RequestStatus.shipped,
    "shipment.status_changed.v1": None,
    "shipment.delivery_failed.v1": RequestStatus.delivery_failed,
    "shipment.ready_for_pickup.v1": RequestStatus.ready_for_pickup,
    "shipment.delivered.v1": RequestStatus.delivered,
    "shipment.collected.v1": RequestStatus.collected,
}


_STAGES = {"review": "review", "document": "documents", "shipment": "shipping"}
_STAGE_OF_EVENT = {"request.submitted.v1": "intake", "request.approved.v1": "review", "request.rejected.v1": "review"}


def request_with_history(
    number: str, request_type: str, kecamatan: str, submitted_at: datetime, steps: list[tuple[str, float]]
) -> ServiceRequest:
    """A request whose history has each (event type, hours after submission) of `steps`."""
    request = ServiceRequest(
        id=uuid.uuid4(),
        number=number,
        type=request_type,
        applicant=AHMAD,
        details=MINIMAL_DETAILS[request_type],
        delivery=pickup(kecamatan),
        kecamatan_code=kecamatan,
        channel="online",
        status=RequestStatus.submitted,
        submitted_at=submitted_at,
        updated_at=submitted_at,
    )
    for event_type, hours in [("request.submitted.v1", 0.0), *steps]:
        stage = _STAGE_OF_EVENT.get(event_type) or _STAGES[event_type.split(".")[0]]
        request.record(
            event_id=str(uuid.uuid4()),
            event_type=event_type,
            stage=stage,
            occurred_at=submitted_at + timedelta(hours=hours),
            note="-",
            moves_to=_MOVES[event_type],
        )
    return request


def known_requests() -> dict[str, ServiceRequest]:
    """Six requests; the stage durations (hours) of each are in the comments."""
    return {
        # 18:00 UTC on 31 October is 01:00 WIB on 1 November: a November request.
        # intake 0.5, review 9.5, documents 1, dispatch 2, delivery 24, end to end 37
        "A": request_with_history(
            "360214-20261101-0001",
            "kartu_keluarga",
            RANGKASBITUNG,
            datetime(2026, 10, 31, 18, 0, tzinfo=UTC),
            [
                ("review.started.v1", 0.5),
                ("request.approved.v1", 10),
                ("document.issued.v1", 11),
                ("shipment.created.v1", 13),
                ("shipment.status_changed.v1", 20),
                ("shipment.delivered.v1", 37),
            ],
        ),
        # Picked up at the office. intake 1, review 4, documents 1, dispatch 0.5, delivery 48, end to end 54.5
        "B": request_with_history(
            "360214-20261110-0001",
            "kartu_keluarga",
            RANGKASBITUNG,
            datetime(2026, 11, 10, 2, 0, tzinfo=UTC),
            [
                ("review.started.v1", 1),
                ("request.approved.v1", 5),
                ("document.issued.v1", 6),
                ("shipment.ready_for_pickup.v1", 6.5),
                ("shipment.collected.v1", 54.5),
            ],
        ),
        # Rejected. intake 2, review 18
        "C": request_with_history(
            "360201-20261115-0001",
            "akta_kematian",
            MALINGPING,
            datetime(2026, 11, 15, 3, 0, tzinfo=UTC),
            [("review.started.v1", 2), ("request.rejected.v1", 20)],
        ),
        # 16:00 UTC on 31 October is 23:00 WIB the same day: an October request, still in review. intake 0.25
        "D": request_with_history(
            "360214-20261031-0001",
            "biodata_wni",
            RANGKASBITUNG,
            datetime(2026, 10, 31, 16, 0, tzinfo=UTC),
            [("review.started.v1", 0.25)],
        ),
        # A December request, only submitted.
        "E": request_with_history(
            "360201-20261201-0001", "surat_pindah", MALINGPING, datetime(2026, 12, 1, 1, 0, tzinfo=UTC), []
        ),
        # Delivery failed, then collected; the document was corrected (issued again) meanwhile: the first issue
        # counts. intake 1, review 2, documents 1, dispatch 1, delivery 55, end to end 60
        "F": request_with_history(
            "360214-20261120-0001",
            "kartu_keluarga",
            RANGKASBITUNG,
            datetime(2026, 11, 20, 0, 0, tzinfo=UTC),
            [
                ("review.started.v1", 1),
                ("request.approved.v1", 3),
                ("document.issued.v1", 4),
                ("shipment.created.v1", 5),
                ("document.issued.v1", 30),
                ("shipment.delivery_failed.v1", 50),
                ("shipment.ready_for_pickup.v1", 51),
                ("shipment.collected.v1", 60),
            ],
        ),
    }


# What the November requests (A, B, C, F) give, worked out by hand: (count, mean, p50, p90) in hours.
NOVEMBER_LEAD_TIMES = {
    "intake": (4, 1.125, 1.0, 1.7),  # 0.5, 1, 1, 2
    "review": (4, 8.375, 6.75, 15.45),  # 2, 4, 9.5, 18
    "documents": (3, 1.0, 1.0, 1.0),  # 1, 1, 1 (C was rejected)
    "dispatch": (3, 3.5 / 3, 1.0, 1.8),  # 0.5, 1, 2
    "delivery": (3, 127 / 3, 48.0, 53.6),  # 24, 48, 55
    "end_to_end": (3, 50.5, 54.5, 58.9),  # 37, 54.5, 60
}
