#!/usr/bin/env bash
# Benchmarks smartmeter-core (criterion) and `openssl speed` in the same run,
# and writes both, with their ratios, into the "core-bench" section of
# docs/performance.md (scripts/lib/doc_section.py).
#
# Both sides count CPU time, not wall time: the benchmarks read the thread's
# CPU clock (benches/core.rs), `openssl speed` divides by user CPU time (its
# default; -elapsed would use wall time). So the ratios are per core even on
# a shared, busy machine. openssl runs before and after the benchmarks; the
# mean of the two runs is the reference of that round.
#
# A shared machine still moves both sides (caches, the other hyperthread), so
# --rounds N repeats the whole measurement N times (openssl, benchmarks,
# openssl): the tables give the median of the rounds and, for the ratios, the
# lowest and highest round.
#
# Usage: scripts/bench-core.sh [SECONDS_PER_BENCH] [--no-write] [--rounds N]
#        (defaults: 3 seconds, 1 round)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=3
write=1
rounds=1
usage="usage: $0 [SECONDS_PER_BENCH] [--no-write] [--rounds N]"
while [ $# -gt 0 ]; do
  case "$1" in
    --no-write) write=0 ;;
    --rounds)
      [[ "${2:-}" =~ ^[1-9][0-9]*$ ]] || { echo "$0: --rounds takes a whole number of rounds" >&2; exit 2; }
      rounds="$2"
      shift
      ;;
    -h | --help) echo "$usage"; exit 0 ;;
    *)
      [[ "$1" =~ ^[1-9][0-9]*$ ]] || { echo "$0: unknown argument: $1" >&2; echo "$usage" >&2; exit 2; }
      secs="$1"
      ;;
  esac
  shift
done
out=$(mktemp -d "${TMPDIR:-/tmp}/smartmeter-bench-core.XXXXXX")
trap 'rm -rf "$out"' EXIT

# shellcheck source=lib/cargo.sh
. scripts/lib/cargo.sh
target_dir=$(cargo_target_dir)
cargo bench --locked -p smartmeter-core --bench core --no-run -q
cat /proc/loadavg >"$out/load-before"
for round in $(seq 1 "$rounds"); do
  openssl speed -seconds "$secs" rsa2048 rsa4096 ecdsap256 >"$out/openssl-before-$round" 2>/dev/null
  cargo bench --locked -p smartmeter-core --bench core -- \
    --warm-up-time 1 --measurement-time "$secs" --noplot >"$out/criterion-$round.txt"
  openssl speed -seconds "$secs" rsa2048 rsa4096 ecdsap256 >"$out/openssl-after-$round" 2>/dev/null
  # Keep this round's means: the next round overwrites criterion's files.
  mkdir -p "$out/estimates-$round"
  for estimate in "$target_dir"/criterion/*/new/estimates.json; do
    name=$(basename "$(dirname "$(dirname "$estimate")")")
    cp "$estimate" "$out/estimates-$round/$name.json"
  done
done
cat /proc/loadavg >"$out/load-after"

python3 - "$out" "$secs" "$rounds" >"$out/section.md" <<'PY'
import datetime, json, os, re, statistics, subprocess, sys

out, secs, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])

def estimates(round_):
    """Mean CPU nanoseconds per call of every criterion benchmark in a round."""
    folder = f"{out}/estimates-{round_}"
    return {name[:-5]: json.load(open(f"{folder}/{name}"))["mean"]["point_estimate"] for name in os.listdir(folder)}

def openssl(path):
    runs = {}
    for line in open(path):
        m = re.match(r"rsa\s+(\d+) bits\s+\S+\s+\S+\s+([\d.]+)\s+([\d.]+)", line)
        if m:
            runs[int(m[1])] = {"sign": float(m[2]), "verify": float(m[3])}
        m = re.match(r"\s*256 bits ecdsa \(nistp256\)\s+\S+\s+\S+\s+([\d.]+)\s+([\d.]+)", line)
        if m:
            runs["p256"] = {"sign": float(m[1]), "verify": float(m[2])}
    return runs

KEYS = (2048, 4096, "p256")
ours_by_round, ossl_by_round, spread = [], [], 0.0
for r in range(1, rounds + 1):
    ours_by_round.append(estimates(r))
    before, after = openssl(f"{out}/openssl-before-{r}"), openssl(f"{out}/openssl-after-{r}")
    ossl_by_round.append({b: {op: (before[b][op] + after[b][op]) / 2 for op in ("sign", "verify")} for b in KEYS})
    spread = max([spread] + [abs(before[b][op] - after[b][op]) / ossl_by_round[-1][b][op] for b in KEYS for op in ("sign", "verify")])
ossl = {b: {op: statistics.median(o[b][op] for o in ossl_by_round) for op in ("sign", "verify")} for b in KEYS}

def ns(name):
    """Median over the rounds of the mean CPU nanoseconds per call."""
    return statistics.median(e[name] for e in ours_by_round)

def ops(name):
    return 1e9 / ns(name)

def ratios(name, bits, op):
    """Our ops/s over OpenSSL's, one per round (the same round's reference)."""
    return [1e9 / e[name] / o[bits][op] for e, o in zip(ours_by_round, ossl_by_round)]

def ratio_text(values):
    text = f"{statistics.median(values):.2f}"
    return text if len(values) == 1 else f"{text} ({min(values):.2f} to {max(values):.2f})"

rows = []
for bits in (2048, 4096):
    for op, bench, label in (
        ("sign", f"sign_rsa{bits}", "`MeterKey::sign` (ring)"),
        ("sign", f"sign_rsa_crate_rsa{bits}", "sign with the `rsa` crate (wasm32, fallback)"),
        ("verify", f"verify_rsa{bits}", "`PublicKey::verify` (pure-Rust verifier, every target)"),
        ("verify", f"verify_pure_rsa{bits}", "pure-Rust verifier alone, key prepared"),
        ("verify", f"verify_ring_rsa{bits}", "ring (the reference; the native verifier before)"),
        ("verify", f"verify_rsa_crate_rsa{bits}", "`rsa` crate verify (the first verifier)"),
    ):
        rows.append(f"| {op} | RSA-{bits} | {label} | {ops(bench):,.0f} | {ossl[bits][op]:,.0f} | {ratio_text(ratios(bench, bits, op))} |")
for op, bench, label in (
    ("sign", "sign_p256", "`MeterKey::sign` (`p256` crate, RFC 6979, low S)"),
    ("verify", "verify_p256", "`PublicKey::verify` (ring)"),
    ("verify", "verify_p256_crate_p256", "`p256` crate verify (wasm32's)"),
):
    rows.append(f"| {op} | P-256 | {label} | {ops(bench):,.0f} | {ossl['p256'][op]:,.0f} | {ratio_text(ratios(bench, 'p256', op))} |")

pure = {b: [e[f"verify_rsa_crate_rsa{b}"] / e[f"verify_pure_rsa{b}"] for e in ours_by_round] for b in (2048, 4096)}
small = []
for name, label in (("encode_message", "encode canonical message"),
                    ("decode_message", "decode canonical message"),
                    ("parse_wire_json_rsa2048", "`SignedReading::from_json` (RSA-2048 reading; the carried key is not parsed)"),
                    ("parse_public_key_der_rsa2048", "`PublicKey::from_der` (RSA-2048: policy checks, canonical DER, the verifier's Montgomery constants)"),
                    ("parse_wire_json_p256", "`SignedReading::from_json` (P-256 reading)"),
                    ("parse_public_key_der_p256", "`PublicKey::from_der` (P-256: the 26-byte prefix, the point on the curve)"),
                    ("serialize_wire_json_rsa2048", "serialize wire JSON")):
    small.append(f"| {label} | {ns(name):,.0f} ns |")

cpu = "unknown CPU"
for line in open("/proc/cpuinfo"):
    if line.startswith("model name"):
        cpu = line.split(":", 1)[1].strip()
        break
version = subprocess.run(["openssl", "version"], capture_output=True, text=True).stdout.strip()
command = f"scripts/bench-core.sh {secs}" + (f" --rounds {rounds}" if rounds > 1 else "")
rounds_text = (f"The whole measurement ran {rounds} times: figures are the median of the\nrounds, ratios the"
               " median with the lowest and highest round in brackets." if rounds > 1 else "One round.")
load = [open(f"{out}/load-{w}").read().split()[0] for w in ("before", "after")]
targets = [
    ("native verify RSA-2048 >= 0.8x OpenSSL", ratios("verify_rsa2048", 2048, "verify"), 0.8),
    ("pure path >= 2x the `rsa` crate, RSA-2048", pure[2048], 2.0),
    ("pure path >= 2x the `rsa` crate, RSA-4096", pure[4096], 2.0),
    ("native sign RSA-2048 >= 0.4x OpenSSL", ratios("sign_rsa2048", 2048, "sign"), 0.4),
]
# Met only if every round met it.
checks = [f"| {t} | {ratio_text(v)} | {'met' if min(v) >= goal else '**not met**'} |" for t, v, goal in targets]
checks.append(f"| `from_json` <= 3 µs | {ns('parse_wire_json_rsa2048') / 1000:.2f} µs | {'met' if ns('parse_wire_json_rsa2048') <= 3000 else '**not met**'} |")
nl = "\n"
print(f"""## Core: sign and verify against OpenSSL

Measured by `{command}` on {datetime.date.today()} ({cpu}, {os.cpu_count()} cores,
shared; load average {load[0]} before, {load[1]} after). Both sides count **CPU time per operation**,
single-threaded, in the same run: ours is the criterion mean of the benchmark thread's CPU clock
(`smartmeter-core/benches/core.rs`, release build); the reference is `openssl speed` ({version}),
which divides by user CPU time, run before and after our benchmarks (mean of both; they differ by up
to {spread:.0%}). A busy machine still slows both sides (shared caches, the other hyperthread), so
compare ratios. {rounds_text}

| operation | key | path | smartmeter-core ops/s | OpenSSL ops/s | ratio |
|---|---|---|---|---|---|
{nl.join(rows)}

| acceptance (issue 9) | figure | |
|---|---|---|
{nl.join(checks)}

| operation | CPU time per call |
|---|---|
{nl.join(small)}

`PublicKey::verify` uses the pure-Rust verifier on every target: natively it is faster than ring,
which prepares the modulus on every verification (its API takes the key's components per call),
while the pure verifier prepares it once per key, as OpenSSL's key object does, and squares with
each cross product computed once. ring stays as the reference the tests and the `differential`
fuzz target hold it to (`docs/security.md`, "Backends"). The price is paid once per key:
`PublicKey::from_der` computes the Montgomery constants (R² mod n). `MeterKey::sign` uses ring on
x86_64 and aarch64; the wasm32 package signs with the `rsa` crate.
P-256 (algorithm 2) verifies with ring natively and with the `p256` crate on wasm32; it signs with
the `p256` crate everywhere, because ring's ECDSA signing uses random nonces and the vectors are
byte-exact (RFC 6979). OpenSSL and ring compute P-256 with hand-written assembly (`ecp_nistz256`);
the `p256` crate is portable Rust, constant time when it signs, with a base-point table natively, and
derives each nonce with a few HMAC-SHA-256 computations (RFC 6979). `PublicKey::verify` on P-256
includes the core's checks (key id, algorithm, the 64-byte low-S form) around ring's verification.
The wasm32 figures for P-256 (in Chromium, next to WebCrypto) are the browser benchmark's.""")
PY

cat "$out/section.md"
if [ $write = 1 ]; then
  python3 scripts/lib/doc_section.py docs/performance.md core-bench <"$out/section.md"
fi
