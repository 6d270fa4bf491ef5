# shellcheck shell=bash
# Named steps with timings and a summary, for the test scripts. Source this
# file, optionally set STEP_PREFIX (e.g. "[wasm] "), then:
#   step "what it checks" command args...   runs it; on failure prints the summary and exits 1
#   summary                                  prints every step with its time and result

declare -a STEP_RESULTS=()
STEP_PREFIX=${STEP_PREFIX:-}

step() {
  local name=$1 start=$SECONDS rc
  shift
  echo
  echo "==> $STEP_PREFIX$name"
  # A subshell outside any `if`, so that `set -e` holds inside the step.
  set +e
  (set -e; "$@")
  rc=$?
  set -e
  if [ $rc = 0 ]; then
    STEP_RESULTS+=("ok    $(printf '%4ss' $((SECONDS - start)))  $name")
  else
    STEP_RESULTS+=("FAIL  $(printf '%4ss' $((SECONDS - start)))  $name")
    summary
    exit 1
  fi
}

summary() {
  echo
  echo "==> ${STEP_PREFIX}summary"
  printf '  %s\n' "${STEP_RESULTS[@]}"
}

# Test runners' own summary lines are collected in $STEP_LOG (when set) so
# that the caller can add them up: run a step's command as `logged cmd...`.
logged() {
  if [ -z "${STEP_LOG:-}" ]; then
    "$@"
    return
  fi
  local rc
  set +e
  "$@" 2>&1 | tee -a "$STEP_LOG"
  rc=${PIPESTATUS[0]}
  set -e
  return "$rc"
}

# Adds up the passed and failed counts that cargo test (and
# wasm-bindgen-test), pytest and node --test printed into $STEP_LOG.
test_totals() {
  python3 - "$STEP_LOG" <<'PY'
import re, sys
passed = failed = skipped = 0
for line in open(sys.argv[1], errors="replace"):
    line = line.strip()
    m = re.match(r"test result: \w+\. (\d+) passed; (\d+) failed; (\d+) ignored", line)
    if m:
        passed += int(m[1]); failed += int(m[2]); skipped += int(m[3]); continue
    if line.startswith("=") and re.search(r"\d+ (passed|failed)", line) and " in " in line:
        for n, what in re.findall(r"(\d+) (passed|failed|skipped|error)", line):
            if what == "passed": passed += int(n)
            elif what == "skipped": skipped += int(n)
            else: failed += int(n)
        continue
    m = re.match(r"# (pass|fail|skipped) (\d+)$", line)
    if m:
        if m[1] == "pass": passed += int(m[2])
        elif m[1] == "fail": failed += int(m[2])
        else: skipped += int(m[2])
print(f"tests: {passed} passed, {failed} failed, {skipped} skipped")
PY
}
