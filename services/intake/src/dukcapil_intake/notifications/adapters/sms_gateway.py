"""SMS through an HTTP gateway: a JSON POST `{to, message}` with the API key in a header, the shape most
Indonesian SMS gateways offer. Numbers go out as 62812...; the gateway simulator (dukcapil_devtools.message_sinks)
speaks the same."""

import httpx

from dukcapil_intake.notifications.service_layer.notifications import NotificationFailed, NotificationRefused, SmsSender

_REFUSED = {400, 422}
"""The gateway says the message itself is wrong (e.g. the number): sending it again will not help."""


class HttpSmsGateway(SmsSender):
    def __init__(self, client: httpx.AsyncClient, *, url: str, api_key: str, key_header: str = "X-API-Key") -> None:
        self._client = client
        self._url = url
        self._headers = {key_header: api_key}

    async def send(self, *, message_id: str, to: str, message: str) -> None:
        try:
            response = await self._client.post(self._url, json={"to": to, "message": message}, headers=self._headers)
        except httpx.HTTPError as error:
            raise NotificationFailed(f"SMS gateway unreachable: {type(error).__name__}") from error
        if response.status_code in _REFUSED:
            raise NotificationRefused(f"SMS gateway refused the message: HTTP {response.status_code}")
        if response.is_error:
            raise NotificationFailed(f"SMS gateway answered HTTP {response.status_code}")
        if _reports_failure(response):
            raise NotificationFailed("SMS gateway answered HTTP 200 with a failure status")


def _reports_failure(response: httpx.Response) -> bool:
    """Several gateways answer 200 with `{"status": false}` or `"error"` in the body when they did not send."""
    try:
        body = response.json()
    except ValueError:
        return False
    return isinstance(body, dict) and body.get("status") in (False, "error", "failed")
