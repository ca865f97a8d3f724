"""The host itself, like top, uptime, free -m and df -h."""

from __future__ import annotations

import os
import time
from typing import Any

import psutil

from apps.health.models import Host, Probe, State
from apps.health.probes import Reading
from apps.health.thresholds import grade

# Filesystems that are not disks a person would check with df -h.
PSEUDO_FILESYSTEMS = {"tmpfs", "devtmpfs", "overlay", "squashfs", "proc", "sysfs", "cgroup", "cgroup2", "nsfs"}


_cpu_primed = False
FIRST_CPU_WINDOW_SECONDS = 0.2


def cpu(host: Host) -> Reading:
    # Measured since this process's previous call, so sampling costs no waiting; the very first
    # call in a process has nothing to compare with and would read 0 %, so it waits once.
    global _cpu_primed
    if not _cpu_primed:
        psutil.cpu_percent(interval=None, percpu=True)
        time.sleep(FIRST_CPU_WINDOW_SECONDS)
        _cpu_primed = True
    per_core = psutil.cpu_percent(interval=None, percpu=True)
    total = round(sum(per_core) / len(per_core), 1) if per_core else 0.0
    return Reading(
        Probe.CPU,
        grade(total, host.thresholds, "cpu"),
        total,
        f"{total:.0f}% of {len(per_core)} cores",
        {"per_core": per_core},
    )


def load(host: Host) -> Reading:
    one, five, fifteen = os.getloadavg()
    cores = psutil.cpu_count() or 1
    per_core = round(one / cores, 2)
    return Reading(
        Probe.LOAD,
        grade(per_core, host.thresholds, "load"),
        round(one, 2),
        f"{one:.2f} {five:.2f} {fifteen:.2f}",
        {"1m": one, "5m": five, "15m": fifteen, "cores": cores, "per_core": per_core},
    )


def memory(host: Host) -> Reading:
    mem = psutil.virtual_memory()
    return Reading(
        Probe.MEMORY,
        grade(mem.percent, host.thresholds, "memory"),
        mem.percent,
        f"{mem.percent:.0f}% of {_size(mem.total)}",
        {"total": mem.total, "available": mem.available, "used": mem.used, "percent": mem.percent},
    )


def swap(host: Host) -> Reading:
    sw = psutil.swap_memory()
    if sw.total == 0:
        return Reading(Probe.SWAP, State.OK, 0.0, "no swap", {"total": 0})
    return Reading(
        Probe.SWAP,
        grade(sw.percent, host.thresholds, "swap"),
        sw.percent,
        f"{sw.percent:.0f}% of {_size(sw.total)}",
        {"total": sw.total, "used": sw.used, "percent": sw.percent},
    )


def disks(host: Host) -> Reading:
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for part in psutil.disk_partitions(all=False):
        if part.fstype in PSEUDO_FILESYSTEMS or part.device in seen:
            continue
        seen.add(part.device)
        try:
            usage = psutil.disk_usage(part.mountpoint)
        except OSError:
            continue
        rows.append(
            {"mount": part.mountpoint, "device": part.device, "fstype": part.fstype, "total": usage.total,
             "used": usage.used, "free": usage.free, "percent": usage.percent}
        )  # fmt: skip
    if not rows:
        usage = psutil.disk_usage("/")
        rows.append({"mount": "/", "device": "", "fstype": "", "total": usage.total, "used": usage.used,
                     "free": usage.free, "percent": usage.percent})  # fmt: skip
    worst = max(rows, key=lambda row: row["percent"])
    return Reading(
        Probe.DISK,
        grade(worst["percent"], host.thresholds, "disk"),
        worst["percent"],
        f"{worst['mount']} {worst['percent']:.0f}% used, {_size(worst['free'])} free",
        {"filesystems": rows},
    )


def uptime(host: Host) -> Reading:
    seconds = time.time() - psutil.boot_time()
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    return Reading(Probe.UPTIME, State.OK, round(seconds / 3600, 2), f"{days} d {hours} h {rest // 60} min", {})


def top_processes(host: Host, limit: int = 5) -> Reading:
    processes: list[dict[str, Any]] = []
    owners: dict[int, psutil.Process] = {}
    for proc in psutil.process_iter(["pid", "name", "cpu_percent", "memory_percent"]):
        info = proc.info
        owners[info["pid"]] = proc
        processes.append(
            {"pid": info["pid"], "name": info["name"] or "?",
             "cpu": round(info["cpu_percent"] or 0.0, 1), "memory": round(info["memory_percent"] or 0.0, 1)}
        )  # fmt: skip
    by_cpu = sorted(processes, key=lambda p: p["cpu"], reverse=True)[:limit]
    by_memory = sorted(processes, key=lambda p: p["memory"], reverse=True)[:limit]
    # Owners only for the rows shown: looking up every process's user doubled the probe's cost.
    for row in (*by_cpu, *by_memory):
        row["user"] = _owner(owners[row["pid"]])
    busiest = by_cpu[0] if by_cpu else {"name": "-", "cpu": 0}
    return Reading(
        Probe.PROCESSES,
        State.OK,
        float(len(processes)),
        f"{len(processes)} processes; busiest {busiest['name']} {busiest['cpu']}%",
        {"by_cpu": by_cpu, "by_memory": by_memory, "count": len(processes)},
    )


def _owner(proc: psutil.Process) -> str:
    try:
        return proc.username()
    except (psutil.Error, KeyError):
        return "?"


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit in ("B", "KB") else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"
