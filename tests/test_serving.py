"""kitcore.serving: the listen address, TARGET and signal handling every transport shares."""

from __future__ import annotations

import asyncio
import os
import signal
import threading

import click
import pytest

from kitcore import serving


@pytest.mark.parametrize(
    ("listen", "address"),
    [
        (":8080", ("0.0.0.0", 8080)),
        ("127.0.0.1:9000", ("127.0.0.1", 9000)),
        ("http://localhost:81/", ("localhost", 81)),
        ("grpc://[::1]:82", ("::1", 82)),
    ],
)
def test_parse_listen(listen: str, address: tuple[str, int]) -> None:
    assert serving.parse_listen(listen) == address


@pytest.mark.parametrize("bad", ["8080", "host:", "host:port", ""])
def test_parse_listen_rejects(bad: str) -> None:
    with pytest.raises(ValueError, match="listen"):
        serving.parse_listen(bad)


def test_load_follows_dotted_attributes() -> None:
    assert serving.load("kitcore.serving:load") is serving.load
    assert serving.load("kitcore:serving.parse_listen") is serving.parse_listen
    with pytest.raises(ValueError, match="module:attr"):
        serving.load("kitcore")


@pytest.mark.parametrize(
    ("spec", "says"),
    [("kitcore", "want module:attr"), ("no_such_mod:x", "No module"), ("kitcore:nope", "nope")],
)
def test_load_target_is_one_usage_line(spec: str, says: str) -> None:
    with pytest.raises(click.BadParameter, match=says) as err:
        serving.load_target(spec)
    assert err.value.__cause__ is None and err.value.__suppress_context__


async def test_on_signals_routes_sigterm_until_undone() -> None:
    stopped = asyncio.Event()
    undo = serving.on_signals(stopped.set)
    try:
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.wait_for(stopped.wait(), 10)
    finally:
        undo()
    assert signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, signal.default_int_handler)


async def test_on_signals_off_the_main_thread_changes_nothing() -> None:
    before = signal.getsignal(signal.SIGTERM)
    undos = []

    def off_main() -> None:
        loop = asyncio.new_event_loop()
        try:
            undos.append(loop.run_until_complete(_install()))
        finally:
            loop.close()

    thread = threading.Thread(target=off_main)
    thread.start()
    thread.join()
    undos[0]()
    assert signal.getsignal(signal.SIGTERM) is before


async def _install() -> object:
    return serving.on_signals(lambda: None)
