"""Runner of scripts/bench-server.sh: for each server binary (and round),
a fresh database, the server on ephemeral ports, the pre-signed meters
registered, then wrk replays the single readings and the batches; CPU time
is read from /proc around each replay. Writes docs/performance.md's section
"Reference server" unless BENCH_NO_DOCS=1.

Usage: run.py ADMIN_URL WORK METERS PER_METER SERVER [REFERENCE]
"""

import datetime
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request

admin, work, meters, per_meter, server_bin, reference_bin = sys.argv[1:7]
TCK = os.sysconf("SC_CLK_TCK")


def psql(url, sql):
    return subprocess.run(["psql", "-XAtq", url, "-c", sql], check=True,
                          capture_output=True, text=True).stdout.strip()


def free_ports(n):
    """n distinct free ports (all bound at once, so none is picked twice)."""
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def call(port, path, body=None, auth=None):
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


def replay(ctx, name, path, file):
    db_url, db, public, server_pid = ctx["db_url"], ctx["db"], ctx["public"], ctx["pid"]

    def pg_pids():
        # The backends of the bench database and the cluster's own processes
        # (WAL writer, checkpointer...), which serve every database of the
        # cluster: on a shared machine they also count others' work.
        rows = psql(db_url, "SELECT pid FROM pg_stat_activity "
                            f"WHERE datname = '{db}' OR backend_type <> 'client backend'")
        return {int(p) for p in rows.split()} - {server_pid}

    stored_before = int(psql(db_url, "SELECT count(*) FROM readings"))
    pids = pg_pids()
    before = {p: cpu_ticks(p) for p in pids}
    server_before = cpu_ticks(server_pid)
    done = f"{work}/{name}.done"
    if os.path.exists(done):
        os.remove(done)
    wrk = subprocess.Popen(["wrk", "-t1", "-c32", "-d300s", "--latency", "-s", "scripts/bench/replay.lua",
                            f"http://127.0.0.1:{public}", "--", path, file, done],
                           stdout=subprocess.PIPE, text=True)
    # The Lua script marks the last answer; then wrk is interrupted, which
    # makes it report the time actually spent (it would wait out -d).
    while not os.path.exists(done) and wrk.poll() is None:
        time.sleep(0.005)
    server_ticks = cpu_ticks(server_pid) - server_before
    pids |= pg_pids()
    pg_ticks = sum(cpu_ticks(p) - before.get(p, 0) for p in pids)
    wrk.send_signal(signal.SIGINT)
    _, status, usage = os.wait4(wrk.pid, 0)
    out = wrk.stdout.read()
    if status != 0:
        sys.exit(f"wrk failed: {out}")
    line = [l for l in out.splitlines() if l.startswith("requests=")][-1]
    kv = dict(p.split("=", 1) for p in line.split())
    time.sleep(0.2)  # the last answers wrk did not wait for
    stored = int(psql(db_url, "SELECT count(*) FROM readings")) - stored_before
    seconds = float(kv["seconds"])

    def per(ticks):
        return ticks / TCK * 1e6 / stored

    r = {
        "stored": stored, "seconds": seconds, "rate": stored / seconds,
        "p50_ms": int(kv["p50_us"]) / 1000, "p99_ms": int(kv["p99_us"]) / 1000,
        "server_us": per(server_ticks), "pg_us": per(pg_ticks),
        "wrk_us": (usage.ru_utime + usage.ru_stime) * 1e6 / stored,
        "refused": int(kv["s4xx"]) + int(kv["s429"]) + int(kv["s5xx"]),
        "errors": int(kv["errors"]) - int(kv["s4xx"]) - int(kv["s429"]) - int(kv["s5xx"]),
    }
    print(f"  {name}: {stored} stored in {seconds:.2f} s = {r['rate']:,.0f} readings/s; "
          f"p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms; CPU per reading: server "
          f"{r['server_us']:.0f} us, PostgreSQL {r['pg_us']:.0f} us, wrk {r['wrk_us']:.0f} us ({line})",
          flush=True)
    if r["errors"] or int(kv["s5xx"]):
        sys.exit(f"{name}: connection errors or 5xx: {line}")
    return r


def measure(label, binary):
    db = f"smartmeter_bench_{os.getpid()}"
    open(f"{work}/db", "w").write(db)
    psql(admin, f"CREATE DATABASE {db}")
    u = urllib.parse.urlsplit(admin)
    db_url = urllib.parse.urlunsplit(u._replace(path="/" + db))
    server_url = db_url
    if os.environ.get("BENCH_SSLMODE"):
        server_url += ("&" if "?" in server_url else "?") + "sslmode=" + os.environ["BENCH_SSLMODE"]
    public, operator = free_ports(2)
    token = f"bench-{os.getpid()}-{time.monotonic_ns()}"
    env = dict(os.environ, DATABASE_URL=server_url, SMARTMETER_OPERATOR_TOKEN=token,
               SMARTMETER_PUBLIC_ADDR=f"127.0.0.1:{public}", SMARTMETER_OPERATOR_ADDR=f"127.0.0.1:{operator}",
               # The rate limit stays on (its cost is part of a reading's),
               # far above this load, which sends as fast as it is answered.
               SMARTMETER_RATE_LIMIT_BURST="1000000", SMARTMETER_RATE_LIMIT_PER_SEC="1000000",
               RUST_LOG="warn")
    log = open(f"{work}/server-{label}.log", "w")
    server = subprocess.Popen([binary], env=env, stderr=log, stdout=log)
    open(f"{work}/server.pid", "w").write(str(server.pid))
    try:
        for _ in range(300):
            try:
                call(public, "/health")
                call(operator, "/health")
                break
            except Exception:
                time.sleep(0.2)
        else:
            log.flush()
            sys.exit(f"{label}: the server did not become healthy:\n" + open(f"{work}/server-{label}.log").read()[-3000:])
        for name in ("single", "batch"):
            for line in open(f"{work}/{name}/meters.jsonl"):
                assert call(operator, "/register", line.strip(), token) == 201
        ctx = {"db_url": db_url, "db": db, "public": public, "pid": server.pid}
        print(f"{label} ({binary}):", flush=True)
        single = replay(ctx, "single", "/reportReading", f"{work}/single/single.txt")
        batch = replay(ctx, "batch", "/reportReadings", f"{work}/batch/batch.txt")
        info = {
            "sync": psql(db_url, "SHOW synchronous_commit"),
            "version": psql(db_url, "SHOW server_version").split()[0],
            "ssl": psql(db_url, "SELECT bool_and(s.ssl) FROM pg_stat_ssl s JOIN pg_stat_activity a "
                                f"USING (pid) WHERE a.datname = '{db}' AND a.pid <> pg_backend_pid()"),
        }
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
        os.remove(f"{work}/server.pid")
        psql(admin, f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
    return single, batch, info


servers = [("this", server_bin)]
if reference_bin:
    servers.insert(0, ("reference", reference_bin))
rounds = int(os.environ.get("BENCH_ROUNDS", "2" if reference_bin else "1"))
load = open("/proc/loadavg").read().split()[0]
results = []
for round_ in range(rounds):
    for label, binary in servers:
        results.append((label, round_ + 1) + measure(label, binary))

if os.environ.get("BENCH_NO_DOCS") == "1":
    sys.exit(0)

cpu = "unknown CPU"
for line in open("/proc/cpuinfo"):
    if line.startswith("model name"):
        cpu = line.split(":", 1)[1].strip()
        break
info = results[-1][4]


def row(label, round_, what, r):
    who = "this server" if label == "this" else os.environ.get("BENCH_REFERENCE_NAME", "reference")
    return (f"| {who}, round {round_} | {what} | {r['stored']:,} | {r['seconds']:.2f} | **{r['rate']:,.0f}** | "
            f"{r['p50_ms']:.1f} ms | {r['p99_ms']:.1f} ms | {r['server_us']:.0f} µs | {r['pg_us']:.0f} µs | "
            f"{r['wrk_us']:.0f} µs | {r['refused']} |")


rows = []
for label, round_, single, batch, _ in results:
    rows.append(row(label, round_, "`POST /reportReading`", single))
    rows.append(row(label, round_, "`POST /reportReadings` (64 per request)", batch))
command = f"scripts/bench-server.sh {meters} {per_meter}"
if os.environ.get("BENCH_SSLMODE"):
    command = f"BENCH_SSLMODE={os.environ['BENCH_SSLMODE']} {command}"
if reference_bin:
    command = f"BENCH_REFERENCE=<release build of the reference> {command}"
table = "\n".join(rows)
section = f"""<!-- server-bench:begin -->
## Reference server

Measured by `{command}` on {datetime.date.today()} ({cpu},
{os.cpu_count()} cores, shared with other builds: load average {load} when the run started).
Everything runs on this one machine: the release build of `smartmeter-server`, PostgreSQL
{info['version']} (`synchronous_commit` {info['sync']}, so every 2xx is durable; the server's
connections use TLS: {"yes" if info['ssl'] == "t" else "no"}) and the load tool, wrk 4.1 from Debian
(`wrk -t1 -c32 --latency` with `scripts/bench/replay.lua`). {meters} meters with their own RSA-2048
keys; their {per_meter} readings each are signed before the clock starts and replayed once each, round
by round (every meter's sequence 1, then every meter's 2, ...), over 32 keep-alive connections, as
fast as the server answers. Every reading is parsed, verified, checked by the policy and committed
before its answer. The batch rows use another {meters} meters and 64 readings per request (latency is
per request). Each server run has a fresh database. CPU time is read from `/proc` (utime + stime)
around each replay: the server process; PostgreSQL's backends of the bench database plus the
cluster's own processes (WAL writer, checkpointer...), which also serve other databases on this
shared machine; wrk's from its rusage. All per stored reading.

| server | endpoint | readings stored | seconds | readings/s | p50 latency | p99 latency | server CPU per reading | PostgreSQL CPU per reading | wrk CPU per reading | answers 4xx |
|---|---|---|---|---|---|---|---|---|---|---|
{table}

The server, PostgreSQL and wrk share the 2 cores, so the CPU columns explain the rate: readings/s is
at most 2 cores / (server + PostgreSQL + wrk) per reading. A reading that overtakes an earlier one
of its meter (readings of one meter are {meters} requests apart, but a slow request can be overtaken) is
answered 409 `stale_sequence` and not stored; the last column counts those. This is the server
before the set-based ingest path of issue 10 (PL/pgSQL policy per reading, `NUMERIC` columns); its
targets are 15,000 readings/s and 40 µs each for the server and PostgreSQL per reading. Each figure
comes from one run on a shared machine; expect runs to differ by 20 % or more.
<!-- server-bench:end -->"""
path = "docs/performance.md"
text = open(path).read()
if "<!-- server-bench:begin -->" in text:
    text = re.sub(r"<!-- server-bench:begin -->.*?<!-- server-bench:end -->", lambda _: section, text, flags=re.S)
else:
    text = text.rstrip("\n") + "\n\n" + section + "\n"
open(path, "w").write(text)
print(section)
