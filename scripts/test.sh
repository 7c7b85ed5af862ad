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
#   TEST-BINARY…    only these (`lib`, `bins`, or the name of a tests/*.rs file, a module of
#                   the one integration binary, tests/suite.rs)
# Which file is in which tier: the lists below, and docs/testing.md.
#
# The integration tests are one binary (tests/suite.rs); each of its modules (tests/<name>.rs)
# runs as a process of its own, in a session of its own; whatever it leaves running (a bug:
# every test kills what it starts, see tests/common) is named and killed, its test containers
# (label org.zaki.test.run=$ZAKI_TEST_RUN-<name>) too, and the run fails. The installs run
# while the tests build, and three lanes run at once: local tests (and clippy), Docker tests,
# gateway tests (one gateway at a time). It always ends with the line
# `all suites: N passed, M failed` and the time the whole run took.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
fmt_secs() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }
work=$(mktemp -d /tmp/zaki-test.XXXXXX)
report=$work/report   # a line per module: name passed failed seconds exit-code leftovers
: >"$report"
summarized=0
# However the run ends (a failed install, lint or build too), its last line is the summary.
# shellcheck disable=SC2317  # invoked by the trap
on_exit() {
  local rc=$?
  if ((!summarized)); then
    echo
    # Lanes still running are stopped with their tests (each test kills what it started).
    jobs -p | xargs -r kill 2>/dev/null || true
    echo "all suites: $(awk '{s+=$2} END {print s+0}' "$report") passed, $(awk '{s+=$3} END {print s+0}' "$report") failed; stopped early (exit $rc) after $(fmt_secs $(($(date +%s) - started)))"
  fi
  # An engine this run started (none ran before it) is stopped: the run leaves nothing behind.
  if ((${engine_started_here:-0})); then bash scripts/docker-env.sh stop >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap on_exit EXIT

# The tiers, by test module (tests/<name>.rs, a module of tests/suite.rs). Every tests/*.rs
# but suite.rs is in exactly one, and declared in suite.rs.
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
# Each tests/*.rs in exactly one tier and a module of the binary, and each listed one exists:
# a new test file must be placed (here, in tests/suite.rs and in docs/testing.md), or it would
# silently not run.
for f in tests/*.rs; do
  n=$(basename "$f" .rs); c=0
  [[ $n == suite ]] && continue
  for l in FAST HEAVY DOCKER GATEWAY; do declare -n list=$l; in_list "$n" "${list[@]}" && c=$((c + 1)); done
  ((c == 1)) || { echo "test.sh: $f is in $c tiers; put it in exactly one (scripts/test.sh, docs/testing.md)" >&2; exit 2; }
  grep -qx "mod $n;" tests/suite.rs || { echo "test.sh: $f is not a module of tests/suite.rs: add \`mod $n;\` there" >&2; exit 2; }
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
# The three lanes: what runs on this machine alone, what needs Docker, what runs gateways (one
# gateway at a time: two at once on 2 cores made a start outlast its 180 s).
local_lane=(); docker_lane=(); gateway_lane=()
for n in "${binaries[@]}"; do
  if in_list "$n" "${GATEWAY[@]}"; then gateway_lane+=("$n")
  elif in_list "$n" "${DOCKER[@]}"; then docker_lane+=("$n")
  else local_lane+=("$n"); fi
done
needs_docker=0; needs_gateway=0
((${#docker_lane[@]} + ${#gateway_lane[@]})) && needs_docker=1
((${#gateway_lane[@]})) && needs_gateway=1

need() { command -v "$1" >/dev/null 2>&1; }
need cargo || { echo "test.sh: cargo not found: install Rust with rustup first" >&2; exit 1; }

# The installs, in the background while the tests build: Debian's packages first (one apt at
# a time), then the engine and the gateways' install side by side. Their output is shown
# when a lane needs them.
installs() {
  local missing=()
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
    apt-get update -qq || return 1
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null || return 1
  fi
  : >"$work/packages.done"
  local pids=() p rc=0
  if ((needs_docker)); then bash scripts/docker-env.sh all & pids+=($!); fi
  if ((needs_gateway)); then bash scripts/openclaw-env.sh install & pids+=($!); fi
  for p in "${pids[@]}"; do wait "$p" || rc=1; done
  return "$rc"
}
# No dockerd before the installs (a zombie, state Z, is none): the one they start is this
# run's, stopped at its end. One that ran before (a developer's) is left as it was.
engine_started_here=0
if ((needs_docker)) && ! grep -qsE '^[0-9]+ \(dockerd\) [^Z]' /proc/[0-9]*/stat; then
  engine_started_here=1
fi
{ rc=0; installs || rc=$?; echo "$rc" >"$work/installs.rc"; } >"$work/installs.log" 2>&1 &
# Waits for the installs (`all` of them, or Debian's `packages` only), shows their output
# once, and stops the lane (or the run) when they failed.
wait_installs() {
  while [[ ! -e $work/installs.rc && ! ( $1 == packages && -e $work/packages.done ) ]]; do sleep 0.5; done
  [[ -e $work/installs.rc ]] || return 0
  mkdir "$work/installs.shown" 2>/dev/null && show "$work/installs.log" >&2
  local rc; rc=$(<"$work/installs.rc")
  ((rc == 0)) || { echo "test.sh: the installs failed (exit $rc); their output is above" >&2; exit 1; }
}
# Prints a file whole, one lane at a time.
show() { flock "$work/out.lock" cat "$@"; }

# Style first: a submission that is not rustfmt-clean does not land (clippy runs in a lane).
rustup component add rustfmt clippy >/dev/null 2>&1 || true
cargo fmt --all -- --check

# The CI value: every proptest case (fewer by default, for everyday runs).
[[ $tier == all ]] && export PROPTEST_CASES=${PROPTEST_CASES:-3000}
run_id=${ZAKI_TEST_RUN:-$(date +%Y%m%d%H%M%S)-$$}

# Build, and find the executables: the unit tests' (lib, bins) and the suite's.
select=()
for n in "${binaries[@]}"; do
  case $n in lib) select+=(--lib) ;; bins) select+=(--bins) ;; *) select+=(--test suite) ;; esac
done
build_started=$(date +%s)
cargo test --release --locked --no-run "${select[@]}" 2>&1 | tee "$work/build.log"
exes=$(sed -n 's/^ *Executable \(unittests src\/lib\.rs\|tests\/suite\.rs\|unittests src\/main\.rs\) (\(.*\))$/\1 \2/p' "$work/build.log" |
  sed 's/^unittests src\/lib\.rs/lib/; s/^unittests src\/main\.rs/bins/; s/^tests\/suite\.rs/suite/')
build_secs=$(($(date +%s) - build_started))
suite=$(awk '$1 == "suite" {print $2}' <<<"$exes")

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

# Runs one test module (or lib, bins) in a session of its own, then shows its output, kills
# what it left behind and appends its line to the report.
run_one() {
  local n=$1 exe args=() log=$work/$1.log
  case $n in
    lib|bins) exe=$(awk -v n="$n" '$1 == n {print $2}' <<<"$exes") ;;
    *) exe=$suite
       mapfile -t args < <([[ -n $suite ]] && "$suite" --list --format terse 2>/dev/null | sed -n "s/^\($n::.*\): test\$/\1/p")
       if ((${#args[@]} == 0)); then
         echo "test.sh: the suite has no tests in module '$n'" >"$log"; exe= ; fi
       args=(--exact "${args[@]}") ;;
  esac
  if [[ -z $exe ]]; then
    [[ $n == bins && ! -s $log ]] && return 0   # no bin with unit tests
    [[ -s $log ]] || echo "test.sh: no executable for test binary '$n'" >"$log"
    show "$log" >&2
    printf '%s 0 1 0 1 0\n' "$n" >>"$report"
    return 0
  fi
  show <<<"     Started $n" >&2
  local t0 pid sid rc=0 secs left=() cs=()
  t0=$(date +%s)
  # A session of its own, so that whatever it leaves behind can be found; the output goes to
  # a file, which an orphan may keep open without holding up anything.
  ZAKI_TEST_RUN=$run_id-$n setsid -w "$exe" "${args[@]}" </dev/null >"$log" 2>&1 &
  pid=$!
  # setsid execs the binary in place (a background job of this script leads no process group,
  # so it does not fork): its pid is its session's id, once it has called setsid.
  for _ in {1..100}; do
    sid=$(awk '{sub(/.*\) /, ""); print $4}' "/proc/$pid/stat" 2>/dev/null) || break
    [[ $sid == "$pid" ]] && break
    sleep 0.01
  done
  [[ $sid == "$pid" || ! -e /proc/$pid ]] || echo "test.sh: $n is not in a session of its own: what it leaves behind is not looked for" >>"$log"
  wait "$pid" || rc=$?
  secs=$(($(date +%s) - t0))
  # Left behind: processes of its session, and containers of its run.
  mapfile -t left < <(session_pids "$pid")
  if ((${#left[@]})); then
    echo "test.sh: $n left ${#left[@]} process(es) behind; killing them:" >>"$log"
    for p in "${left[@]}"; do
      echo "  $p $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)" >>"$log"
      kill -KILL "$p" 2>/dev/null || true
    done
  fi
  if ((needs_docker)) && docker info >/dev/null 2>&1; then
    mapfile -t cs < <(docker ps -aq --filter "label=org.zaki.test.run=$run_id-$n")
    if ((${#cs[@]})); then
      echo "test.sh: $n left ${#cs[@]} container(s) behind; removing them:" >>"$log"
      docker ps -a --filter "label=org.zaki.test.run=$run_id-$n" --format '  {{.Names}} {{.Status}}' >>"$log"
      docker rm -f "${cs[@]}" >/dev/null 2>&1 || true
    fi
  fi
  { echo; echo "     Ran $n in ${secs}s ($exe${args:+ ${args[0]} $n::…})"; cat "$log"; } >"$log.shown"
  show "$log.shown"
  # Its counts ("test result: ok. 7 passed; 0 failed; …"); one failure more if it died
  # before printing them.
  read -r p f < <(awk '/^test result: / { r = 1; for (i = 2; i < NF; i++) {
      if ($(i + 1) ~ /^passed/) p += $i; if ($(i + 1) ~ /^failed/) f += $i } }
    END { print p + 0, f + (r ? 0 : 1) }' "$log")
  printf '%s %s %s %s %s %s\n' "$n" "$p" "$f" "$secs" "$rc" $((${#left[@]} + ${#cs[@]})) >>"$report"
}

# A lane: its modules one after another. Clippy runs first in the local lane (on the build's
# target dir, before tests/package.rs uses cargo there).
lane() {
  local name=$1 t0 n; shift
  t0=$(date +%s)
  case $name in
    local)
      wait_installs packages
      if [[ $tier != fast ]]; then
        show <<<"     Started clippy" >&2
        if cargo clippy --release --locked --all-targets -- -D warnings >"$work/clippy.log" 2>&1; then
          printf 'clippy 0 0 %s 0 0\n' $(($(date +%s) - t0)) >>"$report"
        else
          show "$work/clippy.log" >&2
          printf 'clippy 0 1 %s 1 0\n' $(($(date +%s) - t0)) >>"$report"
        fi
      fi ;;
    *) wait_installs all ;;
  esac
  for n in "$@"; do run_one "$n"; done
  echo "$name $(($(date +%s) - t0))" >>"$work/lanes"
}

tests_started=$(date +%s)
lanes=()
if ((${#local_lane[@]})) || [[ $tier != fast ]]; then lane local "${local_lane[@]}" & lanes+=($!); fi
((${#docker_lane[@]})) && { lane docker "${docker_lane[@]}" & lanes+=($!); }
((${#gateway_lane[@]})) && { lane gateway "${gateway_lane[@]}" & lanes+=($!); }
for l in "${lanes[@]}"; do wait "$l" || true; done
# A lane that stopped early (failed installs) leaves its modules out of the report.
for n in "${binaries[@]}"; do
  grep -q "^$n " "$report" || printf '%s 0 1 0 1 0\n' "$n" >>"$report"
done
tests_secs=$(($(date +%s) - tests_started))
while [[ ! -e $work/installs.rc ]]; do sleep 0.5; done

echo
echo "Time per test module (slowest first; the lanes run at once):"
sort -k4,4nr "$report" | awk '{printf "  %-18s %4ss  %4d passed  %d failed\n", $1, $4, $2, $3}'
[[ -s $work/lanes ]] && echo "Lanes: $(sort "$work/lanes" | awk '{printf "%s%s %ds", (NR > 1 ? ", " : ""), $1, $2}')"
passed=$(awk '{s+=$2} END {print s+0}' "$report")
failed=$(awk '{s+=$3} END {print s+0}' "$report")
failed_binaries=$(awk '$5 != 0 || $3 != 0 {printf "%s%s (exit %s)", (n++ ? " " : ""), $1, $5}' "$report")
leftovers=$(awk '{s+=$6} END {print s+0}' "$report")
status=0
[[ -n $failed_binaries ]] && { echo "failed: $failed_binaries"; status=1; }
if ((leftovers)); then
  echo "left behind: $leftovers process(es) or container(s), killed (see above): a test does not clean up"
  status=1
fi
total=$(($(date +%s) - started))
summarized=1
echo
echo "all suites: ${passed} passed, ${failed} failed (tier $tier) in $(fmt_secs "$total"): build $(fmt_secs "$build_secs"), tests $(fmt_secs "$tests_secs"), the rest $(fmt_secs $((total - build_secs - tests_secs))) (installs run during the build, clippy in a lane)"
exit "$status"
