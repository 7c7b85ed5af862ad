#!/usr/bin/env bash
# The whole test suite, on a fresh Debian machine as on a developer's: installs what the tests
# need, then runs every test. Used as is by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

need() { command -v "$1" >/dev/null 2>&1; }
if ! need find || ! need sleep; then
  apt-get update -qq && apt-get install -y -qq findutils coreutils >/dev/null
fi
need cargo || { echo "test.sh: cargo not found: install Rust with rustup first" >&2; exit 1; }

log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
cargo test --release --locked --lib --bins --tests 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
passed=$(grep -Eo '^test result: .* ([0-9]+) passed' "$log" | grep -Eo '[0-9]+ passed' | awk '{s+=$1} END {print s+0}')
failed=$(grep -Eo '[0-9]+ failed;' "$log" | awk '{s+=$1} END {print s+0}')
echo
echo "all suites: ${passed} passed, ${failed} failed"
exit "$status"
