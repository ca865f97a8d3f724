"""Sampler cost: CPU time of one host's sampling at the default interval, as a share of one core.

A real Celery worker consumes the host's queue; this script plays beat, sending the fan-out
every HEALTH_SAMPLE_SECONDS for the measured window, and reads the worker's CPU time (with its
children) from /proc through psutil. Baseline, in the same run: the same worker, idle, for the
same window. Target: under 1 % of one core.

The worker's first round after start-up (imports, template compilation, the first connections:
0.15 to 0.3 s of CPU, once per worker) is taken before the windows and reported apart, since a
window's share of it would depend on the window's length.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/incidentcenter REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python benchmarks/health_sampler_cpu.py [--seconds 180]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

import _django
import psutil
from django.conf import settings

HOST = "bench-sampler"


def worker_cpu(proc: psutil.Process) -> float:
    total = sum(proc.cpu_times()[:2])
    for child in proc.children(recursive=True):
        try:
            total += sum(child.cpu_times()[:2])
        except psutil.NoSuchProcess:
            continue
    return total


def warm_up(proc: psutil.Process) -> float:
    """Run one round and wait until it is stored; returns its CPU time in ms."""
    from apps.core.jobs import enqueue
    from apps.health.models import Sample

    before = worker_cpu(proc)
    enqueue("health.fan_out_samples")
    deadline = time.monotonic() + 60
    while not Sample.objects.filter(host__name=HOST).exists():
        if time.monotonic() > deadline:
            raise RuntimeError("the worker stored no sample within a minute")
        time.sleep(0.2)
    time.sleep(2)  # the round's rendering and publishing, after its samples are stored
    return 1000 * (worker_cpu(proc) - before)


def measure(proc: psutil.Process, seconds: float, sample: bool) -> tuple[float, int]:
    from apps.core.jobs import enqueue

    start_cpu, start = worker_cpu(proc), time.monotonic()
    rounds = 0
    while time.monotonic() - start < seconds:
        if sample:
            enqueue("health.fan_out_samples")  # as beat does
            rounds += 1
        time.sleep(settings.HEALTH_SAMPLE_SECONDS)
    return 100 * (worker_cpu(proc) - start_cpu) / (time.monotonic() - start), rounds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=180)
    args = parser.parse_args()
    if not settings.REDIS_URL:
        sys.exit("Set REDIS_URL: the sampler runs in a real Celery worker.")
    from apps.health.models import Host, Sample

    with _django.scratch_database() as url:
        Host.objects.create(name=HOST, services="postgresql, nginx", website_urls="", app_dir=str(_django.ROOT))
        env = {**os.environ, "DATABASE_URL": url, "INCIDENTCENTER_HOST": HOST, "TARGET_DATABASE_URL": url}
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "incidentcenter", "worker", "--pool=solo", "--loglevel=WARNING",
             "-Q", f"default,host.{HOST}", "-n", f"bench@{HOST}"],
            cwd=_django.ROOT, env=env,
        )  # fmt: skip
        try:
            proc = psutil.Process(worker.pid)
            time.sleep(8)  # the worker's own start-up is not what is measured
            first_round = warm_up(proc)
            idle, _ = measure(proc, args.seconds, sample=False)
            busy, rounds = measure(proc, args.seconds, sample=True)
            samples = Sample.objects.filter(host__name=HOST).count()
        finally:
            worker.terminate()
            worker.wait(timeout=30)
    print(f"Sampler CPU over {args.seconds:.0f} s at one round every {settings.HEALTH_SAMPLE_SECONDS} s")
    print(f"  first round after start-up (before the windows): {first_round:.0f} ms of CPU")
    print(f"  idle worker (baseline): {idle:.2f} % of one core")
    print(f"  sampling worker:        {busy:.2f} % of one core ({rounds} rounds, {samples} samples stored)")
    print(f"  sampling itself:        {busy - idle:.2f} % of one core (target < 1 %)")


if __name__ == "__main__":
    main()
