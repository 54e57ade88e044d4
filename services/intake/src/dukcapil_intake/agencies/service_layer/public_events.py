"""Logging what agencies learn of a request: the dispatcher's handler for each step, run in the transaction that
recorded it; the relay publishes the log to the agencies' exchanges, and replays read it again later."""

from dukcapil_intake.agencies.domain.public_events import PublicEventNotDerivable, public_events_for
from dukcapil_intake.agencies.service_layer.unit_of_work import AgenciesUnitOfWork
from dukcapil_intake.requests.domain.events import StepRecorded
from dukcapil_shared.messaging import PermanentFailure


async def log_public_events(uow: AgenciesUnitOfWork, step: StepRecorded) -> None:
    """Log the public events the step becomes (an issued or revoked document), if any."""
    try:
        records = public_events_for(step.event, step.envelope, step.request)
    except PublicEventNotDerivable as error:
        # Retrying cannot help: the lifecycle event is parked, and the operator sees why.
        raise PermanentFailure(str(error)) from error
    for record in records:
        await uow.public_events.add(record)
