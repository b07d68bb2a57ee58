"""Independent backtests across processes. A grid's combinations (and a walk-forward's folds) share nothing but the
prepared market data, which forked workers inherit as it is in memory: nothing but a combination goes to a worker
and nothing but its result comes back. Where fork is missing, or one worker is asked for, the work runs here."""

from __future__ import annotations

import multiprocessing
from typing import Any, Callable, Sequence, TypeVar

T = TypeVar("T")
R = TypeVar("R")

_work: Callable[[Any], Any] | None = None  # what the forked workers run: set before they are forked


def _run(item: Any) -> Any:
    assert _work is not None
    return _work(item)


def mapped(work: Callable[[T], R], items: Sequence[T], workers: int,
           progress: Callable[[int, int], None] = lambda done, total: None) -> list[R]:
    """work(item) for every item, in order, in up to `workers` forked processes."""
    global _work
    results: list[R] = []
    if workers <= 1 or len(items) < 2 or "fork" not in multiprocessing.get_all_start_methods():
        for item in items:
            results.append(work(item))
            progress(len(results), len(items))
        return results
    _work = work
    try:
        with multiprocessing.get_context("fork").Pool(min(workers, len(items))) as pool:
            for result in pool.imap(_run, items):
                results.append(result)
                progress(len(results), len(items))
    finally:
        _work = None
    return results
