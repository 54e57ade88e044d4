"""The courier as the service layer sees it; adapters/courier.py speaks a real courier's API."""

import abc

from dukcapil_shipping.domain.model import CourierReport, Parcel


class CourierUnavailable(Exception):
    """The courier did not answer, or answered with a server error, even after retries: try again later."""


class CourierRefused(Exception):
    """The courier refused the call (bad credentials, invalid order, unknown airway bill): retrying will not help."""


class AirwayBillUnknown(CourierRefused):
    """The courier answers, in its own words, that it does not know the airway bill: not an outage, and asking
    again will not bring the parcel back. Only a courier client that can tell this from a misrouted call raises it."""


class CourierClient(abc.ABC):
    name: str
    """The courier company, e.g. JNE."""
    service: str
    """The service level booked, e.g. REG."""

    @abc.abstractmethod
    async def book(self, parcel: Parcel) -> str:
        """The parcel's airway bill; booking the same order id again returns the same one."""

    @abc.abstractmethod
    async def track(self, airway_bill: str) -> CourierReport:
        """The courier's tracking of the airway bill; AirwayBillUnknown when the courier says it has none."""
