# shellcheck shell=sh
# zaki-locks: the re-check shared by the remove and put-back scripts, which are each run as this
# file followed by the script (`container::REMOVE_SCRIPT`, `container::PUT_BACK_SCRIPT`).
# Functions only: nothing here runs or prints until a script calls it.

# hex: lowercase hex of stdin, on one line.
hex() { od -An -v -tx1 | tr -d ' \n'; echo; }

# unchanged FILE SIZE MTIME INO DEV HEX: status 0 when FILE's size, mtime (whole seconds), inode
# and device, and the lowercase hex of its first 4097 bytes, are all as given; 2 when it cannot
# be read (gone); 1 otherwise.
unchanged() {
  zl_now=$(stat -c '%s %Y %i %d' "$1" 2>/dev/null) || return 2
  [ "$zl_now" = "$2 $3 $4 $5" ] || return 1
  [ "$(dd if="$1" bs=4097 count=1 2>/dev/null | hex)" = "$6" ]
}

# recheck STATE PATH "DEV INO" SIZE MTIME INO DEV HEX TAG: the eight arguments of a lock as the
# scripts take them (their headers), then TAG, the hex of PATH for the output line.
# Status 0, nothing printed, when PATH is still exactly the judged lock, reached as it was
# judged: no symlink among STATE/agents, the agent dir and the sessions dir, the sessions dir
# still the one read ("DEV INO"), PATH itself a regular file, not a symlink, and unchanged.
# Otherwise status 1 and the script's record for it is printed: `gone TAG` or `changed TAG REASON`.
recheck() {
  zl_d=${2%/*}
  zl_agent=${zl_d%/*}
  if [ -L "$1/agents" ] || [ -L "$zl_agent" ] || [ -L "$zl_d" ]; then echo "changed $9 a directory on the way is a symlink"; return 1; fi
  [ "$(stat -c '%d %i' "$zl_d" 2>/dev/null)" = "$3" ] || { echo "changed $9 its sessions directory was replaced since it was read"; return 1; }
  if [ -L "$2" ]; then echo "changed $9 replaced by a symlink"; return 1; fi
  [ -e "$2" ] || { echo "gone $9"; return 1; }
  [ -f "$2" ] || { echo "changed $9 no longer a regular file"; return 1; }
  unchanged "$2" "$4" "$5" "$6" "$7" "$8"
  case $? in
    0) return 0 ;;
    2) echo "gone $9" ;;
    *) echo "changed $9 modified since it was judged" ;;
  esac
  return 1
}
