"""Repeated runs: every figure's median over the runs, computed here instead of by hand. Pure.

A run's result is a tree of dicts and lists; the median of N runs has the same shape, each
number replaced by the median of that number over the runs that have it (a percentile's
median is the median of the runs' percentiles, not a percentile of the pooled samples).
Text and flags are kept when every run agrees and listed otherwise. It may not run anything.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import Any


def _number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def median_tree(runs: Sequence[Any]) -> Any:
    """The runs' common shape with the median of every number (NaNs left out)."""
    if not runs:
        return None
    if all(isinstance(r, dict) for r in runs):
        keys = list(dict.fromkeys(k for r in runs for k in r))
        return {k: median_tree([r[k] for r in runs if k in r]) for k in keys}
    if all(isinstance(r, list) for r in runs) and len({len(r) for r in runs}) == 1:
        return [median_tree(list(column)) for column in zip(*runs, strict=True)]
    if all(_number(r) for r in runs):
        values = [float(r) for r in runs if not math.isnan(float(r))]
        if not values:
            return math.nan
        m = statistics.median(values)
        return round(m, 4) if isinstance(m, float) else m
    if all(r == runs[0] for r in runs):
        return runs[0]
    return list(runs)


def repeated(runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """What the JSON holds for ``--repeats N``: every run, and their medians."""
    return {"repeats": len(runs), "runs": list(runs), "median": median_tree(runs)}


def each_and_median(runs: Sequence[Any], median: Any, path: Sequence[Any]) -> str:
    """``median (run1, run2, ...)`` of one figure (dict keys and list indexes), as BENCHMARKS.md prints it."""

    def get(tree: Any) -> Any:
        for key in path:
            try:
                tree = tree[key]
            except (KeyError, IndexError, TypeError):
                return "-"
        return tree

    return f"{get(median)} ({', '.join(str(get(r)) for r in runs)})"
