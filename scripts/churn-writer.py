#!/usr/bin/env python3
"""One session-lock writer for the churn test (tests/churn.rs), following OpenClaw's protocol.

Python 3 standard library only: it runs on the host and inside a busybox container (with the
host's python3 and libraries mounted read-only).

Each cycle picks a session of SESSIONS_DIR at random (half the time one of the --hot first ones,
so that those are contended) and takes its lock exactly as OpenClaw 2026.2/2026.3 does:

  1. os.open(<id>.jsonl.lock, O_CREAT|O_EXCL|O_WRONLY): the file now exists, empty;
  2. sometimes sleep a little (the empty window, well under the stale threshold);
  3. write the payload, pretty JSON with a two-space indent: {"pid", "createdAt"} and, with
     --starttime (OpenClaw 2026.3+), "starttime" (field 22 of /proc/self/stat);
  4. hold it 0-30 ms (appending a line to the transcript meanwhile);
  5. release: delete it, but only if the path still is this writer's lock (same inode as the
     open fd, same content); otherwise count a lost lock and leave the path alone.

Right before step 3 it checks the path still is its own empty file (lstat vs fstat); if not, its
in-progress lock was removed or replaced while empty, which is counted (empty_removed).

On EEXIST it does what OpenClaw's contender does: read the lock and reclaim it (unlink, retry at
once) when its pid is dead (no such process, or a zombie), recycled (2026.3 writers: starttime
differs), or when it is too old (createdAt older than --stale-secs), an empty or half-written
payload only once its mtime is that old; otherwise poll with a small growing delay, and give up
on the session after --max-wait seconds.

Writers reclaiming the same stale lock at once would delete each other's fresh locks by path
(OpenClaw's own race between two processes, which one gateway avoids by queueing a session's
requests). That is not what the churn test measures, so reclaims are serialised between
writers with a flock per session in --guard-dir (never in the sessions dir; zaki-locks does not
take it). --no-guard leaves them unserialised, as two separate gateways would be.

--release-window (issue 18) makes every lock look long held when it is released, and releases it
as OpenClaw up to 2026.5.7 does, so that a tool judging it in the close-then-delete window is
caught: the payload's createdAt is a minute old (with the owner's starttime, so that the owner
is plainly alive) and the file's mtime is set a minute back right after the write (any holder-free
grace has long passed); the lock is held --max-hold at most, then the handle is CLOSED, the
writer sleeps 1-16 ms (OpenClaw's measured close-to-delete delay) and deletes the lock BY PATH,
without checking it is still its own. A contender does not read the lock in the way: it retries
the exclusive create every --poll seconds (default 1 ms), so it takes the path the moment it is
free. Run two writers pinned to one session (--only-session) and each is the other's waiter. A
lost lock is one the writer finds gone or replaced while it holds it, or right before its own
delete; neither can happen unless something else removed its released lock in the window (and
then its delete by path takes the waiter's new, live lock, which the waiter finds gone).

Prints `c CYCLES RECLAIMED` after each completed cycle. Stops after --secs or --cycles, or on SIGTERM (finishing
the current cycle), and prints one JSON line with its counters. Every lost lock is also described as one JSON line on stderr.
"""

import argparse
import datetime
import errno
import fcntl
import json
import os
import random
import signal
import sys
import time

STOP = False


def on_term(_signo, _frame):
    global STOP
    STOP = True


def session_ids(n):
    """The same ids the test harness uses: uuid-shaped, fixed."""
    return ["%08x-0000-4000-8000-%012x" % (0xC0FFEE00 + i, i) for i in range(n)]


def now_iso(offset=0.0):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=offset)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (t.microsecond // 1000)


def own_starttime():
    with open("/proc/self/stat") as f:
        s = f.read()
    return int(s[s.rindex(")") + 1 :].split()[19])


def proc_state(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("State:"):
                    return line.split()[1]
    except OSError:
        return None
    return None


def proc_starttime(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
        return int(s[s.rindex(")") + 1 :].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def pid_alive(pid):
    """OpenClaw's check: kill(pid, 0), and a zombie is dead."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return proc_state(pid) != "Z"


def parse_created(text):
    if not isinstance(text, str):
        return None
    try:
        return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
            tzinfo=datetime.timezone.utc
        ).timestamp()
    except ValueError:
        return None


class Writer:
    def __init__(self, a):
        self.a = a
        self.dir = a.sessions_dir
        self.rng = random.Random(a.seed)
        self.sessions = session_ids(a.sessions)
        self.pid = os.getpid()
        self.starttime = own_starttime() if a.starttime else None
        self.c = {
            "pid": self.pid,
            "tag": a.tag,
            "starttime_payload": bool(a.starttime),
            "cycles": 0,
            "lost": 0,
            "empty_removed": 0,
            "attempts": 0,
            "contended": 0,
            "reclaimed": 0,
            "gave_up": 0,
            "empty_windows": 0,
        }

    def log(self, event, **kw):
        kw.update(event=event, pid=self.pid, tag=self.a.tag, t=time.time())
        sys.stderr.write(json.dumps(kw, sort_keys=True) + "\n")
        sys.stderr.flush()

    def lock_path(self, sid):
        return os.path.join(self.dir, sid + ".jsonl.lock")

    def setup(self):
        os.makedirs(self.dir, exist_ok=True)
        os.makedirs(self.a.guard_dir, exist_ok=True)
        for sid in self.sessions:
            fd = os.open(os.path.join(self.dir, sid + ".jsonl"), os.O_CREAT | os.O_WRONLY, 0o644)
            os.close(fd)
        store = os.path.join(self.dir, "sessions.json")
        if not os.path.exists(store):
            body = {
                "agent:main:openai-user:%d" % (1000 + i): {"sessionId": sid}
                for i, sid in enumerate(self.sessions)
            }
            tmp = "%s.%d.tmp" % (store, self.pid)
            with open(tmp, "w") as f:
                json.dump(body, f, indent=2)
            try:
                os.link(tmp, store)
            except FileExistsError:
                pass
            os.unlink(tmp)

    # --- contender side -------------------------------------------------------------------

    def is_stale(self, data, mtime):
        """OpenClaw's verdict on a contended lock (2026.2; 2026.3 adds the starttime check)."""
        try:
            p = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            p = None
        if not isinstance(p, dict):
            p = {}
        pid = p.get("pid")
        if isinstance(pid, bool) or not isinstance(pid, int) or pid <= 0:
            pid = None
        created = parse_created(p.get("createdAt"))
        reasons = []
        if pid is None:
            reasons.append("missing-pid")
        elif not pid_alive(pid):
            reasons.append("dead-pid")
        elif self.a.starttime and isinstance(p.get("starttime"), int):
            now_st = proc_starttime(pid)
            if now_st is not None and now_st != p["starttime"]:
                reasons.append("recycled-pid")
        if created is None:
            reasons.append("invalid-createdAt")
        elif time.time() - created > self.a.stale_secs:
            reasons.append("too-old")
        if not reasons:
            return False
        if all(r in ("missing-pid", "invalid-createdAt") for r in reasons):
            # May be a lock being written right now: only its mtime can make it stale.
            return time.time() - mtime > self.a.stale_secs
        return True

    def try_reclaim(self, sid, path):
        """Reads the lock in the way; unlinks it if stale. True: retry the create at once."""
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except FileNotFoundError:
            return True
        except OSError:
            return False
        try:
            st = os.fstat(fd)
            data = os.read(fd, 4097)
            if not self.is_stale(data, st.st_mtime):
                return False
            guard = None
            if not self.a.no_guard:
                guard = os.open(
                    os.path.join(self.a.guard_dir, sid + ".reclaim"), os.O_CREAT | os.O_RDWR, 0o644
                )
                fcntl.flock(guard, fcntl.LOCK_EX)
            try:
                # Still the lock just judged? (Another writer may have reclaimed it meanwhile.)
                try:
                    now = os.lstat(path)
                except FileNotFoundError:
                    return True
                if (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino):
                    return True
                try:
                    os.unlink(path)
                    self.c["reclaimed"] += 1
                except FileNotFoundError:
                    pass
                return True
            finally:
                if guard is not None:
                    os.close(guard)
        finally:
            os.close(fd)

    # --- owner side -----------------------------------------------------------------------

    def acquire(self, sid):
        path = self.lock_path(sid)
        started = time.monotonic()
        delay = 0.001
        while True:
            self.c["attempts"] += 1
            try:
                fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                self.c["contended"] += 1
                if not self.a.release_window and self.try_reclaim(sid, path):
                    continue
                if STOP or time.monotonic() - started > self.a.max_wait:
                    self.c["gave_up"] += 1
                    return None
                if self.a.release_window:
                    time.sleep(self.a.poll)
                    continue
                time.sleep(delay * (0.5 + self.rng.random()))
                delay = min(delay * 1.6, 0.05)
                continue
            st = os.fstat(fd)
            r = self.rng.random()
            if r < self.a.p_long_empty:
                self.c["empty_windows"] += 1
                time.sleep(self.rng.uniform(0.1, self.a.max_empty))
            elif r < self.a.p_long_empty + self.a.p_empty:
                self.c["empty_windows"] += 1
                time.sleep(self.rng.uniform(0.001, 0.02))
            try:
                now = os.lstat(path)
            except FileNotFoundError:
                now = None
            if now is None or (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino):
                self.c["empty_removed"] += 1
                self.log(
                    "empty-removed",
                    session=sid,
                    ino=st.st_ino,
                    found_ino=None if now is None else now.st_ino,
                    empty_for=time.time() - st.st_mtime,
                )
                os.close(fd)
                return None
            created = now_iso(-self.a.age) if self.a.release_window else now_iso()
            payload = {"pid": self.pid, "createdAt": created}
            if self.starttime is not None:
                payload["starttime"] = self.starttime
            body = json.dumps(payload, indent=2).encode()
            os.write(fd, body)
            if self.a.release_window:
                old = time.time() - self.a.age
                os.utime(fd, (old, old))
            return fd, st, body

    def own(self, path, st):
        """None if the path still is the lock `st` describes, else why not (and what is there)."""
        try:
            now = os.lstat(path)
        except FileNotFoundError:
            return "gone", None
        if (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino):
            return "replaced", {"ino": now.st_ino, "size": now.st_size}
        return None, None

    def release_by_path(self, sid, held):
        """OpenClaw up to 2026.5.7: close the handle, a few ms later delete the path, unchecked."""
        fd, st, body = held
        path = self.lock_path(sid)
        why, found = self.own(path, st)
        if why is not None:
            why += " while held"
        os.close(fd)
        time.sleep(self.rng.uniform(0.001, 0.016))
        if why is None:
            why, found = self.own(path, st)
            if why is not None:
                why += " after close, before the delete"
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        if why is None:
            self.c["cycles"] += 1
            print("c %d %d" % (self.c["cycles"], self.c["reclaimed"]), flush=True)
        else:
            self.c["lost"] += 1
            self.log("lost", session=sid, why=why, ino=st.st_ino, content=body.decode(), found=found)

    def release(self, sid, held):
        if self.a.release_window:
            return self.release_by_path(sid, held)
        fd, st, body = held
        path = self.lock_path(sid)
        why = None
        found = None
        try:
            now = os.lstat(path)
        except FileNotFoundError:
            now = None
        if now is None:
            why = "gone"
        elif (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino):
            why = "replaced"
            found = {"ino": now.st_ino, "size": now.st_size}
        else:
            try:
                with open(path, "rb") as f:
                    content = f.read(4097)
            except FileNotFoundError:
                content = None
            if content != body:
                why = "modified"
                found = {"content": None if content is None else content.decode("utf-8", "replace")}
        if why is None:
            try:
                os.unlink(path)
            except FileNotFoundError:
                why = "vanished during unlink"
        if why is None:
            self.c["cycles"] += 1
            # Progress, for the harness to count the cycles of a writer it kills.
            print("c %d %d" % (self.c["cycles"], self.c["reclaimed"]), flush=True)
        else:
            self.c["lost"] += 1
            self.log(
                "lost",
                session=sid,
                why=why,
                ino=st.st_ino,
                content=body.decode(),
                found=found,
            )
        os.close(fd)

    def hold(self, sid):
        with open(os.path.join(self.dir, sid + ".jsonl"), "a") as f:
            f.write('{"pid": %d, "cycle": %d}\n' % (self.pid, self.c["cycles"]))
        time.sleep(self.rng.uniform(0, self.a.max_hold))

    def run(self):
        self.setup()
        print(json.dumps({"ready": self.pid, "tag": self.a.tag}), flush=True)
        deadline = time.monotonic() + self.a.secs
        while not STOP and time.monotonic() < deadline:
            if self.a.cycles and self.c["cycles"] >= self.a.cycles:
                break
            if self.a.only_session is not None:
                sid = self.sessions[self.a.only_session]
            elif self.a.hot and self.rng.random() < self.a.p_hot:
                sid = self.rng.choice(self.sessions[: self.a.hot])
            else:
                sid = self.rng.choice(self.sessions)
            held = self.acquire(sid)
            if held is None:
                continue
            self.hold(sid)
            self.release(sid, held)
        print(json.dumps(self.c, sort_keys=True), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("sessions_dir")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--secs", type=float, default=10.0, help="run this long (default 10)")
    ap.add_argument("--cycles", type=int, default=0, help="stop after this many cycles")
    ap.add_argument("--sessions", type=int, default=20)
    ap.add_argument("--hot", type=int, default=4, help="the first HOT sessions are busier")
    ap.add_argument("--p-hot", type=float, default=0.5, help="share of cycles on a hot session")
    ap.add_argument("--starttime", action="store_true", help="write starttime (OpenClaw 2026.3+)")
    ap.add_argument("--max-hold", type=float, default=0.030)
    ap.add_argument("--p-empty", type=float, default=0.10, help="share of short (1-20 ms) empty windows")
    ap.add_argument("--p-long-empty", type=float, default=0.01, help="share of long empty windows")
    ap.add_argument("--max-empty", type=float, default=0.5, help="longest empty window (s)")
    ap.add_argument("--max-wait", type=float, default=0.5, help="give up on a busy session after (s)")
    ap.add_argument("--stale-secs", type=float, default=1800.0, help="OpenClaw's staleMs, in s")
    ap.add_argument("--guard-dir", default=None, help="default: <sessions_dir>/../.churn-guards")
    ap.add_argument("--no-guard", action="store_true")
    ap.add_argument(
        "--release-window",
        action="store_true",
        help="locks look long held; release by close, 1-16 ms, delete by path (see above)",
    )
    ap.add_argument("--age", type=float, default=60.0, help="--release-window: createdAt and mtime this far back (s)")
    ap.add_argument("--poll", type=float, default=0.001, help="--release-window: a contender's retry delay (s)")
    ap.add_argument("--only-session", type=int, default=None, help="always this session (an index)")
    ap.add_argument("--tag", default="", help="a unique word for the harness to find this process")
    a = ap.parse_args()
    if a.guard_dir is None:
        a.guard_dir = os.path.join(os.path.dirname(os.path.abspath(a.sessions_dir)), ".churn-guards")
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    try:
        Writer(a).run()
    except OSError as e:
        if e.errno == errno.EPIPE:
            return
        raise


if __name__ == "__main__":
    main()
