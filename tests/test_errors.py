from __future__ import annotations

import json

import pytest

from kitcore import errors
from kitcore.errors import ERRORS, KitError, from_wire

EXPECTED = {
    "invalid_argument": (400, 3, True),
    "not_found": (404, 5, True),
    "already_exists": (409, 6, True),
    "unauthenticated": (401, 16, True),
    "permission_denied": (403, 7, True),
    "resource_exhausted": (429, 8, False),
    "failed_precondition": (400, 9, True),
    "unavailable": (503, 14, False),
    "deadline_exceeded": (504, 4, False),
    "internal": (500, 13, False),
}


def test_every_kind_has_its_fixed_status_code_and_fault() -> None:
    assert set(ERRORS) == set(EXPECTED)
    for code, (status, grpc, fault) in EXPECTED.items():
        cls = ERRORS[code]
        assert (cls.http_status, cls.grpc_code, cls.caller_fault) == (status, grpc, fault), code


@pytest.mark.parametrize("cls", list(ERRORS.values()))
def test_wire_round_trip_keeps_type_message_and_details(cls: type[KitError]) -> None:
    original = cls("boom", details={"field": "$.s", "n": 1})
    wire = json.loads(json.dumps(original.to_wire()))
    again = from_wire(wire)
    assert type(again) is cls
    assert again.message == "boom"
    assert again.details == {"field": "$.s", "n": 1}


def test_malformed_wire_forms_become_internal() -> None:
    assert type(from_wire("nope")) is errors.Internal
    assert type(from_wire({"code": "teapot", "message": "x"})) is errors.Internal
    odd = from_wire({"code": "not_found", "message": 5, "details": [1]})
    assert type(odd) is errors.NotFound and odd.details == {}


def test_resource_exhausted_carries_retry_after() -> None:
    err = errors.ResourceExhausted("slow down", retry_after=1.5)
    assert err.retry_after == 1.5
    assert from_wire(err.to_wire()).details["retry_after"] == 1.5
    assert errors.ResourceExhausted().retry_after is None


def test_kind_and_caller_fault() -> None:
    assert errors.kind(None) == "none"
    assert errors.kind(errors.NotFound()) == "not_found"
    assert errors.kind(ValueError()) == "internal"
    assert errors.is_caller_fault(errors.InvalidArgument())
    assert not errors.is_caller_fault(errors.Unavailable())
    assert not errors.is_caller_fault(ValueError())


def test_status_and_code_lookups() -> None:
    assert type(errors.from_http_status(404)) is errors.NotFound
    assert type(errors.from_http_status(418)) is errors.InvalidArgument
    assert type(errors.from_http_status(502)) is errors.Unavailable
    assert type(errors.from_http_status(500)) is errors.Internal
    assert type(errors.from_grpc_code(14)) is errors.Unavailable
    assert type(errors.from_grpc_code(99)) is errors.Internal


def test_default_message_names_the_kind() -> None:
    assert str(errors.PermissionDenied()) == "permission denied"
