"""Start-up signals (toolkit.live._signals): a stop that arrives before a session's handlers
are in place is noted by the interpreter itself, so no Python code can lose it."""

from __future__ import annotations

import gc
import os
import signal
import sys

import pytest

from toolkit.live._signals import stops_during_start_up, watch_start_up


def test_a_stop_during_start_up_is_noted_even_when_its_handler_drops_it() -> None:
    before = signal.signal(signal.SIGINT, lambda *_: None)  # a handler that loses it
    user1 = signal.signal(signal.SIGUSR1, lambda *_: None)
    try:
        with watch_start_up():
            assert not stops_during_start_up()
            os.kill(os.getpid(), signal.SIGUSR1)  # noted, but not a stop
            assert not stops_during_start_up()
            os.kill(os.getpid(), signal.SIGINT)
            assert stops_during_start_up()
            assert not stops_during_start_up()  # read once
        assert not stops_during_start_up()  # outside the watch: nothing to read
    finally:
        signal.signal(signal.SIGINT, before)
        signal.signal(signal.SIGUSR1, user1)


def test_the_watch_puts_back_the_wakeup_descriptor_it_found() -> None:
    r, w = os.pipe()
    os.set_blocking(w, False)
    try:
        outer = signal.set_wakeup_fd(w)
        with watch_start_up():
            assert signal.set_wakeup_fd(signal.set_wakeup_fd(-1)) != w  # the watch's own
        assert signal.set_wakeup_fd(outer) == w  # back as it was
    finally:
        os.close(r)
        os.close(w)


def test_an_interrupt_no_code_can_catch_is_dropped_quietly_during_start_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A Ctrl+C that lands in a finalizer is "unraisable": CPython prints it with a traceback
    (seen in a start-up Ctrl+C: ``Exception ignored in: <generator object ...>``). During the
    watch the pipe keeps the signal, so it goes unsaid; other unraisable errors still reach
    the hook that was there (here one that collects them, in place of CPython's printer)."""
    seen: list[type[BaseException]] = []
    monkeypatch.setattr(sys, "unraisablehook", lambda u: seen.append(type(u.exc_value)))

    class Finalized:
        def __init__(self, exc: BaseException) -> None:
            self.exc = exc

        def __del__(self) -> None:
            raise self.exc

    with watch_start_up():
        Finalized(KeyboardInterrupt())
        Finalized(ValueError("shown"))
        gc.collect()
    assert seen == [ValueError]
    Finalized(KeyboardInterrupt())  # after the watch: the hook that was there again
    gc.collect()
    assert seen == [ValueError, KeyboardInterrupt]
