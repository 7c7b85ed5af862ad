#!/usr/bin/env bash
# docker-env.sh — a real Docker engine and the test images for zaki-locks' tests.
#
# Usage: scripts/docker-env.sh <command> [--force]
#   install          apt-get install docker.io busybox-static (apt-get update only when needed)
#   start            start dockerd (no iptables, no bridge) in the background; no-op if one answers
#   stop             stop the dockerd started by `start` (SIGTERM, wait); no-op if none
#   images [--force] build zaki-test/busybox:1 and zaki-test/nosh:1 by `docker import`
#                    (only the missing ones, or all of them with --force)
#   all [--force]    install + start + images
#   status           does the daemon answer, its versions, which test images exist
#
# Environment (all optional):
#   DOCKER               docker client to use (default: `docker` from PATH)
#   DOCKER_IO_VERSION    pin docker.io to this Debian version (default: the candidate)
#   BUSYBOX_VERSION      pin busybox-static to this Debian version (default: the candidate)
#   ZAKI_DOCKER_STATE    directory for the log and pid file (default: /tmp/zaki-docker-env)
#   ZAKI_DOCKER_TIMEOUT  seconds to wait for dockerd to answer / to exit (default: 60)
#
# No image registry is needed or used: the images are assembled from the host's
# /bin/busybox (busybox-static) and imported.  Containers get no bridge network:
# run them with `--network none` (or `--network host`).
set -euo pipefail

DOCKER=${DOCKER:-docker}
STATE_DIR=${ZAKI_DOCKER_STATE:-/tmp/zaki-docker-env}
LOG_FILE="$STATE_DIR/dockerd.log"
OUR_PIDFILE="$STATE_DIR/dockerd.pid"       # the pid of the dockerd *we* started
DOCKER_PIDFILE=/var/run/docker.pid         # written by dockerd itself
MANAGED_CONTAINERD_PIDFILE=/var/run/docker/containerd/containerd.pid
SYSTEM_CONTAINERD_SOCK=/run/containerd/containerd.sock
TIMEOUT=${ZAKI_DOCKER_TIMEOUT:-60}
DOCKERD_ARGS=(--iptables=false --ip6tables=false --bridge=none)

BUSYBOX_IMAGE=zaki-test/busybox:1
NOSH_IMAGE=zaki-test/nosh:1
BUSYBOX_BIN=/bin/busybox
# Applets linked into zaki-test/busybox:1 (each only if this busybox provides it).
APPLETS=(sh ps cat rm ls find kill sleep stat mv ln date head tail wc grep sed awk tr od cut dd
         printf echo test '[' env readlink mkdir rmdir touch true false timeout xargs)

log()  { printf '[docker-env] %s\n' "$*" >&2; }
die()  { printf '[docker-env] ERROR: %s\n' "$*" >&2; exit 1; }

need_root() { [[ $(id -u) -eq 0 ]] || die "must run as root (dockerd, apt-get)"; }

# Does a daemon answer on the default socket?
daemon_answers() { timeout 10 "$DOCKER" info >/dev/null 2>&1; }

# Is <pid> a live process whose command name is <name>?
pid_is() {
    local pid=$1 name=$2 comm
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    comm=$(cat "/proc/$pid/comm" 2>/dev/null) || return 1
    [[ $comm == "$name" ]] && proc_alive "$pid"
}

# Is <pid> alive (and not a zombie)?  Used for our own child right after fork, when its
# command name may still be bash/setsid rather than dockerd.
proc_alive() {
    local state
    [[ $1 =~ ^[0-9]+$ ]] || return 1
    state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
    [[ -n $state && $state != Z ]]
}

read_pidfile() { [[ -s $1 ]] && tr -dc '0-9' <"$1" || true; }

# ---------------------------------------------------------------- install
pkg_installed() {
    [[ $(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true) == "install ok installed" ]]
}

pkg_has_candidate() {
    local cand
    cand=$(apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2}')
    [[ -n $cand && $cand != "(none)" ]]
}

print_versions() {
    local p
    for p in docker.io containerd runc tini busybox-static; do
        printf '  %-15s %s\n' "$p" "$(dpkg-query -W -f='${Version}' "$p" 2>/dev/null || echo 'not installed')"
    done
    command -v dockerd >/dev/null && printf '  %-15s %s\n' dockerd "$(dockerd --version 2>/dev/null)"
    printf '  %-15s %s (%s)\n' "docker client" \
        "$("$DOCKER" --version 2>/dev/null || echo 'not found')" "$(command -v "$DOCKER" || echo none)"
    [[ -x $BUSYBOX_BIN ]] && printf '  %-15s %s\n' busybox "$("$BUSYBOX_BIN" 2>&1 | head -n1)"
    return 0
}

cmd_install() {
    need_root
    local pkgs=() spec
    for spec in "docker.io${DOCKER_IO_VERSION:+=$DOCKER_IO_VERSION}" \
                "busybox-static${BUSYBOX_VERSION:+=$BUSYBOX_VERSION}"; do
        local name=${spec%%=*} want=${spec#*=}
        if pkg_installed "$name" && { [[ $spec != *=* ]] ||
                [[ $(dpkg-query -W -f='${Version}' "$name") == "$want" ]]; }; then
            continue
        fi
        pkgs+=("$spec")
    done
    if ((${#pkgs[@]} == 0)); then
        log "docker.io and busybox-static are already installed"
    else
        local need_update=0 p
        for p in "${pkgs[@]}"; do pkg_has_candidate "${p%%=*}" || need_update=1; done
        if ((need_update)); then
            log "apt-get update"
            apt-get update
        fi
        # Keep the package's maintainer scripts from starting a dockerd with default
        # options (bridge, iptables): on machines without a policy-rc.d, add one for
        # the duration of the install.
        local tmp_policy=0
        if [[ ! -e /usr/sbin/policy-rc.d ]]; then
            printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
            chmod 755 /usr/sbin/policy-rc.d
            tmp_policy=1
        fi
        log "apt-get install -y ${pkgs[*]}"
        local rc=0
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${pkgs[@]}" || rc=$?
        ((tmp_policy)) && rm -f /usr/sbin/policy-rc.d
        ((rc == 0)) || die "apt-get install failed (exit $rc)"
    fi
    command -v dockerd >/dev/null || die "dockerd not found after install"
    [[ -x $BUSYBOX_BIN ]] || die "$BUSYBOX_BIN not found after install"
    log "installed versions:"
    print_versions >&2
}

# ---------------------------------------------------------------- start
# Remove what a dockerd that died without cleaning up leaves behind.
clear_leftovers() {
    local pid
    pid=$(read_pidfile "$DOCKER_PIDFILE")
    if [[ -e $DOCKER_PIDFILE ]] && ! pid_is "$pid" dockerd; then
        log "removing stale $DOCKER_PIDFILE (pid '${pid}' is not a running dockerd)"
        rm -f "$DOCKER_PIDFILE"
    fi
    pid=$(read_pidfile "$MANAGED_CONTAINERD_PIDFILE")
    if [[ -e $MANAGED_CONTAINERD_PIDFILE ]] && ! pid_is "$pid" containerd; then
        log "removing stale $MANAGED_CONTAINERD_PIDFILE"
        rm -f "$MANAGED_CONTAINERD_PIDFILE"
    fi
    # dockerd 20.10 uses a system containerd whenever its socket *exists*; a socket left by
    # a dead containerd makes dockerd fail to start. Move it away if nothing answers on it.
    if [[ -S $SYSTEM_CONTAINERD_SOCK ]]; then
        if command -v ctr >/dev/null && ! timeout 5 ctr --address "$SYSTEM_CONTAINERD_SOCK" version >/dev/null 2>&1; then
            log "removing stale $SYSTEM_CONTAINERD_SOCK (no containerd answers on it)"
            rm -f "$SYSTEM_CONTAINERD_SOCK"
        fi
    fi
}

cmd_start() {
    need_root
    if daemon_answers; then
        log "a Docker daemon already answers (server $("$DOCKER" version --format '{{.Server.Version}}' 2>/dev/null), API $("$DOCKER" version --format '{{.Server.APIVersion}}' 2>/dev/null)); nothing to do"
        return 0
    fi
    command -v dockerd >/dev/null || die "dockerd not found: run '$0 install' first"
    mkdir -p "$STATE_DIR"

    local pid
    pid=$(read_pidfile "$DOCKER_PIDFILE")
    if pid_is "$pid" dockerd; then
        # A dockerd is running but does not answer yet (still starting, or hung).
        log "dockerd pid $pid is running but not answering yet; waiting for it"
    else
        clear_leftovers
        log "starting: dockerd ${DOCKERD_ARGS[*]}  (log: $LOG_FILE)"
        printf '\n==== %s docker-env.sh start ====\n' "$(date -Is)" >>"$LOG_FILE"
        # No inherited fd: a caller's flock (or pipe) held by a daemon would never be released.
        setsid dockerd "${DOCKERD_ARGS[@]}" </dev/null >>"$LOG_FILE" 2>&1 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&- &
        pid=$!
        echo "$pid" >"$OUR_PIDFILE"
    fi

    local waited=0
    until daemon_answers; do
        if ! proc_alive "$pid"; then
            log "dockerd (pid $pid) exited; last lines of $LOG_FILE:"
            tail -n 25 "$LOG_FILE" >&2 || true
            rm -f "$OUR_PIDFILE"
            die "dockerd failed to start"
        fi
        if ((waited >= TIMEOUT)); then
            log "last lines of $LOG_FILE:"
            tail -n 25 "$LOG_FILE" >&2 || true
            die "dockerd (pid $pid) did not answer 'docker info' within ${TIMEOUT}s"
        fi
        sleep 1
        waited=$((waited + 1))
    done
    log "dockerd pid $pid answers after ~${waited}s (server $("$DOCKER" version --format '{{.Server.Version}}'), API $("$DOCKER" version --format '{{.Server.APIVersion}}'), storage driver $("$DOCKER" info --format '{{.Driver}}'))"
    log "log file: $LOG_FILE"
}

# ---------------------------------------------------------------- stop
cmd_stop() {
    need_root
    local pid
    pid=$(read_pidfile "$OUR_PIDFILE")
    if ! pid_is "$pid" dockerd; then
        rm -f "$OUR_PIDFILE"
        local other
        other=$(read_pidfile "$DOCKER_PIDFILE")
        if pid_is "$other" dockerd; then
            log "dockerd pid $other was not started by '$0 start'; leaving it alone"
        else
            log "no dockerd started by '$0 start' is running"
        fi
        return 0
    fi
    log "stopping dockerd pid $pid (SIGTERM)"
    kill -TERM "$pid" 2>/dev/null || true
    local waited=0
    while pid_is "$pid" dockerd; do
        if ((waited >= TIMEOUT)); then
            log "dockerd pid $pid still running after ${TIMEOUT}s; sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            sleep 1
            break
        fi
        sleep 1
        waited=$((waited + 1))
    done
    # dockerd stops the containerd it manages; give that a moment too.
    local cpid
    cpid=$(read_pidfile "$MANAGED_CONTAINERD_PIDFILE")
    for ((waited = 0; waited < 15; waited++)); do
        pid_is "$cpid" containerd || break
        sleep 1
    done
    rm -f "$OUR_PIDFILE"
    log "dockerd stopped"
}

# ---------------------------------------------------------------- images
image_exists() { "$DOCKER" image inspect "$1" >/dev/null 2>&1; }

# import_rootfs <dir> <image> <docker import -c changes...>
import_rootfs() {
    local dir=$1 image=$2 old=""
    shift 2
    local changes=() c
    for c in "$@"; do changes+=(-c "$c"); done
    image_exists "$image" && old=$("$DOCKER" image inspect --format '{{.Id}}' "$image")
    tar --numeric-owner -C "$dir" -c . | "$DOCKER" import "${changes[@]}" - "$image" >/dev/null
    local new
    new=$("$DOCKER" image inspect --format '{{.Id}}' "$image")
    if [[ -n $old && $old != "$new" ]]; then
        "$DOCKER" image rm "$old" >/dev/null 2>&1 || true   # still used by a container: keep it
    fi
    log "built $image ($new)"
}

build_busybox_image() {
    local root=$1
    mkdir -p "$root"/{bin,usr/bin,etc,proc,sys,dev,tmp,root,home/node}
    chmod 1777 "$root/tmp"
    chmod 700 "$root/root"
    cp "$BUSYBOX_BIN" "$root/bin/busybox"
    local provided a linked=()
    provided=$("$BUSYBOX_BIN" --list)
    for a in "${APPLETS[@]}"; do
        if grep -qxF -- "$a" <<<"$provided"; then
            ln -s busybox "$root/bin/$a"
            linked+=("$a")
        else
            log "note: this busybox has no '$a' applet; not linked"
        fi
    done
    [[ -e $root/bin/env ]] && ln -s /bin/busybox "$root/usr/bin/env"
    cat >"$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
node:x:1000:1000:node:/home/node:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
    cat >"$root/etc/group" <<'EOF'
root:x:0:
node:x:1000:
nogroup:x:65534:
EOF
    chown 1000:1000 "$root/home/node"
    log "busybox applets linked: ${linked[*]}"
    import_rootfs "$root" "$BUSYBOX_IMAGE" \
        'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        'CMD ["/bin/sh"]' \
        "LABEL org.zaki.test=busybox org.zaki.busybox=$(dpkg-query -W -f='${Version}' busybox-static 2>/dev/null || echo unknown)"
}

build_nosh_image() {
    local root=$1
    mkdir -p "$root"/{bin,etc,proc,sys,dev,tmp}
    chmod 1777 "$root/tmp"
    # busybox picks its applet from argv[0]: as /bin/sleep it is `sleep` and nothing else.
    cp "$BUSYBOX_BIN" "$root/bin/sleep"
    printf 'root:x:0:0:root:/:/bin/sleep\n' >"$root/etc/passwd"
    printf 'root:x:0:\n' >"$root/etc/group"
    import_rootfs "$root" "$NOSH_IMAGE" \
        'ENV PATH=/bin' \
        'CMD ["sleep", "3600"]' \
        'LABEL org.zaki.test=nosh'
}

cmd_images() {
    local force=0
    [[ ${1:-} == --force ]] && force=1
    daemon_answers || die "no Docker daemon answers: run '$0 start' first"
    [[ -x $BUSYBOX_BIN ]] || die "$BUSYBOX_BIN missing: run '$0 install' first"
    # The production image's busybox `ps` has no -p; ours must not have it either.
    if "$BUSYBOX_BIN" ps -p 1 >/dev/null 2>&1; then
        die "$BUSYBOX_BIN ps accepts -p; the test image would not behave like the platform's"
    fi
    local tmp
    tmp=$(mktemp -d /tmp/zaki-rootfs.XXXXXX)
    # shellcheck disable=SC2064
    trap "rm -rf '$tmp'" EXIT
    if ((force)) || ! image_exists "$BUSYBOX_IMAGE"; then
        build_busybox_image "$tmp/busybox"
    else
        log "$BUSYBOX_IMAGE exists (use --force to rebuild)"
    fi
    if ((force)) || ! image_exists "$NOSH_IMAGE"; then
        build_nosh_image "$tmp/nosh"
    else
        log "$NOSH_IMAGE exists (use --force to rebuild)"
    fi
    rm -rf "$tmp"
    trap - EXIT
}

# ---------------------------------------------------------------- status
cmd_status() {
    local rc=0
    if daemon_answers; then
        echo "daemon:        answers"
        echo "server:        $("$DOCKER" version --format '{{.Server.Version}}')"
        echo "API version:   $("$DOCKER" version --format '{{.Server.APIVersion}}')"
        echo "storage:       $("$DOCKER" info --format '{{.Driver}}')"
        echo "cgroup:        $("$DOCKER" info --format '{{.CgroupDriver}} v{{.CgroupVersion}}')"
        local pid
        pid=$(read_pidfile "$OUR_PIDFILE")
        if pid_is "$pid" dockerd; then
            echo "started by:    $0 start (pid $pid, log $LOG_FILE)"
        else
            echo "started by:    something else (pid $(read_pidfile "$DOCKER_PIDFILE"))"
        fi
        local img
        for img in "$BUSYBOX_IMAGE" "$NOSH_IMAGE"; do
            if image_exists "$img"; then
                printf 'image:         %-20s present (%s)\n' "$img" \
                    "$("$DOCKER" image inspect --format '{{.Id}}' "$img" | cut -c1-19)"
            else
                printf 'image:         %-20s MISSING\n' "$img"
                rc=1
            fi
        done
    else
        echo "daemon:        not answering"
        rc=1
    fi
    return $rc
}

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

main() {
    local cmd=${1:-}
    [[ $# -gt 0 ]] && shift
    case $cmd in
        install) cmd_install ;;
        start)   cmd_start ;;
        stop)    cmd_stop ;;
        images)  cmd_images "$@" ;;
        all)     cmd_install; cmd_start; cmd_images "$@" ;;
        status)  cmd_status ;;
        -h|--help|help) usage ;;
        *) usage >&2; exit 2 ;;
    esac
}

main "$@"
