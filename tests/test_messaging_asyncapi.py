"""``kit asyncapi``: the AsyncAPI 3.0 document of a service's event handlers."""

from __future__ import annotations

import json

from click.testing import CliRunner

from kitcore.cli import make_cli
from kitcore.messaging.asyncapi import document
from kitcore.testing.messaging import Orders


def test_document_lists_event_handlers_with_their_payload_schemas() -> None:
    doc = document(Orders(), {"dev": "nats://127.0.0.1:4222"})
    assert doc["asyncapi"] == "3.0.0" and doc["info"]["title"] == "Orders"
    assert doc["servers"] == {"dev": {"host": "127.0.0.1:4222", "protocol": "nats"}}
    assert {c["address"] for c in doc["channels"].values()} == {"orders.placed", "orders.cancelled"}
    assert "count" not in doc["channels"]  # request-reply methods are not events
    op = doc["operations"]["order_placed"]
    assert op["action"] == "receive" and op["channel"] == {"$ref": "#/channels/order_placed"}
    payload = doc["components"]["messages"]["order_placedMessage"]["payload"]
    name = payload["$ref"].rsplit("/", 1)[-1]
    schema = doc["components"]["schemas"][name]
    assert schema["required"] == ["id", "items"]
    assert schema["properties"]["items"] == {"type": "array", "items": {"type": "string"}}


def test_kit_asyncapi_command() -> None:
    result = CliRunner().invoke(
        make_cli(),
        ["asyncapi", "kitcore.testing.messaging:Orders", "--server", "rabbit=amqp://h:5672/"],
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["servers"]["rabbit"] == {"host": "h:5672", "protocol": "amqp"}
    assert len(doc["operations"]) == 2


def test_kit_asyncapi_bad_target() -> None:
    result = CliRunner().invoke(make_cli(), ["asyncapi", "no_such_module_x:Thing"])
    assert result.exit_code == 2 and "No module named" in result.output


def test_kit_asyncapi_refuses_what_it_cannot_document() -> None:
    no_events = CliRunner().invoke(
        make_cli(), ["asyncapi", "kitcore.testing.messaging:EchoService"]
    )
    assert no_events.exit_code == 2 and "no event handlers" in no_events.output
    bad_server = CliRunner().invoke(
        make_cli(), ["asyncapi", "kitcore.testing.messaging:Orders", "--server", "rabbit"]
    )
    assert bad_server.exit_code == 2 and "NAME=URL" in bad_server.output
