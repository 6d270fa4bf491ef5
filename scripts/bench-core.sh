#!/usr/bin/env bash
# Benchmarks smartmeter-core (criterion) and `openssl speed` in the same run,
# and writes both, with their ratios, into the "core-bench" section of
# docs/performance.md (scripts/lib/doc_section.py).
#
# Both sides count CPU time, not wall time: the benchmarks read the thread's
# CPU clock (benches/core.rs), `openssl speed` divides by user CPU time (its
# default; -elapsed would use wall time). So the ratios are per core even on
# a shared, busy machine. openssl runs before and after the benchmarks; the
# mean of the two runs is the reference.
#
# Usage: scripts/bench-core.sh [SECONDS_PER_BENCH] [--no-write]   (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-3}"
write=1
[ "${2:-}" = "--no-write" ] && write=0
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
cargo bench --locked -p smartmeter-core --bench core --no-run -q
cat /proc/loadavg >"$out/load-before"
openssl speed -seconds "$secs" rsa2048 rsa4096 >"$out/openssl-before" 2>/dev/null
cargo bench --locked -p smartmeter-core --bench core -- \
  --warm-up-time 1 --measurement-time "$secs" --noplot >"$out/criterion.txt"
openssl speed -seconds "$secs" rsa2048 rsa4096 >"$out/openssl-after" 2>/dev/null
cat /proc/loadavg >"$out/load-after"

python3 - "$out" "$target_dir" "$secs" >"$out/section.md" <<'PY'
import datetime, json, os, re, subprocess, sys

out, target, secs = sys.argv[1], sys.argv[2], sys.argv[3]

def ns(name):
    """Mean CPU nanoseconds per call of one criterion benchmark."""
    with open(f"{target}/criterion/{name}/new/estimates.json") as f:
        return json.load(f)["mean"]["point_estimate"]

def openssl(path):
    runs = {}
    for line in open(path):
        m = re.match(r"rsa\s+(\d+) bits\s+\S+\s+\S+\s+([\d.]+)\s+([\d.]+)", line)
        if m:
            runs[int(m[1])] = {"sign": float(m[2]), "verify": float(m[3])}
    return runs

before, after = openssl(f"{out}/openssl-before"), openssl(f"{out}/openssl-after")
ossl = {b: {op: (before[b][op] + after[b][op]) / 2 for op in ("sign", "verify")} for b in (2048, 4096)}
spread = max(abs(before[b][op] - after[b][op]) / ossl[b][op] for b in (2048, 4096) for op in ("sign", "verify"))

def ops(name):
    return 1e9 / ns(name)

rows = []
for bits in (2048, 4096):
    for op, bench, label in (
        ("sign", f"sign_rsa{bits}", "`MeterKey::sign` (ring)"),
        ("sign", f"sign_rsa_crate_rsa{bits}", "sign with the `rsa` crate (wasm32, fallback)"),
        ("verify", f"verify_rsa{bits}", "`PublicKey::verify` (ring)"),
        ("verify", f"verify_pure_rsa{bits}", "pure-Rust verifier (wasm32's)"),
        ("verify", f"verify_rsa_crate_rsa{bits}", "`rsa` crate verify (before)"),
    ):
        ours = ops(bench)
        rows.append(f"| {op} | RSA-{bits} | {label} | {ours:,.0f} | {ossl[bits][op]:,.0f} | {ours / ossl[bits][op]:.2f} |")

pure = {b: ns(f"verify_rsa_crate_rsa{b}") / ns(f"verify_pure_rsa{b}") for b in (2048, 4096)}
small = []
for name, label in (("encode_message", "encode canonical message"),
                    ("decode_message", "decode canonical message"),
                    ("parse_wire_json_rsa2048", "`SignedReading::from_json` (RSA-2048 reading; the carried key is not parsed)"),
                    ("parse_public_key_der_rsa2048", "`PublicKey::from_der` (RSA-2048: policy checks, canonical DER, backend key)"),
                    ("serialize_wire_json_rsa2048", "serialize wire JSON")):
    small.append(f"| {label} | {ns(name):,.0f} ns |")

cpu = "unknown CPU"
for line in open("/proc/cpuinfo"):
    if line.startswith("model name"):
        cpu = line.split(":", 1)[1].strip()
        break
version = subprocess.run(["openssl", "version"], capture_output=True, text=True).stdout.strip()
load = [open(f"{out}/load-{w}").read().split()[0] for w in ("before", "after")]
targets = [
    ("native verify RSA-2048 >= 0.8x OpenSSL", ops("verify_rsa2048") / ossl[2048]["verify"], 0.8),
    ("pure path >= 2x the `rsa` crate, RSA-2048", pure[2048], 2.0),
    ("pure path >= 2x the `rsa` crate, RSA-4096", pure[4096], 2.0),
    ("native sign RSA-2048 >= 0.4x OpenSSL", ops("sign_rsa2048") / ossl[2048]["sign"], 0.4),
    ("`from_json` <= 3 us", 3000 / ns("parse_wire_json_rsa2048"), 1.0),
]
checks = [f"| {t} | {v:.2f} | {'met' if v >= goal else '**not met**'} |" for t, v, goal in targets]
checks[-1] = f"| `from_json` <= 3 µs | {ns('parse_wire_json_rsa2048') / 1000:.2f} µs | {'met' if ns('parse_wire_json_rsa2048') <= 3000 else '**not met**'} |"
nl = "\n"
print(f"""## Core: sign and verify against OpenSSL

Measured by `scripts/bench-core.sh {secs}` on {datetime.date.today()} ({cpu}, {os.cpu_count()} cores,
shared; load average {load[0]} before, {load[1]} after). Both sides count **CPU time per operation**,
single-threaded, in the same run: ours is the criterion mean of the benchmark thread's CPU clock
(`smartmeter-core/benches/core.rs`, release build); the reference is `openssl speed` ({version}),
which divides by user CPU time, run before and after our benchmarks (mean of both; they differ by
{spread:.0%}). A busy machine still slows both sides (shared caches, the other hyperthread), so
compare ratios.

| operation | key | path | smartmeter-core ops/s | OpenSSL ops/s | ratio |
|---|---|---|---|---|---|
{nl.join(rows)}

| acceptance (issue 9) | figure | |
|---|---|---|
{nl.join(checks)}

| operation | CPU time per call |
|---|---|
{nl.join(small)}

On x86_64 and aarch64 `PublicKey::verify` and `MeterKey::sign` use ring; every other target (the
wasm32 package) verifies with the pure-Rust verifier and signs with the `rsa` crate
(`docs/security.md`, "Backends"). ring prepares the modulus on every verification (its API takes
the key's components per call), which is most of its gap to OpenSSL, whose key object caches it.""")
PY

cat "$out/section.md"
if [ $write = 1 ]; then
  python3 scripts/lib/doc_section.py docs/performance.md core-bench <"$out/section.md"
fi
