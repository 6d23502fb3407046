"""``kit describe`` and ``kit call`` against a running example, as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.examples.conftest import ROOT, Example

SERVICE = "examples.profilesvc.service:ProfileService"


@pytest.fixture(scope="module")
def profilesvc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Example]:
    running = Example("examples.profilesvc", [], tmp_path_factory.mktemp("p") / "log").wait()
    try:
        yield running
    finally:
        running.stop()


def kit(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-c", "from kitcore.cli import main; main()", *args]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60)


def test_describe_lists_methods_with_their_types() -> None:
    done = kit("describe", SERVICE)
    assert done.returncode == 0, done.stderr
    assert "get_profile(id: str) -> Profile  [http=GET /profiles/{id}]" in done.stdout
    data = json.loads(kit("describe", SERVICE, "--json").stdout)
    assert data["methods"]["get_profile"]["params"] == {"id": {"type": "str", "required": True}}
    ref = data["methods"]["get_profile"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert data["components"][ref]["required"] == ["id"]
    assert data["methods"]["delete_profile"]["returns"] == "None"


def test_call_sends_and_prints_json(profilesvc: Example) -> None:
    profile = '{"profile": {"id": "ada", "name": "Ada"}}'
    assert (
        kit("call", profilesvc.url, "post_profile", profile, "--service", SERVICE).stdout
        == "null\n"
    )
    done = kit("call", profilesvc.url, "get_profile", '{"id": "ada"}', "--service", SERVICE)
    assert json.loads(done.stdout) == {"id": "ada", "name": "Ada", "addresses": []}
    static = kit(
        "call",
        f"static://{profilesvc.address}",
        "get_profile",
        '{"id": "ada"}',
        "--service",
        SERVICE,
        "--transport",
        "http",
    )
    assert json.loads(static.stdout)["name"] == "Ada", static.stderr


def test_a_typed_error_is_its_wire_form_and_exit_1(profilesvc: Example) -> None:
    done = kit("call", profilesvc.url, "get_profile", '{"id": "bob"}', "--service", SERVICE)
    assert done.returncode == 1
    assert json.loads(done.stderr)["code"] == "not_found"


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["get_profile", '{"id": 1}'], "Expected `str`, got `int` - at `$.id`"),
        (["get_profile", "{not json"], "ARGUMENTS"),
        (["no_such_method", "{}"], "has no method 'no_such_method'"),
    ],
)
def test_bad_arguments_are_refused_before_sending(
    profilesvc: Example, args: list[str], says: str
) -> None:
    done = kit("call", profilesvc.url, *args, "--service", SERVICE)
    assert done.returncode == 2 and says in done.stderr and "Traceback" not in done.stderr


def test_an_unknown_target_or_service_is_one_clear_error(tmp_path: Path) -> None:
    done = kit("call", "nosuch://x/y", "get_profile", '{"id": "x"}', "--service", SERVICE)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert json.loads(done.stderr)["code"] == "invalid_argument"
    done = kit("describe", "examples.nosuch:Thing")
    assert (
        done.returncode == 2 and "No module named" in done.stderr and "Traceback" not in done.stderr
    )
