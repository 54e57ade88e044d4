from dukcapil_documents.domain.model import Document
from dukcapil_documents.entrypoints.consumers import subscriptions
from dukcapil_shared.contracts import DocumentIssued, RequestRejected
from dukcapil_testing import InMemoryEventBus

from ..fakes import FakeDocumentsUnitOfWork, FakeRenderer, a_press
from .test_handlers import approval


async def test_approvals_from_the_broker_issue_one_document_per_request() -> None:
    uow = FakeDocumentsUnitOfWork()
    event = approval()
    async with InMemoryEventBus("documents", subscriptions(press=a_press()), lambda: uow) as bus:
        assert await bus.publish(event) == ["dukcapil.documents.approvals"]
        await bus.publish(event)
    [issued] = uow.outbox.events
    assert isinstance(issued, DocumentIssued) and issued.request_id == event.request_id


async def test_documents_does_not_listen_to_rejections() -> None:
    async with InMemoryEventBus("documents", subscriptions(press=a_press()), FakeDocumentsUnitOfWork) as bus:
        assert await bus.publish(RequestRejected(request_id=approval().request_id, reviewer="r", reason="x")) == []


class TrackedUnitOfWork(FakeDocumentsUnitOfWork):
    def __init__(self) -> None:
        super().__init__()
        self.open = False

    async def __aenter__(self) -> "TrackedUnitOfWork":
        self.open = True
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.open = False
        await self.rollback()


class WatchingRenderer(FakeRenderer):
    """Notes, for each document it draws, whether a unit of work (a database transaction) was open meanwhile."""

    def __init__(self, uow: TrackedUnitOfWork) -> None:
        super().__init__()
        self.uow = uow
        self.in_transaction: list[bool] = []

    async def render(self, document: Document, *, verification_url: str) -> bytes:
        self.in_transaction.append(self.uow.open)
        return await super().render(document, verification_url=verification_url)


async def test_with_its_unit_of_work_the_service_draws_each_document_outside_any_transaction() -> None:
    uow = TrackedUnitOfWork()
    renderer = WatchingRenderer(uow)
    press = a_press(renderer=renderer)
    events = [approval(), approval("akta_kematian")]
    async with InMemoryEventBus("documents", subscriptions(press=press, unit_of_work=lambda: uow), lambda: uow) as bus:
        for event in events:
            await bus.publish(event)
        await bus.publish(events[0])
    assert renderer.in_transaction == [False, False]
    assert sorted(document.request_id for document in uow.issued) == sorted(event.request_id for event in events)
    assert len(uow.outbox.events) == 2
