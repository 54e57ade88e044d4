"""The broker's side of agencies: RabbitMQ's management HTTP API for users, permissions, queues and bindings,
and AMQP for putting replayed events into an agency's queue."""

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import aio_pika
import aio_pika.exceptions
import anyio
import httpx

from dukcapil_intake.agencies.domain.public_events import LoggedPublicEvent
from dukcapil_intake.agencies.service_layer.agencies import (
    BrokerAdmin,
    BrokerAdminFailed,
    QueueDelivery,
    QueueState,
    ReplayNotDelivered,
)
from dukcapil_shared.contracts import CONTENT_TYPE
from dukcapil_shared.contracts.public import PUBLIC_SOURCE

REPLAY_HEADER = "x-replayed-at"


def _segment(name: str) -> str:
    return quote(name, safe="")


class RabbitMqManagement(BrokerAdmin):
    """One virtual host's administration through the management API (the rabbitmq_management plugin), as a user
    with the administrator tag."""

    def __init__(
        self,
        *,
        url: str,
        username: str,
        password: str,
        vhost: str,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._url = url.rstrip("/")
        self._vhost = _segment(vhost)
        self._client = httpx.AsyncClient(
            base_url=f"{self._url}/api", auth=(username, password), timeout=timeout, transport=transport
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def user_exists(self, user: str) -> bool:
        response = await self._call("GET", f"/users/{_segment(user)}", missing_ok=True)
        return response.status_code == 200

    async def create_user(self, user: str, password: str) -> None:
        # No tags: the user cannot log in to the management UI or API.
        await self._call("PUT", f"/users/{_segment(user)}", json={"password": password, "tags": ""})

    async def delete_user(self, user: str) -> None:
        await self._call("DELETE", f"/users/{_segment(user)}", missing_ok=True)

    async def set_permissions(self, user: str, *, configure: str, write: str, read: str) -> None:
        await self._call(
            "PUT",
            f"/permissions/{self._vhost}/{_segment(user)}",
            json={"configure": configure, "write": write, "read": read},
        )

    async def set_topic_permissions(self, user: str, *, exchange: str, write: str, read: str) -> None:
        await self._call(
            "PUT",
            f"/topic-permissions/{self._vhost}/{_segment(user)}",
            json={"exchange": exchange, "write": write, "read": read},
        )

    async def declare_topic_exchange(self, name: str) -> None:
        # The same properties the services declare it with (messaging/topology.py), or the broker refuses.
        await self._call(
            "PUT",
            f"/exchanges/{self._vhost}/{_segment(name)}",
            json={"type": "topic", "durable": True, "auto_delete": False, "internal": False, "arguments": {}},
        )

    async def declare_queue(self, name: str, arguments: dict[str, Any]) -> None:
        await self._call(
            "PUT",
            f"/queues/{self._vhost}/{_segment(name)}",
            json={"durable": True, "auto_delete": False, "arguments": arguments},
        )

    async def bind_queue(self, *, queue: str, exchange: str, binding_key: str) -> None:
        await self._call(
            "POST",
            f"/bindings/{self._vhost}/e/{_segment(exchange)}/q/{_segment(queue)}",
            json={"routing_key": binding_key, "arguments": {}},
        )

    async def delete_queue(self, name: str) -> None:
        await self._call("DELETE", f"/queues/{self._vhost}/{_segment(name)}", missing_ok=True)

    async def close_connections(self, user: str, reason: str) -> int:
        connections = (await self._call("GET", f"/vhosts/{self._vhost}/connections")).json()
        names = [connection["name"] for connection in connections if connection.get("user") == user]
        for name in names:
            await self._call("DELETE", f"/connections/{_segment(name)}", headers={"X-Reason": reason}, missing_ok=True)
        return len(names)

    async def queue_state(self, name: str) -> QueueState | None:
        response = await self._call("GET", f"/queues/{self._vhost}/{_segment(name)}", missing_ok=True)
        if response.status_code == 404:
            return None
        body = response.json()
        # A new queue's figures appear only after the next statistics round.
        return QueueState(messages=int(body.get("messages") or 0), consumers=int(body.get("consumers") or 0))

    async def _call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        headers: dict[str, str] | None = None,
        missing_ok: bool = False,
    ) -> httpx.Response:
        try:
            response = await self._client.request(method, path, json=json, headers=headers)
        except httpx.HTTPError as error:
            raise BrokerAdminFailed(
                f"cannot reach RabbitMQ's management API at {self._url} ({type(error).__name__}: {error}); enable "
                "it with `rabbitmq-plugins enable rabbitmq_management`, or set INTAKE_RABBITMQ_MANAGEMENT_URL"
            ) from error
        if response.status_code == 404 and missing_ok:
            return response
        if response.status_code == 401:
            raise BrokerAdminFailed(
                f"RabbitMQ's management API at {self._url} refused the credentials: set "
                "INTAKE_RABBITMQ_MANAGEMENT_USER and INTAKE_RABBITMQ_MANAGEMENT_PASSWORD to an administrator's"
            )
        if response.status_code >= 400:
            raise BrokerAdminFailed(f"RabbitMQ refused {method} {path}: {response.status_code} {_reason(response)}")
        return response


def _reason(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    return str(body.get("reason") or body.get("error") or body) if isinstance(body, dict) else str(body)[:300]


class AmqpQueueDelivery(QueueDelivery):
    """Publishes into one agency's queue, persistently, with publisher confirms and the mandatory flag, so an event
    that does not reach the queue raises rather than vanishes. A replayed event keeps the routing key it had live
    (`death.registered.v1.36.02.14`): it is published to the default exchange under that key with the queue named
    in the BCC header (RabbitMQ's sender-selected distribution), which routes it to that queue alone and is
    removed before delivery."""

    def __init__(self, amqp_url: str, *, timeout: float = 30.0, in_flight: int = 100) -> None:
        self._amqp_url = amqp_url
        self._timeout = timeout
        self._in_flight = in_flight

    async def deliver(self, queue: str, events: Sequence[LoggedPublicEvent]) -> None:
        if not events:
            return
        try:
            await self._deliver(queue, events)
        except (aio_pika.exceptions.AMQPException, OSError, TimeoutError) as error:
            raise ReplayNotDelivered(
                f"the broker did not take every replayed event for {queue} ({type(error).__name__}: {error})"
            ) from error

    async def _deliver(self, queue: str, events: Sequence[LoggedPublicEvent]) -> None:
        replayed_at = datetime.now(UTC)
        with anyio.fail_after(self._timeout):
            connection = await aio_pika.connect(self._amqp_url)
        async with connection:
            channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
            for start in range(0, len(events), self._in_flight):
                batch = events[start : start + self._in_flight]
                # Confirms are awaited per batch rather than one by one: a batch costs about one round trip.
                with anyio.fail_after(self._timeout):
                    await asyncio.gather(*(self._publish(channel, queue, event, replayed_at) for event in batch))

    async def _publish(
        self, channel: aio_pika.abc.AbstractChannel, queue: str, event: LoggedPublicEvent, replayed_at: datetime
    ) -> None:
        routing_key = f"{event.event_type}.{event.region_code}"  # as the relay sends it
        message = aio_pika.Message(
            event.body.encode(),
            message_id=event.id,
            correlation_id=event.document_number,
            type=routing_key,
            content_type=CONTENT_TYPE,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            timestamp=replayed_at,
            headers={"source": PUBLIC_SOURCE, REPLAY_HEADER: replayed_at.isoformat(), "BCC": [queue]},
        )
        await channel.default_exchange.publish(message, routing_key=routing_key, mandatory=True)
