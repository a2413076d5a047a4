"""GET /metrics: the service's counters in Prometheus' text format (version 0.0.4), written by hand (a few lines,
no client library): requests by route and status, POST / latency as a histogram, records per model call as a
histogram, the passages waiting, the windows accepted, and the requests whose client went away with the windows
they left uncomputed."""

from __future__ import annotations

import bisect
import collections
import threading
from dataclasses import dataclass, field
from typing import Iterable

LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)


@dataclass
class Histogram:
    bounds: tuple[float, ...]
    counts: list[int] = field(default_factory=list)
    total: float = 0.0
    n: int = 0

    def __post_init__(self) -> None:
        self.counts = [0] * len(self.bounds)

    def observe(self, value: float, times: int = 1) -> None:
        at = bisect.bisect_left(self.bounds, value)
        if at < len(self.bounds):
            self.counts[at] += times
        self.total += value * times
        self.n += times

    def lines(self, name: str) -> list[str]:
        out, running = [], 0
        for bound, count in zip(self.bounds, self.counts):
            running += count
            out.append(f'{name}_bucket{{le="{bound:g}"}} {running}')
        return out + [f'{name}_bucket{{le="+Inf"}} {self.n}', f"{name}_sum {self.total:.6f}", f"{name}_count {self.n}"]


@dataclass
class Metrics:
    requests: collections.Counter = field(default_factory=collections.Counter)  # (route, status) → requests
    latency: Histogram = field(default_factory=lambda: Histogram(LATENCY_BUCKETS))
    cancelled: int = 0  # requests whose client went away before their answer
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def observe(self, route: str, status: int, seconds: float | None) -> None:
        with self._lock:
            self.requests[(route, status)] += 1
            if seconds is not None:
                self.latency.observe(seconds)

    def cancel(self) -> None:
        with self._lock:
            self.cancelled += 1

    def render(self, batch_sizes: dict[int, int], queued: int, windows: int, windows_skipped: int = 0) -> str:
        """The exposition text; `batch_sizes`: records per model call → calls."""
        batches = Histogram(BATCH_BUCKETS)
        for size, calls in sorted(batch_sizes.items()):
            batches.observe(size, calls)
        with self._lock:
            lines = [
                "# HELP gp_mrc_requests_total HTTP requests answered, by route and status.",
                "# TYPE gp_mrc_requests_total counter",
            ]
            lines += [
                f'gp_mrc_requests_total{{route="{route}",status="{status}"}} {n}'
                for (route, status), n in sorted(self.requests.items())
            ]
            lines += [
                "# HELP gp_mrc_request_seconds Time to answer POST /, refusals included.",
                "# TYPE gp_mrc_request_seconds histogram",
                *self.latency.lines("gp_mrc_request_seconds"),
                "# HELP gp_mrc_cancelled_requests_total Requests whose client went away before their answer.",
                "# TYPE gp_mrc_cancelled_requests_total counter",
                f"gp_mrc_cancelled_requests_total {self.cancelled}",
            ]
        lines += [
            "# HELP gp_mrc_batch_questions Question-passage pairs per model call.",
            "# TYPE gp_mrc_batch_questions histogram",
            *batches.lines("gp_mrc_batch_questions"),
            "# HELP gp_mrc_queued_questions Question-passage pairs waiting for the model.",
            "# TYPE gp_mrc_queued_questions gauge",
            f"gp_mrc_queued_questions {queued}",
            "# HELP gp_mrc_windows_total Encoder windows of the requests accepted.",
            "# TYPE gp_mrc_windows_total counter",
            f"gp_mrc_windows_total {windows}",
            "# HELP gp_mrc_windows_skipped_total Encoder windows of cancelled requests, never computed.",
            "# TYPE gp_mrc_windows_skipped_total counter",
            f"gp_mrc_windows_skipped_total {windows_skipped}",
        ]
        return "\n".join(lines) + "\n"


def merged_sizes(counters: Iterable[collections.Counter]) -> dict[int, int]:
    total: collections.Counter = collections.Counter()
    for c in counters:
        total.update(c)
    return dict(total)
