from dukcapil_documents.entrypoints.consumers import subscriptions
from dukcapil_shared.contracts import DocumentIssued, RequestRejected
from dukcapil_shared.testing import InMemoryEventBus

from ..fakes import FakeDocumentsUnitOfWork, a_press
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
