"""The population register as review sees it: a port for looking people and family cards up, and how one request's
lookups are made (all at once, within one time limit) and retried when the register does not answer."""

import abc
import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from dukcapil_review.domain.register import (
    RegisterAnswers,
    RegisteredFamily,
    RegisteredPerson,
    RegisterQuestions,
    cards_to_ask,
)

DEFAULT_RETRY_DELAYS = tuple(
    timedelta(seconds=seconds) for seconds in (30, 60, 120, 300, 600, 1800, 3600, 7200, 14400, 28800)
)
"""After each attempt that found the register silent, the wait before the next: about 16 hours in all, then the
checks stay not done and a reviewer looks the people up by hand."""


class RegisterUnavailable(Exception):
    """The register did not answer in time, refused us, or answered with an error: ask again later."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class PopulationRegister(abc.ABC):
    """Read-only lookups in the population register (SIAK). Either method raises RegisterUnavailable."""

    @abc.abstractmethod
    async def person(self, nik: str) -> RegisteredPerson | None:
        """The resident with this NIK, or None when the register has nobody by it."""

    @abc.abstractmethod
    async def family(self, kk_number: str) -> RegisteredFamily | None:
        """The family card with this number and its members, or None when the register has no such card."""


@dataclass(frozen=True)
class RegisterLookups:
    """How review consults the register: every lookup of one request within `timeout` seconds, and when to try
    again after the register did not answer."""

    register: PopulationRegister
    timeout: float = 3.0
    retry_delays: Sequence[timedelta] = DEFAULT_RETRY_DELAYS

    async def consult(self, questions: RegisterQuestions) -> RegisterAnswers:
        """Everything the register says about a request's people and card; raises RegisterUnavailable."""
        try:
            async with asyncio.timeout(self.timeout):
                niks = questions.niks
                people = await asyncio.gather(*(self.register.person(nik) for nik in niks))
                answers = RegisterAnswers(people=dict(zip(niks, people, strict=True)))
                cards = cards_to_ask(questions, answers)
                families = await asyncio.gather(*(self.register.family(number) for number in cards))
        except TimeoutError as error:
            raise RegisterUnavailable(f"no answer within {self.timeout:g} s") from error
        return RegisterAnswers(people=answers.people, families=dict(zip(cards, families, strict=True)))

    def retry_at(self, attempts: int, now: datetime) -> datetime | None:
        """When to ask again after `attempts` attempts without an answer; None once they are used up."""
        if attempts > len(self.retry_delays):
            return None
        return now + self.retry_delays[attempts - 1]
