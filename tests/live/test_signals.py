"""Start-up signals (toolkit.live._signals): a stop that arrives before a session's handlers
are in place is noted by the interpreter itself, so no Python code can lose it."""

from __future__ import annotations

import os
import signal

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
