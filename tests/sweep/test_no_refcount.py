"""Functions compiled without reference counting (``njit_no_refcount``) call no function
that returns an array unless it is inlined.

numba compiles the callees of such a function without reference counting too and caches them
under the key the counted version uses; a view-returning callee compiled first from there is
later loaded by counted callers, which then free the array under themselves. Seen while
trying the strategies' rules without reference counting: a sweep's features corrupted the
heap after a parallel test run had compiled the sweep's change points first. The check walks
every call, through non-inlined callees, of every such function the sweep compiles, in a
fresh process with an empty cache (numba keeps the typed calls only for what it compiles,
not for what it loads).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

_WALK = textwrap.dedent(
    """
    import sys

    import numpy as np
    from numba import njit
    from numba.core import types
    from numba.core.registry import CPUDispatcher

    import toolkit as tk
    from toolkit.sweep._fold import njit_no_refcount


    def has_array(t):
        if isinstance(t, types.Array):
            return True
        return isinstance(t, types.BaseTuple) and any(has_array(x) for x in t.types)


    def walk(disp, path, seen, bad):
        for sig, cres in disp.overloads.items():
            if (disp, sig) in seen:
                continue
            seen.add((disp, sig))
            ann = cres.type_annotation
            if ann is None:
                bad.append(" -> ".join(path) + " (loaded from a cache: not checked)")
                continue
            for expr, csig in ann.calltypes.items():
                if getattr(expr, "op", None) != "call":
                    continue
                fty = ann.typemap.get(expr.func.name)
                if isinstance(fty, types.Dispatcher):
                    callee = fty.dispatcher
                    chain = [*path, callee.py_func.__qualname__]
                    if has_array(csig.return_type):
                        bad.append(" -> ".join(chain))
                    walk(callee, chain, seen, bad)


    def unsafe(dispatchers):
        bad, seen = [], set()
        for d in dispatchers:
            if not d.overloads:
                bad.append(d.py_func.__qualname__ + " (never compiled here: call it above)")
            walk(d, [d.py_func.__qualname__], seen, bad)
        return bad


    # the checker itself: a view-returning callee that is not inlined is found
    @njit
    def _view(a):
        return a.reshape(-1)[1:].view(np.int64), 1  # as toolkit's _region_nb did


    @njit_no_refcount
    def _leaky(a):
        return _view(a)[0][0]


    _leaky(np.arange(3.0))
    assert unsafe([_leaky]) == ["_leaky -> _view"], unsafe([_leaky])

    # both drivers the sweep runs without reference counting (the per-bar one dispatches
    # to every built-in rule), compiled here
    bars = tk.load("SPY").iloc[-300:]
    grid = {"fast": np.arange(2, 8), "slow": np.arange(2, 8), "cross": [0, 1]}
    for settings in (tk.EngineSettings(), tk.EngineSettings(stop_loss=0.05)):
        tk.sweep(bars, "sma_cross", grid, settings, progress=False)
    found = [
        obj
        for mod in list(sys.modules.values())
        if (mod.__name__ or "").startswith("toolkit.")
        for obj in vars(mod).values()
        if isinstance(obj, CPUDispatcher)
        and obj.targetoptions.get("_nrt") is False
        and obj.__module__ == mod.__name__
    ]
    assert len(found) >= 3, [d.py_func.__qualname__ for d in found]
    bad = unsafe(found)
    print("\\n".join(bad) if bad else f"checked {len(found)} functions")
    sys.exit(1 if bad else 0)
    """
)


def test_no_function_without_refcounts_calls_a_view_returning_function(tmp_path: Path) -> None:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    script = tmp_path / "walk_calls.py"  # a file: the functions it defines are cached
    script.write_text(_WALK)
    run = subprocess.run(
        [sys.executable, str(script)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.startswith("checked "), run.stdout
