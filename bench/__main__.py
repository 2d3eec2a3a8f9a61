"""`make bench`: run every benchmark, each in its own process; results land in bench/results/.

.venv/bin/python -m bench [NAME ...]     (default: all, in the order below)
"""

from __future__ import annotations

import subprocess
import sys

BENCHMARKS = {
    "tariff": "bench.bench_tariff",
    "sync": "bench.bench_sync",
    "listener": "bench.bench_listener",
}


def main(argv: list[str]) -> int:
    chosen = argv or list(BENCHMARKS)
    unknown = [name for name in chosen if name not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s) {unknown}; choose from {list(BENCHMARKS)}", file=sys.stderr)
        return 2
    failed = []
    for name in chosen:
        print(f"== {name}", flush=True)
        if subprocess.run([sys.executable, "-m", BENCHMARKS[name]], check=False).returncode:
            failed.append(name)
    if failed:
        print(f"failed: {failed}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
