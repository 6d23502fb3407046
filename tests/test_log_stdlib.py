from __future__ import annotations

import inspect
import io
import json
import logging
import uuid
from collections.abc import Iterator

import pytest

from kitcore.log import JSONWriter, KitHandler, Logger, StdlibWriter, caller


class Keep(logging.Handler):
    """A stdlib handler keeping the records it is given."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def std_logger() -> Iterator[logging.Logger]:
    """A private stdlib logger, its handlers removed afterwards."""
    logger = logging.getLogger(f"kit.test.{uuid.uuid4().hex}")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    yield logger
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()


def lines(out: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_kit_handler_forwards_stdlib_records(std_logger: logging.Logger) -> None:
    out = io.StringIO()
    std_logger.addHandler(KitHandler(Logger(JSONWriter(out)).with_(svc="s", caller=caller)))
    std_logger.debug("debug %d", 1)
    std_logger.info("hello %s", "world")
    call_line = inspect.currentframe().f_lineno - 1  # type: ignore[union-attr]
    std_logger.warning("careful")
    std_logger.error("bad")
    std_logger.critical("worse")
    got = lines(out)
    assert [(r["level"], r["msg"]) for r in got] == [
        ("debug", "debug 1"),
        ("info", "hello world"),
        ("warn", "careful"),
        ("error", "bad"),
        ("error", "worse"),
    ]
    assert all(r["logger"] == std_logger.name and r["svc"] == "s" for r in got)
    assert got[1]["caller"] == f"test_log_stdlib.py:{call_line}"
    assert list(got[1])[:4] == ["svc", "caller", "level", "msg"]


def test_kit_handler_writes_the_traceback(std_logger: logging.Logger) -> None:
    out = io.StringIO()
    std_logger.addHandler(KitHandler(Logger(JSONWriter(out))))
    try:
        raise ValueError("boom")
    except ValueError:
        std_logger.exception("it failed")
    std_logger.info("with stack", stack_info=True)
    failed, stacked = lines(out)
    assert failed["msg"] == "it failed" and failed["level"] == "error"
    exc = str(failed["exc"])
    assert exc.startswith("Traceback (most recent call last):")
    assert exc.endswith("ValueError: boom")
    assert "exc" not in stacked and str(stacked["stack"]).startswith("Stack (most recent")


def test_kit_handler_respects_the_kit_level_filter(std_logger: logging.Logger) -> None:
    out = io.StringIO()
    std_logger.addHandler(KitHandler(Logger(JSONWriter(out), level="warn")))
    std_logger.info("dropped")
    std_logger.warning("kept")
    assert [r["msg"] for r in lines(out)] == ["kept"]


def test_kit_handler_reports_its_failures_the_stdlib_way(
    std_logger: logging.Logger, capsys: pytest.CaptureFixture[str]
) -> None:
    class Broken:
        def write(self, record: object) -> None:
            raise OSError("disk full")

    std_logger.addHandler(KitHandler(Logger(Broken())))
    std_logger.error("lost")  # must not raise: logging.raiseExceptions prints instead
    assert "OSError: disk full" in capsys.readouterr().err


def test_stdlib_writer_maps_levels_and_writes_logfmt(std_logger: logging.Logger) -> None:
    keep = Keep()
    std_logger.addHandler(keep)
    logger = Logger(StdlibWriter(std_logger)).with_(svc="s")
    logger.debug(msg="d")
    logger.info(msg="i")
    logger.warn(msg="careful now", n=3)
    logger.error(msg="e", err=ValueError("bad input"))
    logger.log(msg="no level")
    logger.log(level="shouting", msg="unknown level")
    assert [(r.levelno, r.getMessage()) for r in keep.records] == [
        (logging.DEBUG, "svc=s msg=d"),
        (logging.INFO, "svc=s msg=i"),
        (logging.WARNING, 'svc=s msg="careful now" n=3'),
        (logging.ERROR, 'svc=s msg=e err="ValueError: bad input"'),
        (logging.INFO, 'svc=s msg="no level"'),
        (logging.INFO, 'svc=s msg="unknown level"'),
    ]
    assert {r.name for r in keep.records} == {std_logger.name}


def test_stdlib_writer_records_the_kit_caller(std_logger: logging.Logger) -> None:
    keep = Keep()
    std_logger.addHandler(keep)
    logger = Logger(StdlibWriter(std_logger)).with_(a=1)
    logger.info(msg="where")
    call_line = inspect.currentframe().f_lineno - 1  # type: ignore[union-attr]
    (record,) = keep.records
    assert (record.filename, record.lineno) == ("test_log_stdlib.py", call_line)
    assert record.funcName == "test_stdlib_writer_records_the_kit_caller"


def test_stdlib_writer_skips_levels_the_stdlib_logger_ignores(
    std_logger: logging.Logger,
) -> None:
    keep = Keep()
    std_logger.addHandler(keep)
    std_logger.setLevel(logging.WARNING)

    class Loud:
        def __str__(self) -> str:
            raise AssertionError("a line the stdlib logger ignores was formatted")

    logger = Logger(StdlibWriter(std_logger))
    logger.info(value=Loud())
    logger.error(msg="kept")
    assert [r.getMessage() for r in keep.records] == ["msg=kept"]


def test_message_percent_signs_are_not_formatting(std_logger: logging.Logger) -> None:
    keep = Keep()
    std_logger.addHandler(keep)
    Logger(StdlibWriter(std_logger)).info(msg="100%s done")
    assert keep.records[0].getMessage() == 'msg="100%s done"'
