# shellcheck shell=sh
# zaki-locks: remove judged locks inside a container (run as `sh -c SCRIPT sh ARGS...`, SCRIPT
# being recheck.sh followed by this file: `container::REMOVE_SCRIPT`).
#
# Removes each lock only if it is unchanged, not a symlink, and not reached through a symlinked
# or swapped directory (`recheck`, recheck.sh). Like the host remover it renames the lock aside,
# checks the inode it moved (`unchanged`), and puts back (with `ln`, which never overwrites)
# anything that is not the judged lock.
# Each step is a busybox command here, so the window the host remover keeps to microseconds is
# about 2 ms (measured by the churn work); containers on a local engine are cleaned from the
# host instead.
#
# Arguments: eight per lock (`container::removal_args`), repeated; a short last group is ignored:
#   STATE_DIR  PATH  "DEV INO" (of its sessions dir, one argument)  SIZE  MTIME (whole seconds)
#   INO  DEV  HEX (lowercase hex of its first 4097 bytes, as judged)
#
# Output (parsed by `container::parse_removals`): one record per line, HEX(path) is lowercase
# hex of the lock's path as given; REASON is free text to the end of the line.
#   zaki-locks 1                  first line; without it nothing is used
#   self PID                      this shell's pid in the container (to kill it if it overruns)
#   removed HEX(path)             it was the judged lock and is removed
#   gone HEX(path)                it was already gone
#   changed HEX(path) REASON      kept: it, or a directory on the way, is not what was judged
#   failed HEX(path) REASON       kept or left aside: an error (the reason says where it is)
#   end                           last line
# A lock without a line of its own is reported as failed by the caller.
# Exit status 0 (the caller treats any other status as a failed exec).

LC_ALL=C; export LC_ALL
echo "zaki-locks 1"
echo "self $$"
while [ "$#" -ge 8 ]; do
  state=$1 f=$2 dirid=$3 size=$4 mtime=$5 ino=$6 dev=$7 data=$8
  shift 8
  tag=$(printf '%s' "$f" | hex)
  d=${f%/*}
  recheck "$state" "$f" "$dirid" "$size" "$mtime" "$ino" "$dev" "$data" "$tag" || continue
  n=${f##*/}
  if [ "${#n}" -le 200 ]; then priv="$d/.$n.zaki-locks-removing.$$.$ino"; else priv="$d/.zaki-locks-removing.h$ino.$$"; fi
  err=$(mv "$f" "$priv" 2>&1) || { echo "failed $tag $err"; continue; }
  # Read again after the rename: what was moved must still be the judged lock.
  if unchanged "$priv" "$size" "$mtime" "$ino" "$dev" "$data"; then
    if err=$(rm -f "$priv" 2>&1); then echo "removed $tag"; else echo "failed $tag $err"; fi
  elif ln "$priv" "$f" 2>/dev/null && rm -f "$priv"; then
    echo "changed $tag replaced by a new lock while being removed: put back"
  else
    echo "failed $tag a new lock appeared while being removed and could not be put back: it is at $priv"
  fi
done
echo end
