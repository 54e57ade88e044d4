"""AMQP_URL naming one broker or every node of a cluster, and the order in which the nodes are tried."""

import pytest
from pydantic import ValidationError
from pydantic_settings import SettingsConfigDict
from yarl import URL

from dukcapil_shared.messaging.cluster import BrokerAddressesInvalid, BrokerNodes, broker_addresses, node_urls
from dukcapil_shared.settings import ServiceSettings


def test_one_url_is_one_node() -> None:
    assert broker_addresses("amqp://guest:guest@localhost:5672/") == [URL("amqp://guest:guest@localhost:5672/")]


def test_a_cluster_is_its_nodes_in_order_with_the_service_signing_in_to_each() -> None:
    urls = node_urls(
        "amqp://rabbit-1:5672/lebak, amqp://rabbit-2:5672/lebak,amqps://rabbit-3:5671/lebak",
        signed_in_as=URL("amqp://dukcapil-review:secret@rabbit-1:5672/lebak"),
    )
    assert [str(url) for url in urls] == [
        "amqp://dukcapil-review:secret@rabbit-1:5672/lebak",
        "amqp://dukcapil-review:secret@rabbit-2:5672/lebak",
        "amqps://dukcapil-review:secret@rabbit-3:5671/lebak",
    ]


@pytest.mark.parametrize(
    ("amqp_url", "says"),
    [
        ("", "names no broker"),
        (" , ", "names no broker"),
        ("http://rabbit-1:15672/", "is not an amqp://"),
        ("amqp://rabbit-1:5672/lebak,amqp://rabbit-2:5672/other", "share one virtual host"),
    ],
)
def test_what_is_not_a_broker_or_one_cluster_is_refused_with_the_reason(amqp_url: str, says: str) -> None:
    with pytest.raises(BrokerAddressesInvalid, match=says):
        broker_addresses(amqp_url)


def test_a_refusal_never_shows_a_password() -> None:
    with pytest.raises(BrokerAddressesInvalid) as refused:
        broker_addresses("http://admin:s3cret@rabbit-1:15672/")
    assert "s3cret" not in str(refused.value)


def test_the_nodes_are_tried_in_turn_from_the_current_one_and_keep_the_connection_options() -> None:
    nodes = BrokerNodes([URL("amqp://rabbit-1:5672/"), URL("amqp://rabbit-2:5673/"), URL("amqps://rabbit-3/")])
    template = URL("amqp://dukcapil-intake:secret@rabbit-1:5672/lebak?name=intake&heartbeat=30")
    assert str(nodes.on(template)) == "amqp://dukcapil-intake:secret@rabbit-1:5672/lebak?name=intake&heartbeat=30"
    nodes.move_on()
    assert str(nodes.on(template)) == "amqp://dukcapil-intake:secret@rabbit-2:5673/lebak?name=intake&heartbeat=30"
    nodes.move_on()
    assert str(nodes.on(template)) == "amqps://dukcapil-intake:secret@rabbit-3/lebak?name=intake&heartbeat=30"
    assert nodes.move_on() == URL("amqp://rabbit-1:5672/")


class ProbeSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PROBE_", extra="ignore", hide_input_in_errors=True)
    port: int = 9999


def test_a_service_refuses_to_start_on_an_amqp_url_that_is_not_one_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVIRONMENT", "development")
    monkeypatch.setenv("PROBE_DATABASE_URL", "sqlite+aiosqlite:///probe.db")
    monkeypatch.setenv("AMQP_URL", "amqp://rabbit-1:5672/lebak,amqp://rabbit-2:5672/")
    with pytest.raises(ValidationError, match="share one virtual host"):
        ProbeSettings()
    monkeypatch.setenv("AMQP_URL", "amqp://rabbit-1:5672/lebak,amqp://rabbit-2:5672/lebak")
    assert ProbeSettings().amqp_url.count("amqp://") == 2
