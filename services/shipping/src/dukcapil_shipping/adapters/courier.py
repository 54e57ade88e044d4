"""A client of JNE's partner API: form-encoded POSTs with partner credentials, and JSON answers.

Transient trouble (no connection, a timeout, a 5xx or 429) is retried a few times with exponential backoff
and then raised as CourierUnavailable; the caller retries later. A 4xx, or an answer saying "gagal", is
CourierRefused: asking again would get the same answer. A 404 is read more closely (`says_airway_bill_unknown`):
the courier saying it does not know an airway bill is AirwayBillUnknown, any other 404 is a courier that is
away or misrouted. Booking is safe to retry because the courier keys the airway bill on our order id (the
request id).
"""

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import structlog

from dukcapil_shared.contracts.regions import WIB
from dukcapil_shipping.domain.model import CourierReport, CourierStatus, Parcel, TrackingEntry
from dukcapil_shipping.service_layer.courier import (
    AirwayBillUnknown,
    CourierClient,
    CourierRefused,
    CourierUnavailable,
)

log = structlog.get_logger(__name__)

DATE_FORMAT = "%d-%m-%Y %H:%M"

_STATUS_BY_CODE = {
    "MNF": CourierStatus.manifested,
    "RC1": CourierStatus.manifested,
    "PU1": CourierStatus.picked_up,
    "IT1": CourierStatus.in_transit,
    "D01": CourierStatus.delivered,
    "U05": CourierStatus.failed,
    "RTS": CourierStatus.returned,
}
# For codes not in the table: the first phrase found in the description decides.
_STATUS_BY_PHRASE = (
    ("RETURN TO SHIPPER", CourierStatus.returned),
    ("RETURNED TO SHIPPER", CourierStatus.returned),
    ("UNDELIVERED", CourierStatus.failed),
    ("DELIVERED TO", CourierStatus.delivered),
    ("PICKED UP", CourierStatus.picked_up),
    ("MANIFEST", CourierStatus.manifested),
    ("RECEIVED BY JNE COUNTER", CourierStatus.manifested),
)
# pod_status values after which the courier's "keterangan" says why the parcel did not reach the receiver.
_NOT_DELIVERED = frozenset({"UNDELIVERED", "RETURN TO SHIPPER", "RETURNED"})


@dataclass(frozen=True)
class JneAccount:
    username: str
    api_key: str
    branch: str
    customer: str
    origin_code: str
    destination_code: str
    service: str = "REG"


@dataclass(frozen=True)
class Shipper:
    name: str
    address: str
    city: str
    zip: str
    phone: str


class JneCourier(CourierClient):
    name = "JNE"

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        account: JneAccount,
        shipper: Shipper,
        attempts: int = 3,
        backoff_seconds: float = 0.25,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._http = http
        self._account = account
        self._shipper = shipper
        self._attempts = attempts
        self._backoff = backoff_seconds
        self._sleep = sleep
        self.service = account.service

    async def book(self, parcel: Parcel) -> str:
        answer = await self._post(
            "/tracing/api/generatecnote",
            {
                "OLSHOP_BRANCH": self._account.branch,
                "OLSHOP_CUST": self._account.customer,
                "OLSHOP_ORDERID": parcel.order_id,
                "OLSHOP_SHIPPER_NAME": self._shipper.name,
                "OLSHOP_SHIPPER_ADDR1": self._shipper.address,
                "OLSHOP_SHIPPER_CITY": self._shipper.city,
                "OLSHOP_SHIPPER_ZIP": self._shipper.zip,
                "OLSHOP_SHIPPER_PHONE": self._shipper.phone,
                "OLSHOP_RECEIVER_NAME": parcel.receiver_name,
                "OLSHOP_RECEIVER_ADDR1": parcel.address_line1,
                "OLSHOP_RECEIVER_ADDR2": parcel.address_line2,
                "OLSHOP_RECEIVER_CITY": parcel.city,
                # Both are optional for us but required by the courier: "-" says "not known".
                "OLSHOP_RECEIVER_ZIP": parcel.postal_code or "-",
                "OLSHOP_RECEIVER_PHONE": parcel.phone or "-",
                "OLSHOP_QTY": "1",
                "OLSHOP_WEIGHT": "1",
                "OLSHOP_GOODSDESC": parcel.contents,
                "OLSHOP_GOODSVALUE": "0",
                "OLSHOP_ORIG": self._account.origin_code,
                "OLSHOP_DEST": parcel.destination_code or self._account.destination_code,
                "OLSHOP_SERVICE": self._account.service,
            },
        )
        try:
            [result] = answer["detail"]
            if result.get("status") != "sukses":
                raise CourierRefused(f"generatecnote for order {parcel.order_id}: {result.get('reason', result)}")
            return str(result["cnote_no"])
        except (KeyError, TypeError, ValueError) as error:
            raise CourierUnavailable(f"unexpected generatecnote answer: {str(answer)[:300]}") from error

    async def track(self, airway_bill: str) -> CourierReport:
        answer = await self._post(f"/tracing/api/list/v1/cnote/{airway_bill}", {})
        try:
            return _report(answer)
        except (KeyError, TypeError, ValueError) as error:
            raise CourierUnavailable(f"unexpected tracking answer for {airway_bill}: {str(answer)[:300]}") from error

    async def _post(self, path: str, form: dict[str, str]) -> Any:
        data = {"username": self._account.username, "api_key": self._account.api_key, **form}
        for attempt in range(1, self._attempts + 1):
            try:
                response = await self._http.post(path, data=data, headers={"Accept": "application/json"})
            except httpx.TransportError as error:  # connect errors and timeouts among them
                trouble = f"{type(error).__name__}: {error}"
            else:
                if response.status_code < 400:
                    try:
                        return response.json()
                    except ValueError:
                        trouble = f"HTTP {response.status_code} with a body that is not JSON"
                elif response.status_code >= 500 or response.status_code == 429:
                    trouble = f"HTTP {response.status_code}: {response.text[:200]}"
                else:
                    raise _refusal(path, response)
            if attempt < self._attempts:
                delay = self._backoff * 2 ** (attempt - 1)
                log.info("courier_retry", path=path, attempt=attempt, delay_s=delay, error=trouble)
                await self._sleep(delay)
        raise CourierUnavailable(f"{path}: {trouble} (after {self._attempts} attempts)")


UNKNOWN_AIRWAY_BILL_ERROR = "cnote no. not found"
"""What JNE's tracking API says, as `error` beside `"status": false`, of an airway bill it does not know."""


def says_airway_bill_unknown(status_code: int, body: str) -> bool:
    """Whether a tracking answer is the courier itself saying it does not know the airway bill.

    Only a 404 whose body is the partner API's own error document counts: a JSON object with `"status": false`
    and the error "Cnote No. Not Found.". A 404 in any other shape (an HTML page from a proxy or a web server, a
    framework's {"detail": "Not Found"} for a path that does not exist, an empty body) says that the call did not
    reach the tracking API: the courier is away, or our base URL or its routing is wrong. That is an outage,
    asked about again later, and never evidence that a parcel is lost.
    """
    if status_code != 404:
        return False
    try:
        answer = json.loads(body)
    except ValueError:
        return False
    if not isinstance(answer, dict) or answer.get("status") is not False:
        return False
    error = answer.get("error")
    return isinstance(error, str) and error.strip().casefold().startswith(UNKNOWN_AIRWAY_BILL_ERROR)


def _refusal(path: str, response: httpx.Response) -> Exception:
    said = f"{path}: HTTP {response.status_code}: {response.text[:300]}"
    if says_airway_bill_unknown(response.status_code, response.text):
        return AirwayBillUnknown(said)
    if response.status_code == 404:
        return CourierUnavailable(f"{said} (not the partner API's answer: the courier is away or misrouted)")
    return CourierRefused(said)


def _report(answer: dict[str, Any]) -> CourierReport:
    cnote = answer["cnote"]
    entries = tuple(
        TrackingEntry(
            status=_status(step.get("code"), step["desc"]).value,
            description=step["desc"],
            occurred_at=_moment(step["date"]),
            courier_code=step.get("code"),
        )
        for step in answer.get("history") or []
    )
    pod_status = (cnote.get("pod_status") or "").upper()
    delivered = pod_status == "DELIVERED"
    failed = pod_status in _NOT_DELIVERED
    pod_date = cnote.get("cnote_pod_date")
    return CourierReport(
        entries=entries,
        receiver_name=cnote.get("cnote_pod_receiver") if delivered else None,
        delivered_at=_moment(pod_date) if delivered and pod_date else None,
        failure_reason=(cnote.get("keterangan") or cnote.get("last_status")) if failed else None,
    )


def _status(code: str | None, description: str) -> CourierStatus:
    if code in _STATUS_BY_CODE:
        return _STATUS_BY_CODE[code]
    text = description.upper()
    return next((status for phrase, status in _STATUS_BY_PHRASE if phrase in text), CourierStatus.in_transit)


def _moment(text: str) -> datetime:
    """The courier writes local time (WIB) to the minute; we keep UTC."""
    return datetime.strptime(text, DATE_FORMAT).replace(tzinfo=WIB).astimezone(UTC)
