#!/usr/bin/env bash
# The test suite, on a fresh Debian machine as on a developer's: installs and starts what the
# tests need (a Docker engine with test images, python3 for a multi-threaded owner, Node 24 and
# OpenClaw for real gateways), checks style and lints, builds, then runs the tests. Used as is
# by .ci/run. Needs root (apt-get, dockerd, mounts).
#
# Usage: scripts/test.sh [--tier fast|heavy|docker|gateway|all] [TEST-BINARY…]
#   --tier fast     unit tests and real-file tests: no Docker, no gateway, no lints but rustfmt
#                   (under a minute on a warm build); the proptests run fewer cases
#   --tier heavy    real-file tests too slow for every run: the 2,000-user tree, the .deb
#   --tier docker   the tests that need a Docker engine (no gateway)
#   --tier gateway  the tests that run real OpenClaw gateways (in Docker)
#   --tier all      everything, lints included, every proptest case: what CI runs (default)
#   TEST-BINARY…    only these (`lib`, `bins`, or the name of a tests/*.rs file)
# Which file is in which tier: the lists below, and docs/testing.md.
#
# Every test binary runs in a session of its own; whatever it leaves running (a bug: every
# test kills what it starts, see tests/common) is named and killed, its test containers (label
# org.zaki.test.run=$ZAKI_TEST_RUN) too, and the run fails. It always ends with the line
# `all suites: N passed, M failed` and the time the whole run took.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
fmt_secs() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }
log=$(mktemp /tmp/zaki-test-log.XXXXXX)
report=$(mktemp /tmp/zaki-test-report.XXXXXX)
summarized=0
# However the run ends (a failed install, lint or build too), its last line is the summary.
# shellcheck disable=SC2317  # invoked by the trap
on_exit() {
  local rc=$?
  if ((!summarized)); then
    echo
    echo "all suites: $(awk '{s+=$2} END {print s+0}' "$report") passed, $(awk '{s+=$3} END {print s+0}' "$report") failed; stopped early (exit $rc) after $(fmt_secs $(($(date +%s) - started)))"
  fi
  rm -f "$log" "$report"
}
trap on_exit EXIT

# The tiers, by test binary (tests/<name>.rs). Every tests/*.rs is in exactly one.
FAST=(alerts docs evidence faults first_hour generated host hostile layout metrics remove terminal)
HEAVY=(big_tree package)
DOCKER=(churn confine container_scope containers first_contact holders many_containers scripts sqlite_readonly tenants
        watch_daemon)
GATEWAY=(holders_gateway openclaw_eras probe watch)

tier=all
only=()
while (($#)); do
  case $1 in
    --tier) tier=${2:-}; shift 2 || { echo "test.sh: --tier needs a value" >&2; exit 2; } ;;
    --tier=*) tier=${1#--tier=}; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) echo "test.sh: unknown option $1" >&2; exit 2 ;;
    *) only+=("$1"); shift ;;
  esac
done

in_list() { local x=$1; shift; local y; for y in "$@"; do [[ $x == "$y" ]] && return 0; done; return 1; }
# Each tests/*.rs in exactly one tier, and each listed one exists: a new test file must be
# placed (here and in docs/testing.md), or --tier would silently leave it out.
for f in tests/*.rs; do
  n=$(basename "$f" .rs); c=0
  for l in FAST HEAVY DOCKER GATEWAY; do declare -n list=$l; in_list "$n" "${list[@]}" && c=$((c + 1)); done
  ((c == 1)) || { echo "test.sh: $f is in $c tiers; put it in exactly one (scripts/test.sh, docs/testing.md)" >&2; exit 2; }
done
for n in "${FAST[@]}" "${HEAVY[@]}" "${DOCKER[@]}" "${GATEWAY[@]}"; do
  [[ -f tests/$n.rs ]] || { echo "test.sh: tests/$n.rs is listed but does not exist" >&2; exit 2; }
done

case $tier in
  fast)    binaries=(lib bins "${FAST[@]}") ;;
  heavy)   binaries=("${HEAVY[@]}") ;;
  docker)  binaries=("${DOCKER[@]}") ;;
  gateway) binaries=("${GATEWAY[@]}") ;;
  all)     binaries=(lib bins "${FAST[@]}" "${HEAVY[@]}" "${DOCKER[@]}" "${GATEWAY[@]}") ;;
  *) echo "test.sh: --tier fast|heavy|docker|gateway|all, not '$tier'" >&2; exit 2 ;;
esac
if ((${#only[@]})); then
  for n in "${only[@]}"; do
    in_list "$n" "${binaries[@]}" || { echo "test.sh: '$n' is not a test binary of tier $tier" >&2; exit 2; }
  done
  binaries=("${only[@]}")
fi
needs_docker=0; needs_gateway=0
for n in "${binaries[@]}"; do
  in_list "$n" "${DOCKER[@]}" && needs_docker=1
  in_list "$n" "${GATEWAY[@]}" && { needs_docker=1; needs_gateway=1; }
done

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
((needs_docker)) && bash scripts/docker-env.sh all
((needs_gateway)) && bash scripts/openclaw-env.sh install

# Style and lints first: a submission that is not rustfmt- and clippy-clean does not land.
rustup component add rustfmt clippy >/dev/null 2>&1 || true
cargo fmt --all -- --check
[[ $tier == fast ]] || cargo clippy --release --locked --all-targets -- -D warnings

# The CI value: every proptest case (fewer by default, for everyday runs).
[[ $tier == all ]] && export PROPTEST_CASES=${PROPTEST_CASES:-3000}
export ZAKI_TEST_RUN=${ZAKI_TEST_RUN:-$(date +%Y%m%d%H%M%S)-$$}

# Build, and find each test binary's executable.
select=()
for n in "${binaries[@]}"; do
  case $n in lib) select+=(--lib) ;; bins) select+=(--bins) ;; *) select+=(--test "$n") ;; esac
done
build_started=$(date +%s)
exes=$(cargo test --release --locked --no-run --message-format=json-render-diagnostics "${select[@]}" |
  python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("profile", {}).get("test") and m.get("executable"):
        kind = m["target"]["kind"][0]
        name = {"lib": "lib", "bin": "bins"}.get(kind, m["target"]["name"])
        print(name, m["executable"])
')
build_secs=$(($(date +%s) - build_started))

# The pids of session $1, but $2.
session_pids() {
  local p line rest fields
  for p in /proc/[0-9]*; do
    line=$(cat "$p/stat" 2>/dev/null) || continue
    rest=${line##*) }
    read -ra fields <<<"$rest"
    [[ ${fields[3]:-} == "$1" && ${p#/proc/} != "${2:-}" ]] && echo "${p#/proc/}"
  done
  return 0
}

status=0
leftovers=0
failed_binaries=()
for n in "${binaries[@]}"; do
  exe=$(awk -v n="$n" '$1 == n {print $2}' <<<"$exes")
  if [[ -z $exe ]]; then
    [[ $n == bins ]] && continue   # no bin with unit tests
    echo "test.sh: no executable for test binary '$n'" >&2; status=1; failed_binaries+=("$n"); continue
  fi
  echo
  echo "     Running $n ($exe)"
  : >"$log"
  t0=$(date +%s)
  # A session of its own, so that whatever it leaves behind can be found; the output goes to
  # a file, which an orphan may keep open without holding up anything.
  setsid -w "$exe" </dev/null >"$log" 2>&1 &
  pid=$!
  # setsid execs the binary in place (a background job of this script leads no process group,
  # so it does not fork): its pid is its session's id, once it has called setsid.
  for _ in {1..100}; do
    sid=$(awk '{sub(/.*\) /, ""); print $4}' "/proc/$pid/stat" 2>/dev/null) || break
    [[ $sid == "$pid" ]] && break
    sleep 0.01
  done
  [[ $sid == "$pid" || ! -e /proc/$pid ]] || echo "test.sh: $n is not in a session of its own: what it leaves behind is not looked for" >&2
  tail -s 0.2 -n +1 -f --pid="$pid" "$log" &
  tail_pid=$!
  rc=0
  wait "$pid" || rc=$?
  wait "$tail_pid" || true
  secs=$(($(date +%s) - t0))
  # Left behind: processes of its session, and containers of this run.
  mapfile -t left < <(session_pids "$pid")
  if ((${#left[@]})); then
    echo "test.sh: $n left ${#left[@]} process(es) behind; killing them:" >&2
    for p in "${left[@]}"; do
      echo "  $p $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)" >&2
      kill -KILL "$p" 2>/dev/null || true
    done
    leftovers=$((leftovers + ${#left[@]}))
  fi
  if ((needs_docker)) && docker info >/dev/null 2>&1; then
    mapfile -t cs < <(docker ps -aq --filter "label=org.zaki.test.run=$ZAKI_TEST_RUN")
    if ((${#cs[@]})); then
      echo "test.sh: $n left ${#cs[@]} container(s) behind; removing them:" >&2
      docker ps -a --filter "label=org.zaki.test.run=$ZAKI_TEST_RUN" --format '  {{.Names}} {{.Status}}' >&2
      docker rm -f "${cs[@]}" >/dev/null 2>&1 || true
      leftovers=$((leftovers + ${#cs[@]}))
    fi
  fi
  # Its counts ("test result: ok. 7 passed; 0 failed; …"); one failure more if it died
  # before printing them.
  read -r p f < <(awk '/^test result: / { r = 1; for (i = 2; i < NF; i++) {
      if ($(i + 1) ~ /^passed/) p += $i; if ($(i + 1) ~ /^failed/) f += $i } }
    END { print p + 0, f + (r ? 0 : 1) }' "$log")
  printf '%s %s %s %s\n' "$n" "$p" "$f" "$secs" >>"$report"
  if ((rc != 0)); then
    status=1
    failed_binaries+=("$n (exit $rc)")
  fi
done

echo
echo "Time per test binary (slowest first):"
sort -k4,4nr "$report" | awk '{printf "  %-18s %4ss  %4d passed  %d failed\n", $1, $4, $2, $3}'
passed=$(awk '{s+=$2} END {print s+0}' "$report")
failed=$(awk '{s+=$3} END {print s+0}' "$report")
tests_secs=$(awk '{s+=$4} END {print s+0}' "$report")
((${#failed_binaries[@]})) && echo "failed: ${failed_binaries[*]}"
if ((leftovers)); then
  echo "left behind: $leftovers process(es) or container(s), killed (see above): a test does not clean up"
  status=1
fi
total=$(($(date +%s) - started))
summarized=1
echo
echo "all suites: ${passed} passed, ${failed} failed (tier $tier) in $(fmt_secs "$total"): build $(fmt_secs "$build_secs"), tests $(fmt_secs "$tests_secs"), installs and lints $(fmt_secs $((total - build_secs - tests_secs)))"
exit "$status"
