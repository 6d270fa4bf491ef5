#!/usr/bin/env python3
"""Cluster-mode measurements for scripts/bench-cluster.sh (issue 15).

    cluster.py ADMIN_URL WORK_DIR METERS SERVER_BINARY

WORK_DIR holds presign's output (meters.jsonl, single.txt). Two runs, each
on a fresh database and a fresh single-node JetStream server (replicas 1:
on one machine, replicas would only multiply the same cores' work):

1. ingest scaling: 1 store worker (4 partitions) and 1, then 2, ingest
   nodes, with a fixed total load of 32 connections replaying every
   reading once (each meter's readings through one ingest node, in
   order); readings stored per second, and each process's CPU per reading;
2. one partition's throughput: an ingest node with a 200 ms verdict
   deadline fills a 1-partition stream while no store worker runs (the
   meters get 503, the stream keeps every reading); then one store worker
   starts, and the time from its first stored reading to its last gives
   the rate at which one partition is judged, stored and acknowledged.

Prints one JSON object.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

TOKEN = "bench-cluster-token"
NATS = os.environ.get("NATS_SERVER") or "nats-server"
TICK = os.sysconf("SC_CLK_TCK")

admin, work, meters, binary = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import call, cpu_ticks, free_ports, psql  # noqa: E402  (shared with run.py)


def db_url(name):
    base, _, query = admin.partition("?")
    scheme, _, rest = base.partition("://")
    host = rest.split("/", 1)[0]
    return f"{scheme}://{host}/{name}" + (f"?{query}" if query else "")


class Cluster:
    def __init__(self, tag):
        self.procs = []
        self.dir = tempfile.mkdtemp(prefix=f"smartmeter-{tag}-", dir=work)
        self.db = f"smartmeter_bench_{tag}_{os.getpid()}"
        psql(admin, f"CREATE DATABASE {self.db}")
        self.url = db_url(self.db) + ("&" if "?" in admin else "?") + "sslmode=disable"
        (self.nats_port,) = free_ports(1)
        self.spawn("nats", [NATS, "-a", "127.0.0.1", "-p", str(self.nats_port), "-js",
                            "-sd", f"{self.dir}/nats"])
        time.sleep(1)

    def spawn(self, name, argv, env=None):
        log = open(f"{self.dir}/{name}.log", "w")
        p = subprocess.Popen(argv, stdout=log, stderr=log, env=env)
        self.procs.append(p)
        return p

    def node(self, name, role, *extra):
        public, operator = free_ports(2)
        env = dict(os.environ, SMARTMETER_OPERATOR_TOKEN=TOKEN, ROCKET_WORKERS="2",
                   RUST_LOG="warn")
        p = self.spawn(name, [binary, "--database-url", self.url, "--public-addr",
                              f"127.0.0.1:{public}", "--operator-addr", f"127.0.0.1:{operator}",
                              "--rate-limit-burst", "0", "--nats-url",
                              f"nats://127.0.0.1:{self.nats_port}", "--role", role,
                              "--ack-wait-ms", "1000", *extra], env)
        for _ in range(600):
            try:
                if call(public, "/health") == 200:
                    return p, public, operator
            except OSError:
                pass
            time.sleep(0.05)
        sys.exit(f"{name} did not start; see {self.dir}/{name}.log")

    def stored(self):
        return int(psql(self.url, "SELECT count(*) FROM readings"))

    def close(self):
        for p in self.procs:
            p.send_signal(signal.SIGKILL)
            p.wait()
        psql(admin, f"DROP DATABASE IF EXISTS {self.db} WITH (FORCE)")


def register(operator):
    with open(f"{work}/meters.jsonl") as f:
        for line in f:
            assert call(operator, "/register", line.strip(), TOKEN) == 201


def split(k):
    """single.txt into k files: meter m (line i is meter i mod METERS) to file m mod k."""
    outs = [open(f"{work}/part{j}of{k}.txt", "w") for j in range(k)]
    with open(f"{work}/single.txt") as f:
        for i, line in enumerate(f):
            outs[(i % meters) % k].write(line)
    for o in outs:
        o.close()
    return [f"{work}/part{j}of{k}.txt" for j in range(k)]


def wrk(port, file, conns, tag):
    done = f"{work}/{tag}.done"
    if os.path.exists(done):
        os.remove(done)
    p = subprocess.Popen(["wrk", "-t1", f"-c{conns}", "-d300s", "-s", "scripts/bench/replay.lua",
                          f"http://127.0.0.1:{port}", "--", "/reportReading", file, done],
                         stdout=subprocess.PIPE, text=True)
    return p, done


def scaling(k, total):
    c = Cluster(f"scale{k}")
    try:
        store, _, _ = c.node("store", "store", "--partitions", "4")
        ingest = [c.node(f"ingest{j}", "ingest", "--partitions", "4") for j in range(k)]
        register(ingest[0][2])
        time.sleep(1)  # the registry reaches every ingest node
        files = split(k)
        pids = [store.pid] + [p.pid for p, _, _ in ingest] + [c.procs[0].pid]
        before = {pid: cpu_ticks(pid) for pid in pids}
        started = time.monotonic()
        runs = [wrk(port, f, total // k, f"scale{k}-{j}")
                for j, ((_, port, _), f) in enumerate(zip(ingest, files))]
        while not all(os.path.exists(d) or p.poll() is not None for p, d in runs):
            time.sleep(0.005)
        elapsed = time.monotonic() - started
        after = {pid: cpu_ticks(pid) for pid in pids}
        for p, _ in runs:
            p.send_signal(signal.SIGINT)
            p.wait()
        time.sleep(0.5)
        stored = c.stored()
        ms = lambda pid: (after[pid] - before[pid]) * 1000 / TICK / max(stored, 1)  # noqa: E731
        return {
            "ingest_nodes": k,
            "stored": stored,
            "seconds": round(elapsed, 2),
            "readings_per_sec": round(stored / elapsed),
            "store_worker_cpu_ms_per_reading": round(ms(store.pid), 3),
            "ingest_cpu_ms_per_reading_all_nodes": round(sum(ms(p.pid) for p, _, _ in ingest), 3),
            "nats_cpu_ms_per_reading": round(ms(c.procs[0].pid), 3),
        }
    finally:
        c.close()


def partition_drain():
    c = Cluster("drain")
    try:
        _, port, operator = c.node("ingest", "ingest", "--partitions", "1",
                                   "--verdict-timeout-ms", "200")
        register(operator)
        total = sum(1 for _ in open(f"{work}/single.txt"))
        p, done = wrk(port, f"{work}/single.txt", 64, "drain")
        while not os.path.exists(done) and p.poll() is None:
            time.sleep(0.01)
        p.send_signal(signal.SIGINT)
        p.wait()
        store, _, _ = c.node("store", "store", "--partitions", "1")
        cpu0 = cpu_ticks(store.pid)
        # wrk may leave the last few bodies unsent (replay.lua), so the end
        # is when the count has stopped moving for a second.
        first = last = None
        n = n_first = 0
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            now, m = time.monotonic(), c.stored()
            if m > 0 and first is None:
                first, n_first = now, m
            if m != n:
                n, last = m, now
            elif last is not None and now - last > 1.0:
                break
            time.sleep(0.02)
        cpu = (cpu_ticks(store.pid) - cpu0) * 1000 / TICK
        span = (last or 0) - (first or 0)
        return {
            "readings_sent": total,
            "stored": n,
            "seconds": round(span, 2),
            "readings_per_sec": round((n - n_first) / span) if span > 0 else None,
            "store_worker_cpu_ms_per_reading": round(cpu / max(n, 1), 3),
        }
    finally:
        c.close()


print(json.dumps({
    "meters": meters,
    "cores": os.cpu_count(),
    "scaling": [scaling(1, 32), scaling(2, 32)],
    "partition": partition_drain(),
}))
