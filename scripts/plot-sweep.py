#!/usr/bin/env python3
"""Draws throughput and p99 latency against connections from `scripts/bench-sweep.sh`
output, one line per backend and group-commit setting.

    python3 scripts/plot-sweep.py benchmarks/sweep.jsonl benchmarks/sweep.png

Needs matplotlib (`pip install matplotlib`).
"""
import json
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main(source: str, target: str) -> None:
    runs = defaultdict(list)
    with open(source) as lines:
        for line in lines:
            run = json.loads(line)
            label = f"{run['backend']}, group commit {run['group_commit']}"
            runs[label].append(run)
    fig, (throughput, p99) = plt.subplots(1, 2, figsize=(12, 4.5))
    for label, points in sorted(runs.items()):
        points.sort(key=lambda r: r["connections"])
        x = [r["connections"] for r in points]
        style = "-o" if "on" in label.split()[-1] else "--s"
        throughput.plot(x, [r["throughput_per_s"] for r in points], style, label=label)
        p99.plot(x, [r["latency_ms"]["p99"] for r in points], style, label=label)
    for axis, title, unit in [
        (throughput, "acknowledged message.append per second", "acked/s"),
        (p99, "p99 latency (request to ack)", "ms"),
    ]:
        axis.set_xscale("log")
        axis.set_xlabel("connections (one user each, 4 requests in flight each)")
        axis.set_ylabel(unit)
        axis.set_title(title)
        axis.grid(True, which="both", alpha=0.3)
    p99.set_yscale("log")
    throughput.legend()
    fig.tight_layout()
    fig.savefig(target, dpi=110)


if __name__ == "__main__":
    main(*sys.argv[1:3])
