"""Latency summaries shared by the load generator and the report."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(sorted_ns: Sequence[int], p: float) -> float:
    """Nearest-rank percentile of already sorted nanosecond samples, in milliseconds."""
    if not sorted_ns:
        return math.nan
    rank = max(1, math.ceil(p / 100 * len(sorted_ns)))
    return sorted_ns[min(rank, len(sorted_ns)) - 1] / 1e6


def summarise(latencies_ns: list[int], elapsed_s: float) -> dict[str, float]:
    ordered = sorted(latencies_ns)
    count = len(ordered)
    return {
        "requests": count,
        "rps": count / elapsed_s if elapsed_s > 0 else math.nan,
        "p50_ms": percentile(ordered, 50),
        "p90_ms": percentile(ordered, 90),
        "p99_ms": percentile(ordered, 99),
        "max_ms": ordered[-1] / 1e6 if ordered else math.nan,
        "mean_ms": sum(ordered) / count / 1e6 if count else math.nan,
    }
