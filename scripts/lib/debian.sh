# shellcheck shell=bash
# Debian packages for the scripts: the one list and the one way to install.
# Source this file, then:
#   apt_install PKG...       installs those of PKG that dpkg does not list,
#                            with apt-get, as root; fails, naming them, when
#                            not root or without apt-get
#   need_command CMD PKG     CMD on the PATH, else apt_install PKG
#   need_python_venv PYTHON  `PYTHON -m venv` works, else apt_install python3-venv
#
# TEST_DEBIAN_PACKAGES is what scripts/test.sh installs before its first step
# (README.md, "Quick start", says so): one package a line, with who needs it.
# A script that also runs on its own installs its own few with apt_install;
# the benchmarks and the demo install theirs (wrk, postgresql-client), and
# lib/postgres.sh installs postgresql only when it has to start a cluster.
# shellcheck disable=SC2034 # read by scripts/test.sh, which sources this file
TEST_DEBIAN_PACKAGES=(
  openssl           # the spec's OpenSSL recipes (interop tests); throwaway clusters' TLS certificates
  xxd               # the spec's OpenSSL recipes
  postgresql-client # psql: test scripts create and drop their databases
  python3-venv      # test-python.sh, test-schemathesis.sh: virtual environments
  chromium          # test-wasm.sh: wasm-bindgen-test in a browser, the dashboard's end-to-end test
  chromium-driver   # test-wasm.sh: wasm-bindgen-test drives Chromium through it
  nats-server       # the server's cluster test (reference-server/tests/cluster.rs): a 3-node JetStream cluster
)

apt_install() {
  local missing=() pkg
  for pkg in "$@"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "error: missing Debian packages: ${missing[*]} (run as root on Debian, or install them)" >&2
    return 1
  fi
  echo "==> installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

need_command() {
  command -v "$1" >/dev/null || apt_install "$2"
}

need_python_venv() {
  # Debian's python3 needs python3-venv for `python3 -m venv`; other
  # Pythons have it built in, so the probe decides, not dpkg.
  local probe
  probe=$(mktemp -d "${TMPDIR:-/tmp}/smartmeter-venv-probe.XXXXXX")
  if "$1" -m venv "$probe/venv" >/dev/null 2>&1; then
    rm -rf "$probe"
    return 0
  fi
  rm -rf "$probe"
  apt_install python3-venv
}
