# shellcheck shell=sh
# zaki-locks: observe the locks inside a container (run as `sh -c SCRIPT sh STATE_DIR...`).
#
# Lists the locks below each state dir given as an argument, then `/proc` for every pid they
# name. Locks are all read before any `/proc` entry, so an owner is never observed before its
# lock (a lock created after the `/proc` look would otherwise look orphaned). POSIX sh on busybox,
# Alpine and Debian: no `ps`, no `jq`, no `find -printf`; LC_ALL=C so every byte is a byte.
#
# Arguments: the state dirs to look in (paths inside the container), e.g. /home/node/.openclaw.
#
# Output (parsed by `container::parse_listing`): one record per line, words separated by one
# space. HEX is lowercase hex of raw bytes without separators, so no path or content can break
# the protocol; it may be empty.
#   zaki-locks 1                  first line (protocol version); without it nothing is used
#   self PID                      this shell's pid in the container (to kill it if it overruns)
#   btime SECS                    boot time from /proc/stat (empty if unknown)
#   ticks N                       clock ticks per second (empty if unknown: 100 is assumed)
#   For each state dir argument:
#   state HEX(state dir)          the dir the following lines are under
#   absent                        the state dir is not a directory
#   symlink HEX(path)             `agents`, an agent dir or a sessions dir is a symlink: not followed
#   unreadable HEX(sessions dir)  a sessions dir that cannot be stat'ed or listed
#   dir DEV INO HEX(sessions dir) the sessions dir the following locks are in, and its identity
#   For each *.jsonl.lock, sessions.json.lock and leftover of an interrupted removal
#   (.NAME.zaki-locks-removing.* or .zaki-locks-removing.*) in it:
#   link HEX(path)                a symlink (never followed)
#   special HEX(path)             not a regular file (FIFO, device, directory: never opened)
#   lock SIZE MTIME INO DEV HEX(path)   a regular file, mtime in whole seconds, followed by
#   data HEX(first 4097 bytes)    its content, read once (one byte past lock::MAX_PAYLOAD_BYTES
#                                 shows it is over)
#   Then, when the sessions dir holds a transcript lock and a regular sessions.json <= 1 MiB:
#   store HEX(sessions dir)       followed by
#   data HEX(sessions.json)       the session store (maps session ids to session keys)
#   After every lock, only if a regular lock was found:
#   held PID DEV INO HEX(comm)    a process with an open file whose target ends in `.lock` (or
#                                 `.lock (deleted)`): the file's device and inode, its comm
#   fdunreadable PID              a process whose open files could not be listed
#   fds                           every process was looked at (without it, holders are unknown)
#   For each distinct pid named in a lock (the first run of digits after its last `"pid"`,
#   newlines ignored; a crude match, so the Rust side treats a pid not listed as unknown):
#   pid PID status HEX(/proc/PID/status)  and  pid PID stat HEX(/proc/PID/stat)
#   pid PID unreadable            /proc/PID exists but cannot be read
#   pid PID gone                  no /proc/PID
#   end                           last line; output without it is rejected whole (a cut-short
#                                 listing must never make an owner look dead)
# Exit status 0 (the caller treats any other status as a failed exec).

LC_ALL=C; export LC_ALL
hex() { od -An -v -tx1 | tr -d ' \n'; echo; }
say() { printf '%s ' "$1"; printf '%s' "$2" | hex; }
echo "zaki-locks 1"
echo "self $$"
echo "btime $(sed -n 's/^btime //p' /proc/stat 2>/dev/null)"
echo "ticks $(getconf CLK_TCK 2>/dev/null)"
# Set here: a variable of the container's environment must not leak into the lists.
pids="" keys="" anylock="" seen=""
for state in "$@"; do
  say state "$state"
  [ -d "$state" ] || { echo absent; continue; }
  [ -L "$state/agents" ] && { say symlink "$state/agents"; continue; }
  [ -d "$state/agents" ] || continue
  for agent in "$state"/agents/*; do
    if [ -L "$agent" ]; then say symlink "$agent"; continue; fi
    s="$agent/sessions"
    if [ -L "$s" ]; then say symlink "$s"; continue; fi
    [ -d "$s" ] || continue
    id=$(stat -c '%d %i' "$s" 2>/dev/null) || { say unreadable "$s"; continue; }
    if [ ! -r "$s" ] || [ ! -x "$s" ]; then say unreadable "$s"; continue; fi
    say "dir $id" "$s"
    for f in "$s"/*.jsonl.lock "$s"/sessions.json.lock "$s"/.*.zaki-locks-removing.* "$s"/.zaki-locks-removing.*; do
      if [ -L "$f" ]; then say link "$f"; continue; fi
      [ -e "$f" ] || continue
      [ -f "$f" ] || { say special "$f"; continue; }
      meta=$(stat -c '%s %Y %i %d' "$f" 2>/dev/null) || continue
      say "lock $meta" "$f"
      anylock=1
      data=$(dd if="$f" bs=4097 count=1 2>/dev/null | hex)
      echo "data $data"
      # The pid, from the bytes just read (the lock is read once): as " xx" tokens, newlines
      # dropped, `"pid"` as P, digits as themselves, any other byte as x; then the first run
      # of digits after the last P (a crude match: the Rust side parses the JSON itself).
      p=$(printf '%s\n' "$data" | sed -n -e 's/../ &/g' -e 's/ 0a//g' -e 's/ 22 70 69 64 22/P/g' \
        -e 's/ 3\([0-9]\)/\1/g' -e 's/ ../x/g' -e 's/.*Px*\([0-9][0-9]*\).*/\1/p')
      [ -n "$p" ] && pids="$pids $p"
      case "$f" in *.jsonl.lock) keys=1 ;; esac
    done
    st="$s/sessions.json"
    if [ -n "$keys" ] && [ -f "$st" ] && [ ! -L "$st" ]; then
      size=$(stat -c '%s' "$st" 2>/dev/null)
      if [ -n "$size" ] && [ "$size" -le 1048576 ]; then
        say store "$s"
        echo "data $(dd if="$st" bs=1048576 count=1 2>/dev/null | hex)"
      fi
    fi
    keys=""
  done
done
if [ -n "$pids$anylock" ]; then
  for d in /proc/[0-9]*; do
    p=${d#/proc/}
    [ "$p" = "$$" ] && continue
    if ! ls "$d/fd" >/dev/null 2>&1; then
      [ -d "$d" ] && echo "fdunreadable $p"
      continue
    fi
    for fd in "$d"/fd/*; do
      case "$(readlink "$fd" 2>/dev/null)" in
        *.lock|*".lock (deleted)")
          id=$(stat -L -c '%d %i' "$fd" 2>/dev/null) || continue
          printf 'held %s %s ' "$p" "$id"; hex < "$d/comm" 2>/dev/null || echo ;;
      esac
    done
  done
  echo fds
fi
for p in $pids; do
  case " $seen " in *" $p "*) continue ;; esac
  seen="$seen $p"
  if [ -r "/proc/$p/status" ]; then
    printf 'pid %s status ' "$p"; hex < "/proc/$p/status"
    printf 'pid %s stat ' "$p"; hex < "/proc/$p/stat"
  elif [ -e "/proc/$p" ]; then
    echo "pid $p unreadable"
  else
    echo "pid $p gone"
  fi
done
echo end
