"""The host itself, like top, uptime, free -m and df -h."""

from __future__ import annotations

import contextlib
import functools
import os
import pwd
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
    processes = _proc_table() if _HAVE_PROC else None
    if processes is None:
        processes = _psutil_table()
    by_cpu = sorted(processes, key=lambda p: p["cpu"], reverse=True)[:limit]
    by_memory = sorted(processes, key=lambda p: p["memory"], reverse=True)[:limit]
    # Owners (and full names) only for the rows shown: looking up every process's user doubled
    # the probe's cost.
    completed: dict[int, tuple[str, str]] = {}
    for row in (*by_cpu, *by_memory):
        if row["pid"] not in completed:
            completed[row["pid"]] = _name_and_owner(row["pid"], row["name"])
        row["name"], row["user"] = completed[row["pid"]]
    busiest = by_cpu[0] if by_cpu else {"name": "-", "cpu": 0}
    return Reading(
        Probe.PROCESSES,
        State.OK,
        float(len(processes)),
        f"{len(processes)} processes; busiest {busiest['name']} {busiest['cpu']}%",
        {"by_cpu": by_cpu, "by_memory": by_memory, "count": len(processes)},
    )


def _psutil_table() -> list[dict[str, Any]]:
    processes: list[dict[str, Any]] = []
    for proc in psutil.process_iter(["pid", "name", "cpu_percent", "memory_percent"]):
        info = proc.info
        processes.append(
            {"pid": info["pid"], "name": info["name"] or "?",
             "cpu": round(info["cpu_percent"] or 0.0, 1), "memory": round(info["memory_percent"] or 0.0, 1)}
        )  # fmt: skip
    return processes


# On Linux the table is read straight from /proc/<pid>/stat, one read per process, which has
# the name, CPU ticks and resident pages; psutil reads three files per process and was about
# 30 ms a round here, the costliest part of sampling. CPU % is since this process's previous
# read, per core, as psutil's cpu_percent() (0 on the first read of a process).
_HAVE_PROC = os.path.exists("/proc/self/stat")
_previous_ticks: dict[int, tuple[int, int]] = {}
_previous_at = 0.0


def _proc_table() -> list[dict[str, Any]] | None:
    global _previous_at
    try:
        ticks_per_second = os.sysconf("SC_CLK_TCK")
        page = os.sysconf("SC_PAGE_SIZE")
        pids = [int(name) for name in os.listdir("/proc") if name.isdigit()]
    except (OSError, ValueError):
        return None
    total_memory = psutil.virtual_memory().total
    now = time.monotonic()
    elapsed = now - _previous_at if _previous_at else 0.0
    seen: dict[int, tuple[int, int]] = {}
    processes: list[dict[str, Any]] = []
    for pid in pids:
        try:
            fd = os.open(f"/proc/{pid}/stat", os.O_RDONLY)
            try:
                data = os.read(fd, 4096)
            finally:
                os.close(fd)
        except OSError:  # gone since the listing, or not ours to read
            continue
        close = data.rfind(b")")
        fields = data[close + 2 :].split()
        try:
            ticks, started, pages = int(fields[11]) + int(fields[12]), int(fields[19]), int(fields[21])
        except (IndexError, ValueError):
            continue
        seen[pid] = (started, ticks)
        before = _previous_ticks.get(pid)
        cpu = 0.0
        if elapsed > 0 and before is not None and before[0] == started:
            cpu = 100 * (ticks - before[1]) / ticks_per_second / elapsed
        processes.append(
            {"pid": pid, "name": data[data.find(b"(") + 1 : close].decode(errors="replace") or "?",
             "cpu": round(cpu, 1), "memory": round(100 * pages * page / total_memory, 1)}
        )  # fmt: skip
    _previous_ticks.clear()
    _previous_ticks.update(seen)
    _previous_at = now
    return processes


def _name_and_owner(pid: int, name: str) -> tuple[str, str]:
    """A row's full name (the kernel cuts it at 15 characters) and its owner."""
    if _HAVE_PROC:
        try:
            uid = os.stat(f"/proc/{pid}").st_uid
        except OSError:
            return name, "?"
        if len(name) >= 15:
            with contextlib.suppress(psutil.Error):
                name = psutil.Process(pid).name() or name
        return name, _user_name(uid)
    try:
        proc = psutil.Process(pid)
        return (proc.name() or name if len(name) >= 15 else name), _owner(proc)
    except psutil.Error:
        return name, "?"


@functools.lru_cache(maxsize=256)
def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


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
