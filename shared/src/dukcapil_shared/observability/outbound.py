"""Calls to the office's outside systems (the courier's API, the SMS gateway), counted by outcome.

An httpx transport that wraps the real one: each request the client sends (every retry included) is counted in
dukcapil_outbound_requests_total under its integration and outcome, which the alerting rules read
(deploy/prometheus/alerts.yml: IntegrationFailing, IntegrationRejecting). Nothing of the request is a label.
"""

import httpx
from prometheus_client import Counter


class OutboundOutcome:
    OK = "ok"
    """Answered below 400."""
    REJECTED = "rejected"
    """Answered 4xx: our request or our credentials are refused (a wrong API key, an unknown airway bill)."""
    FAILED = "failed"
    """Answered 5xx: the provider is in trouble."""
    UNREACHABLE = "unreachable"
    """No answer: no connection, or none within the timeout."""

    ALL = (OK, REJECTED, FAILED, UNREACHABLE)


def outcome_of(status_code: int) -> str:
    if status_code >= 500:
        return OutboundOutcome.FAILED
    if status_code >= 400:
        return OutboundOutcome.REJECTED
    return OutboundOutcome.OK


class CountedTransport(httpx.AsyncBaseTransport):
    def __init__(self, counter: Counter, integration: str, inner: httpx.AsyncBaseTransport | None = None) -> None:
        self._inner = inner or httpx.AsyncHTTPTransport()
        # Every outcome's series exists from the start at 0, so that rates and ratios have something to compare.
        self._counts = {
            outcome: counter.labels(integration=integration, outcome=outcome) for outcome in OutboundOutcome.ALL
        }

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            response = await self._inner.handle_async_request(request)
        except httpx.TransportError:  # timeouts included
            self._counts[OutboundOutcome.UNREACHABLE].inc()
            raise
        self._counts[outcome_of(response.status_code)].inc()
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()
