#!/usr/bin/env bash
# The whole test suite, on a fresh Debian machine as on a developer's: installs and starts what
# the tests need (a Docker engine with test images, python3 for a multi-threaded owner, Node 24
# and OpenClaw 2026.2.26 for a real gateway), then runs every test. Used as is by .ci/run. Needs root (apt-get, dockerd).
set -euo pipefail
cd "$(dirname "$0")/.."

need() { command -v "$1" >/dev/null 2>&1; }
need cargo || { echo "test.sh: cargo not found: install Rust with rustup first" >&2; exit 1; }
missing=()
need find || missing+=(findutils)
[ -x /usr/bin/python3.11 ] || missing+=(python3.11-minimal)
# python3's sqlite3 module: tests write real SQLite databases (OpenClaw 2026.8+ state dirs).
python3 -c 'import sqlite3' >/dev/null 2>&1 || missing+=(libpython3.11-stdlib)
# tests/tenants.rs: strace shows that no device or FIFO is ever opened; a tenant container
# runs the host's python3 with ctypes (renameat2) to swap its dirs for symlinks.
need strace || missing+=(strace)
[ -f /usr/lib/python3.11/ctypes/__init__.py ] || missing+=(libpython3.11-stdlib)
# Where the operator touches it (tests/terminal.rs, tests/package.rs): real shells with their
# completion, a real terminal, man, and lintian on the package.
for tool in tmux zsh fish lintian; do need "$tool" || missing+=("$tool"); done
need man || missing+=(man-db)
need groff || missing+=(groff-base)
[ -f /usr/share/bash-completion/bash_completion ] || missing+=(bash-completion)
# tests/scripts.rs: the scripts run inside containers (src/scripts/*.sh) pass shellcheck.
need shellcheck || missing+=(shellcheck)
# tests/alerts.rs: promtool checks and unit-tests the shipped alerting rules.
need promtool || missing+=(prometheus)
if [ "${#missing[@]}" -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
bash scripts/docker-env.sh all
bash scripts/openclaw-env.sh install

# Style and lints first: a submission that is not rustfmt- and clippy-clean does not land.
rustup component add rustfmt clippy >/dev/null 2>&1 || true
cargo fmt --all -- --check
cargo clippy --release --locked --all-targets -- -D warnings

log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
cargo test --release --locked --no-fail-fast --lib --bins --tests 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
passed=$(grep -Eo '^test result: .* ([0-9]+) passed' "$log" | grep -Eo '[0-9]+ passed' | awk '{s+=$1} END {print s+0}')
failed=$(grep -Eo '[0-9]+ failed;' "$log" | awk '{s+=$1} END {print s+0}')
echo
echo "all suites: ${passed} passed, ${failed} failed"
exit "$status"
