"""The port to the population register (SIAK), read-only: intake asks, never writes."""

import abc

from dukcapil_intake.follow_ons.domain.register import RegisteredFamily, RegisteredPerson


class RegisterUnavailable(Exception):
    """The register did not answer, or answered what it should not (a server error, a refused key): ask later."""


class Register(abc.ABC):
    @abc.abstractmethod
    async def person(self, nik: str) -> RegisteredPerson | None:
        """None: the register has nobody with that NIK. Raises RegisterUnavailable."""

    @abc.abstractmethod
    async def family(self, kk_number: str) -> RegisteredFamily | None:
        """None: the register has no family card with that number. Raises RegisterUnavailable."""
