"""Define a strategy from your own signal function: ``@tk.strategy(params=[...])``.

The function names what it reads: arguments called ``open``, ``high``, ``low``, ``close`` or
``volume`` receive those bar arrays, every other argument is a declared :class:`Param` and
receives its value (``int`` parameters as Python ints, so a numba function compiles once).
It may be a numba ``@njit`` function or plain NumPy; it must be pure and causal (the value at
bar t may use bars [0, t] only -- check with :func:`toolkit.check_causal`)::

    @tk.strategy(params=[tk.Param("lookback", int, 20, 2, 250, "breakout window, bars")])
    @njit
    def breakout(close, lookback):
        ...  # one target exposure per bar

``kind="cross_sectional"``: the arrays are (bars x symbols) panels and the function returns
target weights of one shared book, same shape (row t may use rows [0, t] only).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from itertools import repeat
from typing import Any, overload

import numpy as np

from toolkit.errors import ConfigError
from toolkit.strategies.spec import KINDS, Kind, Param, SignalFn, Strategy

# Bar fields a signal function may ask for; ``open_`` is accepted to avoid shadowing open().
_FIELD_ARGS = {"open": 0, "open_": 0, "high": 1, "low": 2, "close": 3, "volume": 4}
UserSignal = Callable[..., Any]


def _python_function(fn: UserSignal) -> Callable[..., Any]:
    """The Python function behind ``fn`` (a numba dispatcher keeps it as ``py_func``)."""
    return getattr(fn, "py_func", fn)


def bind_signal(fn: UserSignal, name: str, params: Sequence[Param], kind: Kind) -> SignalFn:
    """Adapt ``fn(close, lookback, ...)`` to the runtimes' ``signal(o, h, l, c, v, params)``.

    Raises a ConfigError at definition time if an argument is neither a bar field nor a
    declared parameter, or a declared parameter is not an argument; at call time if the
    function returns the wrong shape.
    """
    try:
        signature = inspect.signature(_python_function(fn))
    except (TypeError, ValueError):
        raise ConfigError(
            f"strategy {name!r}: cannot read the arguments of {fn!r}; pass a Python or numba "
            "function."
        ) from None
    declared = [p.name for p in params]
    plan: list[tuple[bool, int, bool]] = []  # (is field, field or param index, param is int)
    for arg, spec in signature.parameters.items():
        if spec.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            raise ConfigError(
                f"strategy {name!r}: *args/**kwargs are not supported; name each bar field and "
                "parameter the function reads."
            )
        if arg in _FIELD_ARGS:
            plan.append((True, _FIELD_ARGS[arg], False))
        elif arg in declared:
            i = declared.index(arg)
            plan.append((False, i, params[i].kind is int))
        else:
            raise ConfigError(
                f"strategy {name!r}: argument {arg!r} is neither a bar field (open, high, low, "
                f"close, volume) nor a declared parameter ({', '.join(declared) or 'none'}); "
                "declare it with tk.Param or rename it."
            )
    unused = [d for d in declared if d not in signature.parameters]
    if unused:
        raise ConfigError(
            f"strategy {name!r}: declared parameter{'s' if len(unused) > 1 else ''} "
            f"{', '.join(unused)} {'are' if len(unused) > 1 else 'is'} not an argument of the "
            "signal function; add it or drop the declaration."
        )
    ndim = 2 if kind == "cross_sectional" else 1

    def signal(
        open_: np.ndarray,
        high: np.ndarray,
        low: np.ndarray,
        close: np.ndarray,
        volume: np.ndarray,
        vec: np.ndarray,
    ) -> np.ndarray:
        fields = (open_, high, low, close, volume)
        args = [
            fields[i] if is_field else (int(vec[i]) if is_int else float(vec[i]))
            for is_field, i, is_int in plan
        ]
        return conform(fn(*args), close)

    def calls(
        open_: np.ndarray,
        high: np.ndarray,
        low: np.ndarray,
        close: np.ndarray,
        volume: np.ndarray,
        values: np.ndarray,
    ) -> Iterator[np.ndarray]:
        """``signal`` of each row of ``values`` in order, its arguments bound once for the
        block (the generic sweep's loop: no per-set binding or int()/float() per value)."""
        fields = (open_, high, low, close, volume)
        k = len(values)
        columns: list[Iterable[Any]] = [
            repeat(fields[i], k)
            if is_field
            else (values[:, i].astype(np.int64) if is_int else values[:, i]).tolist()
            for is_field, i, is_int in plan
        ]
        shape = close.shape
        for args in zip(*columns, strict=True) if columns else repeat((), k):
            res = fn(*args)
            if (
                type(res) is np.ndarray
                and res.dtype == np.float64
                and res.shape == shape
                and res.ndim == ndim
            ):
                yield res
            else:
                yield conform(res, close)

    def conform(res: Any, close: np.ndarray) -> np.ndarray:
        out = np.ascontiguousarray(np.asarray(res, dtype=np.float64))
        if out.shape != close.shape or out.ndim != ndim:
            what = "weight per bar and symbol" if ndim == 2 else "exposure per bar"
            raise ConfigError(
                f"strategy {name!r}: the signal returned shape {out.shape} for bars of shape "
                f"{close.shape}; return one {what} (shape {close.shape})."
            )
        return out

    signal.__name__ = f"{name}_signal"
    setattr(signal, "calls", calls)  # noqa: B010 (read by the generic sweep when present)
    signal.__doc__ = inspect.getdoc(_python_function(fn))
    return signal


@overload
def strategy(
    fn: UserSignal,
    *,
    params: Sequence[Param] = (),
    name: str | None = None,
    kind: Kind = "single",
    doc: str | None = None,
    valid: Callable[[Mapping[str, Any]], Any] | None = None,
    valid_doc: str = "",
    warmup: Callable[[Mapping[str, float]], int] | None = None,
) -> Strategy: ...


@overload
def strategy(
    fn: None = None,
    *,
    params: Sequence[Param] = (),
    name: str | None = None,
    kind: Kind = "single",
    doc: str | None = None,
    valid: Callable[[Mapping[str, Any]], Any] | None = None,
    valid_doc: str = "",
    warmup: Callable[[Mapping[str, float]], int] | None = None,
) -> Callable[[UserSignal], Strategy]: ...


def strategy(
    fn: UserSignal | None = None,
    *,
    params: Sequence[Param] = (),
    name: str | None = None,
    kind: Kind = "single",
    doc: str | None = None,
    valid: Callable[[Mapping[str, Any]], Any] | None = None,
    valid_doc: str = "",
    warmup: Callable[[Mapping[str, float]], int] | None = None,
) -> Strategy | Callable[[UserSignal], Strategy]:
    """Register ``fn`` as a strategy and return the :class:`Strategy` (decorator or call).

    ``params``: the parameter space (:class:`Param` per tunable argument). ``name`` defaults
    to the function's name; ``doc`` to its docstring. ``kind``: ``"single"`` (one symbol's
    bars -> exposure per bar) or ``"cross_sectional"`` (panels -> weights of one book).
    ``valid``/``valid_doc``: a constraint over parameters (e.g. ``lambda p: p["fast"] <
    p["slow"]``, "fast < slow") that also works on grid columns. Once registered the name
    works wherever a built-in's does (backtest, sweep, walk-forward, configs, live).
    Re-running the definition (a notebook cell) replaces the earlier one; a built-in's name
    is refused.
    """

    def define(f: UserSignal) -> Strategy:
        from toolkit.strategies import register

        py = _python_function(f)
        label = str(name or getattr(py, "__name__", ""))
        if not label.isidentifier():
            raise ConfigError(f"strategy name {label!r} must be an identifier (letters, _).")
        if kind not in KINDS:
            raise ConfigError(
                f"strategy {label!r}: kind = {kind!r}; choose one of {', '.join(KINDS)}."
            )
        space = tuple(params)
        if not all(isinstance(p, Param) for p in space):
            raise ConfigError(f"strategy {label!r}: params must be a list of tk.Param.")
        names = [p.name for p in space]
        if len(set(names)) != len(names):
            raise ConfigError(f"strategy {label!r}: a parameter is declared twice ({names}).")
        for p in space:
            p.check(p.default, f"strategy {label!r} parameter default")
        module = getattr(py, "__module__", None)
        spec = Strategy(
            name=label,
            signal=bind_signal(f, label, space, kind),
            params=space,
            doc=doc if doc is not None else (inspect.getdoc(py) or ""),
            kind=kind,
            warmup=warmup,
            valid=valid,
            valid_doc=valid_doc or ("the strategy's constraint" if valid is not None else ""),
            module=module if module not in (None, "__main__") else None,
        )
        return register(spec)

    return define if fn is None else define(fn)
