"""A worker process for the multiprocess test: records, then answers commands on stdin.

Run with PROMETHEUS_MULTIPROC_DIR set: ``python prometheus_worker.py <jobs> <weight>``.
Prints ``ready`` once recorded; then ``scrape`` prints this worker's view of /metrics
followed by ``END``, and ``close`` closes the provider and exits.
"""

from __future__ import annotations

import sys

from kit_prometheus import PrometheusProvider


def main() -> None:
    jobs, weight = int(sys.argv[1]), float(sys.argv[2])
    provider = PrometheusProvider(gauge_mode="livesum")
    done = provider.counter("jobs_total", "Jobs done.", ("kind",)).with_labels(kind="a")
    sizes = provider.histogram("job_size", "Job sizes.", buckets=(1, 10, 100))
    busy = provider.gauge("busy_workers", "Busy workers, weighted.")
    queued = provider.gauge("queued_jobs", "Jobs waiting.")
    weights = provider.summary("job_weight", "Weight of each job.")
    for index in range(jobs):
        queued.add(1.0)
        done.add()
        sizes.observe(index % 20)
        weights.observe(weight)
    queued.add(-1.0)
    busy.set(weight)
    print("ready", flush=True)
    for line in sys.stdin:
        command = line.strip()
        if command == "scrape":
            body, _ = provider.exposition()
            print(body.decode(), "END", sep="\n", flush=True)
        elif command == "close":
            provider.close()
            print("closed", flush=True)
            return


if __name__ == "__main__":
    main()
