"""Metrics, traces and the request id: what every service exports so that the office can see it working.

`ServiceRuntime` wires all of it; see metrics.py for the series, tracing.py for how one trace follows a request.
"""

from dukcapil_shared.observability.metrics import ConsumerOutcome, DeadLetterReason, ServiceMetrics
from dukcapil_shared.observability.tracing import Tracing

__all__ = ["ConsumerOutcome", "DeadLetterReason", "ServiceMetrics", "Tracing"]
