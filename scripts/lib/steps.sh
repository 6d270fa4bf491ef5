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
