"""Runner of scripts/bench-server.sh: for each server binary (and round),
a fresh database, the server on ephemeral ports, the pre-signed meters
registered, then wrk replays the single readings and the batches; CPU time
is read from /proc around each replay. Writes docs/performance.md's section
"Reference server" (scripts/lib/doc_section.py) unless BENCH_NO_DOCS=1.

Usage: run.py ADMIN_URL WORK METERS PER_METER SERVER [REFERENCE]
"""

import datetime
import os
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import call, cpu_ticks, free_ports, psql  # noqa: E402  (shared with cluster.py)

admin, work, meters, per_meter, server_bin, reference_bin = sys.argv[1:7]
TCK = os.sysconf("SC_CLK_TCK")


def replay(ctx, name, path, file, conns=32, rate=None):
    db_url, db, public, server_pid = ctx["db_url"], ctx["db"], ctx["public"], ctx["pid"]

    def pg_pids():
        # The backends of the bench database and the cluster's own processes
        # (WAL writer, checkpointer...), which serve every database of the
        # cluster: on a shared machine they also count others' work.
        rows = psql(db_url, "SELECT pid FROM pg_stat_activity "
                            f"WHERE datname = '{db}' OR backend_type <> 'client backend'")
        return {int(p) for p in rows.split()} - {server_pid}

    stored_before = int(psql(db_url, "SELECT count(*) FROM readings"))
    syncs_before = int(psql(db_url, "SELECT wal_sync FROM pg_stat_wal"))
    pids = pg_pids()
    before = {p: cpu_ticks(p) for p in pids}
    server_before = cpu_ticks(server_pid)
    done = f"{work}/{name}.done"
    if os.path.exists(done):
        os.remove(done)
    script = "scripts/bench/paced.lua" if rate else "scripts/bench/replay.lua"
    extra = [str(rate)] if rate else []
    wrk = subprocess.Popen(["wrk", "-t1", f"-c{conns}", "-d300s", "--latency", "-s", script,
                            f"http://127.0.0.1:{public}", "--", path, file, done] + extra,
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
    # WAL flushes of the whole cluster (others' work on this shared machine
    # included), so an upper bound of the bench's own. Backends publish
    # their counts when idle for 10 s at the latest: wait for that.
    time.sleep(11)
    syncs = int(psql(db_url, "SELECT wal_sync FROM pg_stat_wal")) - syncs_before
    seconds = float(kv["seconds"])

    def per(ticks):
        return ticks / TCK * 1e6 / stored

    r = {
        "stored": stored, "seconds": seconds, "rate": stored / seconds,
        "p50_ms": int(kv["p50_us"]) / 1000, "p99_ms": int(kv["p99_us"]) / 1000,
        "server_us": per(server_ticks), "pg_us": per(pg_ticks),
        "wrk_us": (usage.ru_utime + usage.ru_stime) * 1e6 / stored,
        "conns": conns, "rate_target": rate, "wal_syncs": syncs,
    }
    if rate:
        # paced.lua: every non-2xx is counted in sother; errors are transport errors only.
        r["refused"] = int(kv["sother"])
        r["errors"] = int(kv["errors"])
        r["late_sends"] = int(kv["late_sends"])
        r["lag_max_ms"] = float(kv["lag_max_ms"])
    else:
        r["refused"] = int(kv["s4xx"]) + int(kv["s429"]) + int(kv["s5xx"])
        r["errors"] = int(kv["errors"]) - r["refused"]
    print(f"  {name}: {stored} stored in {seconds:.2f} s = {r['rate']:,.0f} readings/s; "
          f"p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms; CPU per reading: server "
          f"{r['server_us']:.0f} us, PostgreSQL {r['pg_us']:.0f} us, wrk {r['wrk_us']:.0f} us; "
          f"{syncs} WAL flushes ({stored / max(syncs, 1):.1f} readings each) ({line})",
          flush=True)
    if r["errors"] or int(kv.get("s5xx", 0)):
        sys.exit(f"{name}: connection errors or 5xx: {line}")
    return r


# 10 million real-looking stored readings: 10,000 other meters, 1,000
# readings each, one a minute, timestamped this month (so they land in the
# partition the bench's own readings go to), 256-byte signatures; loaded
# with one INSERT ... SELECT from generate_series (about a minute here).
LARGE_SQL = """
INSERT INTO readings (meter_id, sequence, timestamp_ms, wh_imported, wh_exported, algorithm, signature)
SELECT 1000000 + m, (n - 9223372036854775808)::bigint,
       ((extract(epoch FROM date_trunc('month', now())) * 1000)::bigint + n * 60000 + m
         - 9223372036854775808)::bigint,
       (n * 7 + m - 9223372036854775808)::bigint, (n - 9223372036854775808)::bigint, 1,
       decode(repeat(md5(m::text || '/' || n::text), 16), 'hex')
  FROM generate_series(1, {meters}) m, generate_series(1, {per_meter}) n
"""


def load_large(db_url, rows):
    meters = 10000
    started = time.monotonic()
    psql(db_url, LARGE_SQL.format(meters=meters, per_meter=rows // meters))
    psql(db_url, "ANALYZE readings")
    # The load dirtied gigabytes: write them back now, so that the run
    # after it measures a large table, not the load's checkpoint.
    psql(db_url, "CHECKPOINT")
    return time.monotonic() - started


def bytes_per_reading(db_url):
    """Table plus indexes of every partition, per stored reading."""
    # A partitioned table is the sum of its partitions; the reference's
    # readings table is a plain one.
    size = int(psql(db_url, "SELECT coalesce(sum(pg_total_relation_size(i.inhrelid)), "
                            "pg_total_relation_size('readings')) FROM pg_inherits i "
                            "WHERE i.inhparent = 'readings'::regclass"))
    count = int(psql(db_url, "SELECT count(*) FROM readings"))
    heap = int(psql(db_url, "SELECT coalesce(sum(pg_relation_size(i.inhrelid)), "
                            "pg_relation_size('readings')) FROM pg_inherits i "
                            "WHERE i.inhparent = 'readings'::regclass"))
    return size / count, heap / count, count


SETS = ("single", "batch", "paced", "large")


def measure(label, binary):
    db = f"smartmeter_bench_{os.getpid()}"
    open(f"{work}/db", "w").write(db)
    psql(admin, f"CREATE DATABASE {db}")
    u = urllib.parse.urlsplit(admin)
    db_url = urllib.parse.urlunsplit(u._replace(path="/" + db))
    server_url = db_url + ("&" if "?" in db_url else "?") + "sslmode=" + SSLMODE
    public, operator = free_ports(2)
    token = f"bench-{os.getpid()}-{time.monotonic_ns()}"
    env = dict(os.environ, DATABASE_URL=server_url, SMARTMETER_OPERATOR_TOKEN=token,
               SMARTMETER_PUBLIC_ADDR=f"127.0.0.1:{public}", SMARTMETER_OPERATOR_ADDR=f"127.0.0.1:{operator}",
               # The rate limit stays on (its cost is part of a reading's),
               # far above this load, which sends as fast as it is answered.
               SMARTMETER_RATE_LIMIT_BURST="1000000", SMARTMETER_RATE_LIMIT_PER_SEC="1000000",
               # Rocket's async worker threads (default: one per core). On two
               # cores shared with PostgreSQL and wrk, one thread saves the
               # wake-ups between threads (docs/performance.md).
               ROCKET_WORKERS=ROCKET_WORKERS, RUST_LOG="warn")
    log = open(f"{work}/server-{label}.log", "w")
    server = subprocess.Popen([binary], env=env, stderr=log, stdout=log)
    open(f"{work}/server.pid", "w").write(str(server.pid))
    out = {}
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
        for name in sorted(LOADS):
            for line in open(f"{work}/{name}/meters.jsonl"):
                assert call(operator, "/register", line.strip(), token) == 201
        ctx = {"db_url": db_url, "db": db, "public": public, "pid": server.pid}
        print(f"{label} ({binary}):", flush=True)
        time.sleep(11)  # the registrations' WAL counts are published
        if "single" in LOADS:
            out["single"] = replay(ctx, "single", "/reportReading", f"{work}/single/single.txt")
        if "batch" in LOADS:
            out["batch"] = replay(ctx, "batch", "/reportReadings", f"{work}/batch/batch.txt")
        if "paced" in LOADS:
            out["paced"] = replay(ctx, "paced", "/reportReading", f"{work}/paced/single.txt",
                                  conns=PACED_CONNS, rate=RATE)
        # The large table is loaded in this server's schema (offset BIGINT,
        # partitions); the reference's schema differs, so it is not loaded there.
        if "large" in LOADS and LARGE_ROWS and label == "this":
            seconds = load_large(db_url, LARGE_ROWS)
            print(f"  loaded {LARGE_ROWS:,} readings in {seconds:.0f} s", flush=True)
            out["large"] = replay(ctx, "large", "/reportReading", f"{work}/large/single.txt")
            out["large"]["load_seconds"] = seconds
        out["bytes"] = bytes_per_reading(db_url)
        out["info"] = {
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
    return out


SSLMODE = os.environ.get("BENCH_SSLMODE", "disable")
ROCKET_WORKERS = os.environ.get("BENCH_ROCKET_WORKERS", "1")
RATE = int(os.environ.get("BENCH_RATE", "7500"))
PACED_CONNS = int(os.environ.get("BENCH_PACED_CONNS", "128"))
LARGE_ROWS = int(os.environ.get("BENCH_LARGE_ROWS", "10000000"))
LOADS = set((os.environ.get("BENCH_LOADS") or ",".join(SETS)).split(","))
if not LOADS <= set(SETS):
    sys.exit(f"BENCH_LOADS: each of {', '.join(sorted(LOADS - set(SETS)))} is not one of {', '.join(SETS)}")
servers = [("this", server_bin)]
if reference_bin:
    servers.insert(0, ("reference", reference_bin))
rounds = int(os.environ.get("BENCH_ROUNDS", "2" if reference_bin else "1"))
load = open("/proc/loadavg").read().split()[0]
results = []
for round_ in range(rounds):
    for label, binary in servers:
        results.append((label, round_ + 1, measure(label, binary)))
load_end = open("/proc/loadavg").read().split()[0]

if os.environ.get("BENCH_NO_DOCS") == "1":
    sys.exit(0)

cpu = "unknown CPU"
for line in open("/proc/cpuinfo"):
    if line.startswith("model name"):
        cpu = line.split(":", 1)[1].strip()
        break
info = results[-1][2]["info"]
ref_name = os.environ.get("BENCH_REFERENCE_NAME", "reference")


def row(label, round_, what, r):
    who = "this server" if label == "this" else ref_name
    lag = f"; schedule lag max {r['lag_max_ms']:.0f} ms" if r.get("rate_target") else ""
    return (f"| {who}, round {round_} | {what} | {r['stored']:,} | {r['seconds']:.2f} | **{r['rate']:,.0f}** | "
            f"{r['p50_ms']:.1f} ms | {r['p99_ms']:.1f} ms{lag} | {r['server_us']:.0f} µs | {r['pg_us']:.0f} µs | "
            f"{r['wrk_us']:.0f} µs | {r['stored'] / max(r['wal_syncs'], 1):.1f} | {r['refused']} |")


names = {
    "single": "`POST /reportReading`, `-c32`",
    "batch": "`POST /reportReadings` (64 per request), `-c32`",
    "paced": f"`POST /reportReading` at a fixed {RATE:,}/s, `-c{PACED_CONNS}`",
    "large": f"`POST /reportReading`, `-c32`, after loading {LARGE_ROWS:,} readings",
}
rows = []
sizes = []
for label, round_, out in results:
    for key in SETS:
        if key in out:
            rows.append(row(label, round_, names[key], out[key]))
    total, heap, count = out["bytes"]
    who = "this server" if label == "this" else ref_name
    sizes.append(f"| {who}, round {round_} | {count:,} | {heap:.0f} | {total:.0f} |")
command = f"scripts/bench-server.sh {meters} {per_meter}"
if reference_bin:
    command = f"BENCH_REFERENCE=<release build of the reference> {command}"
table = "\n".join(rows)
size_table = "\n".join(sizes)
section = f"""## Reference server

Measured by `{command}` on {datetime.date.today()} ({cpu}, {os.cpu_count()} cores, shared with
other builds: load average {load} when the run started, {load_end} when it ended).
Everything runs on this one machine: the release build of `smartmeter-server`, PostgreSQL
{info['version']} (`synchronous_commit` {info['sync']}, so every 2xx is durable; the server's
connections use `sslmode={SSLMODE}`: TLS on loopback protects nothing and costs PostgreSQL CPU, see
below; the server's default stays libpq's `prefer`; both servers run with `ROCKET_WORKERS={ROCKET_WORKERS}`,
see below) and the load tool, wrk 4.1 from Debian with
`scripts/bench/replay.lua` (as fast as answered) or `scripts/bench/paced.lua` (a fixed rate: an
open-loop schedule, as wrk2 would; Debian has no wrk2). {meters} meters with their own RSA-2048
keys per set; their {per_meter} readings each are signed before the clock starts and replayed once
each, round by round (every meter's sequence 1, then every meter's 2, ...), over keep-alive
connections. Every reading is parsed, verified, judged by the core's rules and committed before its
answer. The batch rows use another set, with twice the readings per meter, 64 per request (latency is per request).
Each server run has a fresh database. CPU time is read from `/proc` (utime + stime) around each
replay: the server process; PostgreSQL's backends of the bench database plus the cluster's own
processes (WAL writer, checkpointer...), which also serve other databases on this shared machine;
wrk's from its rusage. All per stored reading. "Readings per WAL flush" divides the readings
stored by the cluster's WAL flushes (`pg_stat_wal.wal_sync`) during the replay.

| server | load | readings stored | seconds | readings/s | p50 latency | p99 latency | server CPU per reading | PostgreSQL CPU per reading | wrk CPU per reading | readings per WAL flush | answers 4xx |
|---|---|---|---|---|---|---|---|---|---|---|---|
{table}

The large-table rows first load {LARGE_ROWS:,} real-looking readings (10,000 other meters, 256-byte
signatures, timestamped this month, so in the partition the bench writes to) with one
`INSERT ... SELECT` from `generate_series` in SQL, then `ANALYZE` and `CHECKPOINT` (so that the
load's own write-back is not measured), then replay a fresh set.

Bytes per stored reading, all partitions, after the run (table only, and table plus its indexes):

| server | readings | table bytes per reading | table + indexes bytes per reading |
|---|---|---|---|
{size_table}
"""
print(section)
# The one "replace a marked section" of the benchmark scripts.
subprocess.run([sys.executable, "scripts/lib/doc_section.py", "docs/performance.md", "server-bench"],
               input=section, text=True, check=True)
