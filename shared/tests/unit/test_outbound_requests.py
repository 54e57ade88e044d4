"""Calls to outside systems counted by outcome (observability/outbound.py), through a real httpx client."""

import httpx
import pytest

from dukcapil_shared.observability import ServiceMetrics


def _answering(status_code: int) -> httpx.MockTransport:
    return httpx.MockTransport(lambda request: httpx.Response(status_code))


def _unreachable(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectTimeout("no answer", request=request)


def _count(metrics: ServiceMetrics, integration: str, outcome: str) -> float:
    value = metrics.registry.get_sample_value(
        "dukcapil_outbound_requests_total", {"integration": integration, "outcome": outcome}
    )
    assert value is not None, f"no series for {integration} {outcome}"
    return value


async def test_each_call_is_counted_by_its_outcome_and_every_outcome_starts_at_zero() -> None:
    metrics = ServiceMetrics()
    courier = httpx.AsyncClient(base_url="http://courier", transport=metrics.outbound_transport("courier", None))
    assert {_count(metrics, "courier", outcome) for outcome in ("ok", "rejected", "failed", "unreachable")} == {0}

    for status_code, outcome in ((200, "ok"), (302, "ok"), (401, "rejected"), (404, "rejected"), (503, "failed")):
        async with httpx.AsyncClient(
            base_url="http://courier", transport=metrics.outbound_transport("courier", _answering(status_code))
        ) as client:
            before = _count(metrics, "courier", outcome)
            await client.get("/tracing/api/list/v1/cnote/X")
            assert _count(metrics, "courier", outcome) == before + 1, (status_code, outcome)
    await courier.aclose()

    async with httpx.AsyncClient(
        transport=metrics.outbound_transport("sms_gateway", httpx.MockTransport(_unreachable))
    ) as client:
        with pytest.raises(httpx.ConnectTimeout):
            await client.post("http://sms/send", json={})
    assert _count(metrics, "sms_gateway", "unreachable") == 1
    assert _count(metrics, "courier", "unreachable") == 0, "each integration has its own series"
