"""On-demand looks at a host, like the seed's `ss -tuln`, `w`, `who`, `last` and
`find /path/to/application -type f -mtime -1 -ls`. Taken when a responder asks, not every few
seconds."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import psutil

from apps.health.models import Host, SecuritySnapshot

MAX_FILES = 500
LAST_LINES = 20


def listening_ports(host: Host) -> dict[str, Any]:
    rows = []
    for conn in psutil.net_connections(kind="inet"):
        if conn.status != psutil.CONN_LISTEN and conn.type != 2:  # 2 = SOCK_DGRAM (UDP has no LISTEN)
            continue
        if not conn.laddr:
            continue
        name = "?"
        if conn.pid:
            try:
                name = psutil.Process(conn.pid).name()
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                name = "?"
        rows.append(
            {"proto": "tcp" if conn.type == 1 else "udp", "address": conn.laddr.ip, "port": conn.laddr.port,
             "pid": conn.pid, "process": name}
        )  # fmt: skip
    rows.sort(key=lambda r: (r["proto"], r["port"]))
    return {"ports": rows}


def logins(host: Host) -> dict[str, Any]:
    users = [
        {"name": u.name, "terminal": u.terminal or "", "host": u.host or "", "since": u.started} for u in psutil.users()
    ]
    recent: list[str] = []
    last = shutil.which("last")
    if last:
        result = subprocess.run(  # noqa: S603 - fixed argument list
            [last, "-n", str(LAST_LINES), "-w"], capture_output=True, text=True, timeout=10, check=False
        )
        recent = [line for line in result.stdout.splitlines() if line.strip()][:LAST_LINES]
    return {"users": users, "recent": recent, "last_available": last is not None}


def modified_files(host: Host) -> dict[str, Any]:
    if not host.app_dir:
        return {"error": "No application folder is configured for this host.", "files": []}
    root = Path(host.app_dir)
    if not root.is_dir():
        return {"error": f"{root} is not a folder on {host.name}.", "files": []}
    since = time.time() - 24 * 3600
    files: list[dict[str, Any]] = []
    truncated = False
    for folder, _dirs, names in os.walk(root):
        for name in names:
            path = Path(folder) / name
            try:
                stat = path.lstat()
            except OSError:
                continue
            if stat.st_mtime >= since:
                if len(files) >= MAX_FILES:
                    truncated = True
                    break
                files.append({"path": str(path), "size": stat.st_size, "modified": stat.st_mtime})
        if truncated:
            break
    files.sort(key=lambda f: f["modified"], reverse=True)
    return {"root": str(root), "files": files, "truncated": truncated}


TAKERS = {
    SecuritySnapshot.Kind.PORTS: listening_ports,
    SecuritySnapshot.Kind.LOGINS: logins,
    SecuritySnapshot.Kind.MODIFIED_FILES: modified_files,
}
