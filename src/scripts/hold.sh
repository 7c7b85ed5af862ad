# shellcheck shell=sh
# zaki-locks probe --inject-lock: the owner its injected lock names, a process of the probe's
# own in the container (run as `sh -c SCRIPT zaki-locks-probe/openclaw`). OpenClaw respects a
# lock only when its owner is alive in the gateway's PID namespace, is not the gateway itself
# (2026.7 reclaims a lock naming its own pid), has the recorded starttime (2026.3+) and has
# an OpenClaw command line (2026.5.12+: an argument that ends in `/openclaw`, which $0 is).
#
# Output: its own /proc/<pid>/stat line (the pid and starttime the payload records).
# Then it waits until its stdin closes: the probe released the lock, or died.
cat "/proc/$$/stat" || exit 1
read -r _ || true
exit 0
