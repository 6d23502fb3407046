from __future__ import annotations

import inspect
import io
import json
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

import pytest

from kitcore.log import (
    JSONWriter,
    LogfmtWriter,
    Logger,
    NopLogger,
    Valuer,
    caller,
    nop_logger,
    timestamp,
    utc_timestamp,
    with_level,
)


class Capture:
    """A Writer keeping the records it is given, in order."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def write(self, record: Mapping[str, Any]) -> None:
        self.records.append(dict(record))


def line_no() -> int:
    frame = inspect.currentframe()
    assert frame is not None and frame.f_back is not None
    return frame.f_back.f_lineno


def test_log_writes_context_first_then_the_call_in_insertion_order() -> None:
    text, js = io.StringIO(), io.StringIO()
    writer: LogfmtWriter | JSONWriter
    for writer in (LogfmtWriter(text), JSONWriter(js)):
        logger = Logger(writer).with_(svc="strings", zone="eu").with_(instance=2)
        logger.log(b=1, a=2)
    assert text.getvalue() == "svc=strings zone=eu instance=2 b=1 a=2\n"
    assert list(json.loads(js.getvalue()).items()) == [
        ("svc", "strings"),
        ("zone", "eu"),
        ("instance", 2),
        ("b", 1),
        ("a", 2),
    ]


def test_with_returns_a_new_logger_and_leaves_the_parent_alone() -> None:
    sink = Capture()
    parent = Logger(sink).with_(a=1)
    child = parent.with_(b=2)
    parent.log(msg="p")
    child.log(msg="c")
    assert sink.records == [{"a": 1, "msg": "p"}, {"a": 1, "b": 2, "msg": "c"}]


def test_later_values_replace_earlier_ones_in_place() -> None:
    sink = Capture()
    logger = Logger(sink).with_(a=1, b=2).with_(a=3)
    logger.log(b=4, c=5)
    assert list(sink.records[0].items()) == [("a", 3), ("b", 4), ("c", 5)]


def test_level_helpers_add_the_level_after_the_context() -> None:
    sink = Capture()
    logger = Logger(sink).with_(svc="s")
    logger.debug(msg="d")
    logger.info(msg="i")
    logger.warn(msg="w")
    logger.error(msg="e")
    logger.log_at("WARNING", msg="w2")
    assert [list(r.items())[:2] for r in sink.records] == [
        [("svc", "s"), ("level", level)] for level in ("debug", "info", "warn", "error", "warn")
    ]


def test_level_filter_drops_lower_levels_but_never_plain_log() -> None:
    sink = Capture()
    logger = Logger(sink, level="warn")
    logger.debug(msg="d")
    logger.info(msg="i")
    logger.log_at("info", msg="i2")
    logger.warn(msg="w")
    logger.error(msg="e")
    logger.log(msg="plain")
    assert [r["msg"] for r in sink.records] == ["w", "e", "plain"]
    assert logger.enabled("error") and not logger.enabled("debug")


def test_with_level_replaces_the_filter_and_keeps_the_context() -> None:
    sink = Capture()
    base = Logger(sink, level="error").with_(svc="s")
    chatty = with_level(base, "debug")
    quiet = with_level(chatty, "info").with_(part="q")
    base.info(msg="dropped")
    chatty.debug(msg="kept")
    quiet.debug(msg="dropped")
    quiet.info(msg="kept too")
    assert sink.records == [
        {"svc": "s", "level": "debug", "msg": "kept"},
        {"svc": "s", "part": "q", "level": "info", "msg": "kept too"},
    ]


def test_unknown_levels_are_rejected() -> None:
    with pytest.raises(ValueError, match="unknown log level"):
        Logger(Capture(), level="verbose")
    with pytest.raises(ValueError):
        with_level(Logger(Capture()), "trace")
    with pytest.raises(ValueError):
        Logger(Capture()).log_at("fatal", msg="x")


def test_filtered_calls_compute_and_format_nothing() -> None:
    computed: list[int] = []

    class Loud:
        def __str__(self) -> str:
            raise AssertionError("a filtered call formatted its values")

    out = io.StringIO()
    logger = Logger(LogfmtWriter(out), level="info").with_(n=Valuer(lambda: computed.append(1)))
    logger.debug(value=Loud())
    assert computed == [] and out.getvalue() == ""
    logger.info(msg="x")
    assert computed == [1]


def test_valuers_are_computed_at_each_call() -> None:
    sink = Capture()
    counter = iter(range(100))
    logger = Logger(sink).with_(n=Valuer(lambda: next(counter)))
    logger.log()
    logger.with_(other=1).log()
    assert [r["n"] for r in sink.records] == [0, 1]


def test_a_failing_valuer_is_written_not_raised() -> None:
    sink = Capture()
    logger = Logger(sink).with_(v=Valuer(lambda: 1 / 0))
    logger.log(msg="still written")
    assert sink.records[0]["msg"] == "still written"
    assert "ZeroDivisionError" in sink.records[0]["v"]


def test_caller_points_at_the_line_that_logged() -> None:
    sink = Capture()
    logger = Logger(sink).with_(caller=caller)
    logger.log(msg="plain")
    expected = [line_no() - 1]
    deep = logger.with_(a=1).with_(b=2)
    deep.info(msg="helper through two with_")
    expected.append(line_no() - 1)
    with_level(deep, "debug").debug(msg="with_level")
    expected.append(line_no() - 1)
    deep.log_at("error", msg="log_at")
    expected.append(line_no() - 1)
    assert [r["caller"] for r in sink.records] == [f"test_log.py:{n}" for n in expected]


def test_timestamp_is_utc_rfc3339_with_milliseconds() -> None:
    fixed = utc_timestamp(clock=lambda: 1714564800.1239)
    assert fixed.fn() == "2024-05-01T12:00:00.123Z"
    assert utc_timestamp(clock=lambda: 0.5).fn() == "1970-01-01T00:00:00.500Z"
    sink = Capture()
    Logger(sink).with_(ts=timestamp).log()
    stamp = sink.records[0]["ts"]
    parsed = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ")
    assert len(stamp) == len("2024-05-01T12:00:00.123Z")
    assert parsed.replace(tzinfo=timezone.utc).year >= 2024


def test_timestamp_follows_its_clock_across_seconds() -> None:
    ticks = iter([10.25, 10.75, 11.0, 70.999])
    valuer = utc_timestamp(clock=lambda: next(ticks))
    assert [valuer.fn() for _ in range(4)] == [
        "1970-01-01T00:00:10.250Z",
        "1970-01-01T00:00:10.750Z",
        "1970-01-01T00:00:11.000Z",
        "1970-01-01T00:01:10.999Z",
    ]


def test_default_writer_is_logfmt_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    Logger().info(msg="to stderr")
    assert capsys.readouterr().err == 'level=info msg="to stderr"\n'
    LogfmtWriter().write({"a": 1})
    JSONWriter().write({"a": 1})
    assert capsys.readouterr().err == 'a=1\n{"a":1}\n'


def test_nop_logger_does_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    computed: list[int] = []
    logger = nop_logger()
    assert isinstance(logger, Logger) and isinstance(logger, NopLogger)
    child = logger.with_(v=Valuer(lambda: computed.append(1)))
    assert child is logger
    for method in (logger.log, logger.debug, logger.info, logger.warn, logger.error):
        method(msg="nothing")
    logger.log_at("error", msg="nothing")
    with_level(logger, "debug").debug(msg="nothing")
    assert not logger.enabled("error")
    assert computed == []
    assert capsys.readouterr() == ("", "")


def test_logfmt_lines_are_the_records_formatted_whichever_path_writes_them() -> None:
    # A Logger over a LogfmtWriter formats its context and level once (prepared lines);
    # every line must still read exactly as its record formatted by format_logfmt.
    from kitcore.log import format_logfmt

    def ticks(template: str = "{}") -> Valuer:
        """A valuer of its own for each logger: both loggers see the same values."""
        count = iter(range(1000))
        return Valuer(lambda: template.format(next(count)))

    boom = Valuer(lambda: 1 / 0)
    loggers = [
        lambda w: Logger(w).with_(ts=ticks("t {}"), svc="str svc"),
        lambda w: Logger(w).with_(n=ticks(), **{"a b": 1, " ": "gone"}),
        lambda w: Logger(w).with_(bad=boom, k="v").with_(k="again"),
        lambda w: Logger(w),
    ]
    calls: list[tuple[str, dict[str, Any]]] = [
        ("info", {"err": None, "took": "1.5µs"}),
        ("error", {"msg": "two words", "n": 3}),
        ("log", {}),
        ("warn", {"svc": "replaced in place", "x": [1]}),  # repeats a context key
        ("log", {"level": "mine"}),  # a level of its own, in plain log()
        ("info", {"level": "twice"}),
        ("debug", {"ts": None, "v": 1.5}),
    ]
    for make in loggers:
        out, records = io.StringIO(), Capture()
        prepared, recorded = make(LogfmtWriter(out)), make(records)
        for method, kv in calls:
            getattr(prepared, method)(**kv)
            getattr(recorded, method)(**kv)
        lines = out.getvalue().splitlines()
        assert lines == [format_logfmt(record) for record in records.records]
        assert len(lines) == len(calls)
        assert prepared._prepared  # some lines went the prepared way


def test_a_context_value_that_can_change_is_written_as_it_is_at_each_line() -> None:
    out = io.StringIO()
    tags = ["a"]
    logger = Logger(LogfmtWriter(out)).with_(tags=tags, svc="s")
    logger.info(n=1)
    tags.append("b")
    logger.info(n=2)
    assert out.getvalue().splitlines() == [
        "tags=['a'] svc=s level=info n=1",
        "tags=\"['a', 'b']\" svc=s level=info n=2",
    ]
