"""The crash tests' kill point is armed when a session is built (issue 14.1: the send path read
TOOLKIT_LIVE_FAULT from the environment at every point it passed)."""

from __future__ import annotations

import pytest

from toolkit.errors import ConfigError
from toolkit.live._fault import Faults
from toolkit.live.bridge import LiveSession


def test_the_point_is_read_once_when_the_session_is_built(live_config, monkeypatch) -> None:
    cfg = live_config()
    monkeypatch.setenv("TOOLKIT_LIVE_FAULT", "after-send@2")
    armed = LiveSession(cfg, echo=None, install_signals=False)
    monkeypatch.setenv("TOOLKIT_LIVE_FAULT", "resume")
    assert (armed.fault.point, armed.fault.nth) == ("after-send", 2)
    armed.fault("after-send")  # the first hit of an @2 point: still alive
    assert armed.fault.hits == 1
    given = LiveSession(cfg, echo=None, install_signals=False, faults=Faults())
    assert given.fault.point is None
    given.fault("resume")  # unarmed: no effect


@pytest.mark.parametrize("spec", ["after-sned", "after-send@0", "resume@x"])
def test_a_bad_point_is_named(spec: str) -> None:
    with pytest.raises(ConfigError, match="TOOLKIT_LIVE_FAULT"):
        Faults(spec)
