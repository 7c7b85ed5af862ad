# shellcheck shell=sh
# zaki-locks: put leftovers of interrupted removals back inside a container (run as
# `sh -c SCRIPT sh ARGS...`, SCRIPT being recheck.sh followed by this file:
# `container::PUT_BACK_SCRIPT`).
#
# A leftover (`.NAME.zaki-locks-removing.*`) that is still held goes back under its lock's name,
# only if it is unchanged and reached as the remove script would reach it (the same `recheck`,
# recheck.sh). `ln` never replaces a lock that has taken the name since: the leftover then stays
# where it is, reported.
#
# Arguments: nine per leftover, repeated; a short last group is ignored: the remove script's
# eight (`container::removal_args`, with PATH the leftover), then ORIG, the lock's own name (a
# plain name, no `/`).
#
# Output (parsed by `container::parse_removals`, as the remove script's): one record per line,
# HEX(path) is lowercase hex of the leftover's path as given; REASON is free text.
#   zaki-locks 1                  first line; without it nothing is used
#   self PID                      this shell's pid in the container (to kill it if it overruns)
#   gone HEX(path)                the leftover is already gone
#   changed HEX(path) REASON      put back as ORIG, or kept: not what was judged
#   failed HEX(path) REASON       not put back: ORIG is not a plain name, or exists again
#   end                           last line
# A leftover without a line of its own is reported as failed by the caller.
# Exit status 0 (the caller treats any other status as a failed exec).

LC_ALL=C; export LC_ALL
echo "zaki-locks 1"
echo "self $$"
while [ "$#" -ge 9 ]; do
  state=$1 f=$2 dirid=$3 size=$4 mtime=$5 ino=$6 dev=$7 data=$8 orig=$9
  shift 9
  tag=$(printf '%s' "$f" | hex)
  d=${f%/*}
  case "$orig" in */*|.|..|"") echo "failed $tag not a plain name"; continue ;; esac
  recheck "$state" "$f" "$dirid" "$size" "$mtime" "$ino" "$dev" "$data" "$tag" || continue
  if ln "$f" "$d/$orig" 2>/dev/null; then
    rm -f "$f"
    echo "changed $tag left over from an interrupted removal and still held: put back as $orig"
  else
    echo "failed $tag left over from an interrupted removal and still held, but $orig exists again: left where it is"
  fi
done
echo end
