"""Three replicas of review and three of documents consuming the same queues, on the same databases.

The batch is 50 requests, not a few hundred: nine service processes share this machine's 2 cores, and the
suite must stay within its 8-minute budget.
"""

import asyncio
import re
from collections import defaultdict

import pytest

from . import broker
from .harness import Chaos, Driver, settle_and_count

pytestmark = [pytest.mark.e2e, pytest.mark.chaos]

REPLICAS = 3
NUMBER = re.compile(r"^(?P<code>[A-Z]+)/3602/(?P<year>\d{4})/(?P<sequence>\d{6})$")


@pytest.fixture(scope="module")
async def chaos(make_chaos) -> Chaos:  # type: ignore[no-untyped-def]
    return await make_chaos("replicas", replicas={"review": REPLICAS, "documents": REPLICAS})


@pytest.mark.timeout(300)
async def test_three_replicas_of_review_and_documents_process_each_request_once(chaos: Chaos, driver: Driver) -> None:
    """Every replica consumes; every request is reviewed, approved and documented once; document numbers are
    unique and without gaps for each type and year (the database is the test's own, so they start at 1)."""

    async def all_consuming() -> bool:
        stats = await asyncio.to_thread(broker.queue_stats, chaos.amqp_url)
        return all(
            queue in stats and stats[queue].consumers == REPLICAS
            for queue in ("dukcapil.review.requests", "dukcapil.documents.approvals")
        )

    await chaos.wait_until(f"{REPLICAS} consumers on review's and documents' queues", all_consuming, timeout=30)
    requests = await driver.run(50, concurrency=5)
    tally = await settle_and_count(chaos, requests, timeout=180)

    sequences: dict[tuple[str, str], list[int]] = defaultdict(list)
    for request_id, document in tally.documents.items():
        match = NUMBER.match(document["number"])
        assert match, f"{request_id}: unexpected document number {document['number']}"
        sequences[(match["code"], match["year"])].append(int(match["sequence"]))
    for (code, year), found in sequences.items():
        assert sorted(found) == list(range(1, len(found) + 1)), f"{code} {year}: numbers not 1..n: {sorted(found)}"
    assert len(sequences) == 4, f"expected a sequence for each of the four types: {sorted(sequences)}"
