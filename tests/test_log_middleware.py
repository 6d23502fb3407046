from __future__ import annotations

import inspect
import io
import re
from typing import Any

import pytest

from kitcore.errors import NotFound
from kitcore.log import LogfmtWriter, Logger, caller, caller_at, logging_middleware


async def test_logs_one_line_per_call_with_error_kind_and_duration() -> None:
    out = io.StringIO()
    logger = Logger(LogfmtWriter(out))

    async def find(request: Any) -> Any:
        if request == "missing":
            raise NotFound("no such thing")
        return request

    endpoint = logging_middleware(logger, "find")(find)
    assert await endpoint("x") == "x"
    with pytest.raises(NotFound):
        await endpoint("missing")
    ok, failed = out.getvalue().splitlines()
    assert ok.startswith("method=find level=info err=null took=")
    assert failed.startswith('method=find level=error err=not_found msg="no such thing" took=')
    # As Go prints a time.Duration: 850ns, 12.5µs, 3.2ms.
    assert re.fullmatch(r"\d+(\.\d+)?(ns|µs|ms|s)", failed.rsplit("took=", 1)[1])


async def test_caller_names_the_line_that_wired_the_middleware_not_the_transport() -> None:
    # Served by kit-http, the stack above the middleware when it logs is kit-http's
    # handler: the line worth naming is the user's, where the middleware was made.
    import aiohttp
    from kit_http import App
    from kit_http.testing import running

    class Words:
        async def up(self, s: str) -> str:
            return s.upper()

    out = io.StringIO()
    logger = Logger(LogfmtWriter(out)).with_(caller=caller)
    wired_at = inspect.currentframe().f_lineno + 1  # type: ignore[union-attr]
    app = App(Words(), named_middleware=lambda name: logging_middleware(logger, name))
    async with (
        running(app) as url,
        aiohttp.ClientSession() as session,
        session.post(f"{url}/up", json={"s": "a"}) as reply,
    ):
        assert reply.status == 200
    assert out.getvalue().startswith(f"caller=test_log_middleware.py:{wired_at} method=up ")


def _audit(logger: Logger, **kv: Any) -> None:
    logger.log(**kv)


def test_caller_at_one_names_the_caller_of_a_logging_helper() -> None:
    out = io.StringIO()
    helper_logger = Logger(LogfmtWriter(out)).with_(caller=caller_at(1))
    line = inspect.currentframe().f_lineno + 1  # type: ignore[union-attr]
    _audit(helper_logger, msg="done")
    _audit(Logger(LogfmtWriter(out)).with_(caller=caller), msg="done")
    helper_line = _audit.__code__.co_firstlineno + 1
    assert out.getvalue().splitlines() == [
        f"caller=test_log_middleware.py:{line} msg=done",
        f"caller=test_log_middleware.py:{helper_line} msg=done",
    ]
    with pytest.raises(ValueError, match="depth"):
        caller_at(-1)


def test_the_readme_logging_example_builds_an_app_that_logs() -> None:
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = readme.split("## Adding a logging middleware", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]

    class StringService:
        async def uppercase(self, s: str) -> str:
            return s.upper()

    namespace: dict[str, Any] = {"StringService": StringService}
    exec(code, namespace)
    assert namespace["app"] is not None
