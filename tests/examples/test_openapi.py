"""Every example's OpenAPI document, fuzzed by schemathesis against the running example.

Each example runs as a real process on loopback; schemathesis reads its /openapi.json and
sends generated requests, valid and invalid, to every operation. Checked on each reply:
no 5xx, the status is documented, the body matches its schema, the content type is the
declared one. Also: /docs serves Swagger UI from the package (no CDN), /healthz and
/readyz answer.
"""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests import chromium
from tests.examples.conftest import Example

EXAMPLES = ["stringsvc1", "stringsvc2", "stringsvc3", "profilesvc"]
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module", params=EXAMPLES)
def example(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Example]:
    name = request.param
    running = Example(f"examples.{name}", [], tmp_path_factory.mktemp(name) / "log").wait()
    try:
        yield running
    finally:
        running.stop()


@pytest.mark.parametrize("mode", list(GenerationMode), ids=lambda m: m.value)
def test_every_operation_honours_its_document(example: Example, mode: GenerationMode) -> None:
    schema = schemathesis.openapi.from_url(f"{example.url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert operations, "the document has no operations"
    exercised = 0
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
        def honoured(case: schemathesis.Case) -> None:
            case.call_and_validate(checks=CHECKS)

        try:
            honoured()
        except Unsatisfiable:
            # Only invalid input is asked for, and an operation taking nothing but
            # free-form strings (GET /profiles/{id}) has none: nothing to send.
            if mode is not GenerationMode.NEGATIVE:
                raise
        else:
            exercised += 1
    assert exercised, f"no operation of {example.url} could be exercised in {mode.value} mode"


def _get(url: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as reply:
            return reply.status, reply.headers["content-type"], reply.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["content-type"], error.read()


def test_docs_page_is_served_locally(example: Example) -> None:
    status, kind, page = _get(f"{example.url}/docs")
    assert status == 200 and kind.startswith("text/html")
    assert b"docs/swagger-ui-bundle.js" in page and b"http" not in page.split(b"<body>")[1]
    status, kind, bundle = _get(f"{example.url}/docs/swagger-ui-bundle.js")
    assert status == 200 and kind.startswith("text/javascript") and len(bundle) > 500_000
    status, kind, _ = _get(f"{example.url}/docs/swagger-ui.css")
    assert status == 200 and kind.startswith("text/css")


def test_swagger_ui_lists_every_operation_in_chromium(
    example: Example, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    document = json.loads(_get(f"{example.url}/openapi.json")[2])
    html = chromium.dom(f"{example.url}/docs", tmp_path / "dom")
    shown = set(re.findall(r'class="opblock-summary-path" data-path="([^"]+)"', html))
    assert shown == set(document["paths"]), "Swagger UI did not render the document's paths"
    name = request.node.callspec.params["example"]
    chromium.screenshot(f"{example.url}/docs", f"swagger-ui-{name}", tmp_path / "shot")


def test_health_and_readiness(example: Example) -> None:
    assert _get(f"{example.url}/healthz")[::2] == (200, b'{"status":"ok"}')
    status, _, body = _get(f"{example.url}/readyz")
    assert status == 200 and json.loads(body)["status"] == "ready"
    document = json.loads(_get(f"{example.url}/openapi.json")[2])
    assert not {"/healthz", "/readyz", "/docs", "/openapi.json"} & set(document["paths"])
    assert document["openapi"] == "3.1.0" and document["paths"]
