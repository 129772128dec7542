"""A running session in the web app over real HTTP (uvicorn, httpx): its page is watched by
server-sent events; cancel-all and the kill switch are refused unless confirmed, then queued in
the journal's commands table, executed by the session and journaled with their outcome."""

from __future__ import annotations

import json
import re
import threading
from typing import Any

import httpx
import pytest

from tests.live._sessions import wait_for, wait_for_rows
from tests.web.conftest import TOKEN, Running
from toolkit.live.journal import Journal
from toolkit.web.auth import csrf_value

# one pytest-xdist worker builds the package's session journal and reports once for all
pytestmark = pytest.mark.xdist_group("web")


def test_sse_updates_and_confirmed_actions(running: Running) -> None:
    base = f"/sessions/{running.journal.stem}/{running.sid}"
    events: list[tuple[str, Any]] = []
    with httpx.Client(base_url=running.served.url(), cookies={"toolkit_web_token": TOKEN}) as c:
        page = c.get(base)
        assert page.status_code == 200
        assert "EventSource" in page.text and 'class="badge running"' in page.text
        assert "Kill switch…" in page.text and "Cancel all…" in page.text
        since = re.search(r"events\?since=([^\"]+)\"", page.text)
        assert since is not None

        def listen() -> None:
            with (
                httpx.Client(timeout=httpx.Timeout(5.0, read=None)) as sc,
                sc.stream(
                    "GET",
                    running.served.url(f"{base}/events"),
                    headers={"Authorization": f"Bearer {TOKEN}"},
                ) as stream,
            ):
                assert stream.headers["content-type"].startswith("text/event-stream")
                name = ""
                for line in stream.iter_lines():
                    if line.startswith("event: "):
                        name = line[7:]
                    elif line.startswith("data: "):
                        events.append((name, json.loads(line[6:])))
                        if name == "ended":
                            return

        listener = threading.Thread(target=listen, daemon=True)
        listener.start()
        wait_for(lambda: events, 30, "the first update (the page as it is now)")
        assert events[0][0] == "update" and running.order_ref in events[0][1]["html"]
        assert events[0][1]["figure"]["data"]  # the equity figure travels with it

        confirm = c.get(f"{base}/confirm/cancel_all")
        assert confirm.status_code == 200 and "Type the session id" in confirm.text
        assert csrf_value(TOKEN) in confirm.text
        url = f"{base}/actions/cancel_all"
        # not confirmed, or not from our page: nothing is sent
        assert c.post(url, data={"csrf": csrf_value(TOKEN), "confirm": "no"}).status_code == 400
        assert c.post(url, data={"csrf": "forged", "confirm": running.sid}).status_code == 403
        with Journal(running.journal) as j:
            assert j.rows("commands", running.sid) == []
        done = c.post(url, data={"csrf": csrf_value(TOKEN), "confirm": running.sid})
        assert done.status_code == 200, done.text
        assert "cancel_all: done:" in done.text
        wait_for_rows(
            running.journal,
            f"SELECT 1 FROM orders WHERE order_ref = '{running.order_ref}' "
            "AND status = 'Cancelled'",
            what="the cancel at the broker",
        )
        # the page's watchers hear of it: the command and the cancelled order
        wait_for(
            lambda: any(
                "cancel_all" in e[1]["html"] and "Cancelled" in e[1]["html"]
                for e in events
                if e[0] == "update"
            ),
            30,
            "an update with the command and the cancelled order",
        )
        # the kill switch of the one strategy: confirmed, journaled as a guard event
        (strategy,) = running.session.sleeves
        done = c.post(
            f"{base}/actions/kill",
            data={"csrf": csrf_value(TOKEN), "confirm": running.sid, "strategy": strategy},
        )
        assert done.status_code == 200 and f"kill switch fired for {strategy}" in done.text
        with Journal(running.journal) as j:
            commands = j.rows("commands", running.sid)
            guards = [g["guard"] for g in j.rows("guard_events", running.sid)]
        assert [(x["source"], x["action"], x["target"], x["status"]) for x in commands] == [
            ("web", "cancel_all", "", "done"),
            ("web", "kill", strategy, "done"),
        ]
        assert "manual_kill" in guards
        # halted and flat, the session ends by itself: the stream says so and closes
        listener.join(120)
        assert not listener.is_alive()
        assert events[-1][0] == "ended"
        assert any("manual_kill" in e[1]["html"] for e in events if e[0] == "update")
        # an ended session takes no command
        late = c.post(
            f"{base}/actions/kill", data={"csrf": csrf_value(TOKEN), "confirm": running.sid}
        )
        assert late.status_code == 409 and "not running" in late.text
