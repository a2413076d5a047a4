"""Does the service start warm? `python scripts/load_test.py --model DIR --first_request 100`: once /health answers
(the service is ready), the first request to each lane and the next N of the same shape, one at a time; the first's
latency over the median of the others. The small lane: one question over one passage; the large lane: one
question over LARGE_PASSAGES passages (more windows than --lane_windows' default 16)."""

from __future__ import annotations

import statistics
import time

LARGE_PASSAGES = 20


def lane_requests(questions: list[dict]) -> dict[str, dict]:
    q = questions[0]
    return {
        "small": {"inputs": q},
        "large": {"inputs": [{"question": q["question"], "context": q["context"]}] * LARGE_PASSAGES},
    }


async def first_request(client, url: str, questions: list[dict], repeats: int) -> dict:
    """{lane: first, median of the next `repeats`, their ratio (ms)}; each lane's first request is its first call."""
    out = {}
    for lane, body in lane_requests(questions).items():
        before = (await client.get(url + "/health")).json()["batching"]["lanes"][lane]["model_calls"]
        latencies = []
        for _ in range(repeats + 1):
            t = time.perf_counter()
            (await client.post(url + "/", json=body)).raise_for_status()
            latencies.append(time.perf_counter() - t)
        first, rest = latencies[0], statistics.median(latencies[1:])
        after = (await client.get(url + "/health")).json()["batching"]["lanes"][lane]["model_calls"]
        out[lane] = {
            "first_ms": round(1000 * first, 1),
            "median_next_ms": round(1000 * rest, 1),
            "first_over_median": round(first / rest, 2),
            "next": repeats,
            "model_calls_before": before,
            "model_calls": after - before,
        }
    return out
