"""Where a request stands, as the citizen sees it."""

from enum import StrEnum


class RequestStatus(StrEnum):
    submitted = "submitted"
    in_review = "in_review"
    info_requested = "info_requested"
    approved = "approved"
    rejected = "rejected"
    document_issued = "document_issued"
    shipped = "shipped"
    delivered = "delivered"
    delivery_failed = "delivery_failed"
    ready_for_pickup = "ready_for_pickup"
    collected = "collected"
    cancelled = "cancelled"
