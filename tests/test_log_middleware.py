from __future__ import annotations

import io
import re
from typing import Any

import pytest

from kitcore.errors import NotFound
from kitcore.log import LogfmtWriter, Logger, logging_middleware


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
