"""What the benchmark drivers (run.py, cluster.py) share: psql, one HTTP
call to a local listener, a process's CPU ticks from /proc, and the scripts'
one port picker (scripts/lib/free_ports.py)."""

import os
import subprocess
import sys
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from free_ports import free_ports  # noqa: E402,F401  (re-exported for the drivers)


def psql(url, sql):
    """The output of one SQL command, unaligned, without headers."""
    return subprocess.run(["psql", "-XAtq", url, "-c", sql], check=True,
                          capture_output=True, text=True).stdout.strip()


def call(port, path, body=None, auth=None):
    """The status of one request to 127.0.0.1:port (JSON body, bearer token)."""
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body and body.encode(),
                                 headers={"Content-Type": "application/json"})
    if auth:
        req.add_header("Authorization", f"Bearer {auth}")
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.status


def cpu_ticks(pid):
    """utime + stime of a process, in clock ticks (0 once it is gone)."""
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])
