//! Issue 18: the holder rule is evidence only where its facts hold. Real files and real
//! processes on the host (no containers, no mocks):
//!
//! - a store lock of OpenClaw 2026.1.29 - 2026.2.12 (`{"pid":N,"startedAt":ms}`, its handle
//!   closed by a live writer) is judged by OpenClaw's own rule, mtime over 30 s, never by "no
//!   process holds it open";
//! - a dead owner's lock held open read-only (`tail -f`) is stale, removed, the reader named as
//!   one; the same lock held open by a writer stays;
//! - under the shipped units' capabilities without `CAP_LEASE` (`setpriv`), a 2 h old lock held
//!   open by its live owner is kept, and the run says loudly that it could not check holders.
//!
//! The release window (fix 2) is a churn test: `tests/churn.rs`, `release_window_churn_on_the_host`.
//!
//! Files are aged with their mtime, never by sleeping.

use crate::common;

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

const PYTHON: &str = "/usr/bin/python3.11";
const HOUR: Duration = Duration::from_secs(3600);

/// The capabilities `scripts/systemd/*.service` bounded the job to before issue 18
/// (`CapabilityBoundingSet=CAP_DAC_OVERRIDE CAP_DAC_READ_SEARCH CAP_FOWNER CAP_SYS_PTRACE`,
/// `NoNewPrivileges=yes`): everything root needs but `CAP_LEASE`.
const UNITS_CAPS_WITHOUT_LEASE: &[&str] = &[
    "--bounding-set=-all,+dac_override,+dac_read_search,+fowner,+sys_ptrace",
    "--inh-caps=-all",
    "--ambient-caps=-all",
    "--no-new-privs",
];

/// A python process that opens `path` and says `ready` once it has, killed on drop.
/// `mode`: `store` creates it exclusively, writes a 2026.1.29 - 2026.2.12 store-lock payload
/// naming itself and closes it; `write` keeps it open write-only (as OpenClaw's `"wx"` handle);
/// `read` keeps it open read-only.
fn python(mode: &str, path: &Path) -> Proc {
    const PY: &str = r#"
import json, os, sys, time
mode, path = sys.argv[1], sys.argv[2]
if mode == "store":
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    body = {"pid": os.getpid(), "startedAt": int(time.time() * 1000)}
    os.write(fd, json.dumps(body, separators=(",", ":")).encode())
    os.close(fd)
elif mode == "write":
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
elif mode == "read":
    fd = os.open(path, os.O_RDONLY)
print("ready", flush=True)
time.sleep(600)
"#;
    let mut p = Proc::spawn(
        Command::new(PYTHON)
            .args(["-c", PY, mode])
            .arg(path)
            .stdin(Stdio::null())
            .stdout(Stdio::piped()),
    );
    let out = p.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(out).read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "ready", "python {mode} {}", path.display());
    p
}

/// Whether process `pid` has the file `path` open (by its fd links).
fn has_open(pid: u32, path: &Path) -> bool {
    fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .flatten()
        .any(|e| fs::read_link(e.path()).is_ok_and(|t| t == path))
}

fn alive(p: &mut Proc) -> bool {
    p.try_wait().unwrap().is_none()
}

/// `<tmp>/<name>` as a state dir with `agents/main/sessions`.
fn state(tmp: &Path, name: &str) -> (PathBuf, PathBuf) {
    let root = tmp.join(name);
    let sessions = root.join("agents/main/sessions");
    fs::create_dir_all(&sessions).unwrap();
    (root, sessions)
}

fn need_root() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "these tests take leases, chown files and drop capabilities: run them as root"
    );
}

fn scan(cmd: Command, root: &Path) -> Value {
    let mut cmd = cmd;
    let o = run(cmd
        .args(["scan", "--no-containers", "--format", "json", "--root"])
        .arg(root));
    json(&o)
}

fn clean_json(cmd: Command, root: &Path) -> (Output, Value) {
    let mut cmd = cmd;
    let o = run(cmd
        .args(["clean", "--no-containers", "--format", "json", "--root"])
        .arg(root));
    let r = json(&o);
    (o, r)
}

fn clean_text(cmd: Command, root: &Path) -> Output {
    let mut cmd = cmd;
    run(cmd.args(["clean", "--no-containers", "--root"]).arg(root))
}

/// The report's record of the lock at `path`.
fn lock<'a>(r: &'a Value, path: &Path) -> &'a Value {
    let p = path.to_str().unwrap();
    r["locks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["path"] == p)
        .unwrap_or_else(|| panic!("{p} not reported: {r:#}"))
}

/// The lock's holder with host pid `pid`.
fn holder(l: &Value, pid: u32) -> &Value {
    l["holders"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["host_pid"] == pid)
        .unwrap_or_else(|| panic!("pid {pid} not among the holders: {l:#}"))
}

/// `zaki(tmp)` run through `setpriv` with the units' capabilities minus `CAP_LEASE`.
fn zaki_without_cap_lease(tmp: &Path) -> Command {
    let z = zaki(tmp);
    let mut c = Command::new("setpriv");
    c.args(UNITS_CAPS_WITHOUT_LEASE)
        .arg("--")
        .arg(z.get_program())
        .stdin(Stdio::null());
    for (k, v) in z.get_envs() {
        match v {
            Some(v) => c.env(k, v),
            None => c.env_remove(k),
        };
    }
    c
}

/// Fix 1. OpenClaw 2026.1.29 - 2026.2.12 write `sessions.json.lock` as
/// `{"pid":N,"startedAt":<ms>}`, close the handle and keep the lock while they update the
/// store: nobody has it open, yet it is held. OpenClaw reclaims one only once its mtime is over
/// 30 s old, and so must `clean`: at 15 s it is held and stays; at 40 s it is stale and goes, its
/// writer still alive. Another of 2 s, in a second agent, is never stale.
#[test]
fn store_lock_of_2026_2_closed_by_its_live_writer_goes_only_after_30s() {
    need_root();
    let tmp = tempfile::tempdir().unwrap();
    let (root, main) = state(tmp.path(), "state");
    let other = root.join("agents/other/sessions");
    fs::create_dir_all(&other).unwrap();
    let slow = main.join("sessions.json.lock");
    let young = other.join("sessions.json.lock");
    let mut slow_writer = python("store", &slow);
    let young_writer = python("store", &young);
    for (w, p) in [(&slow_writer, &slow), (&young_writer, &young)] {
        assert!(!has_open(w.pid(), p), "the writer closed its handle");
        let body = fs::read_to_string(p).unwrap();
        assert!(
            body.starts_with(&format!("{{\"pid\":{},\"startedAt\":", w.pid())),
            "{body}"
        );
    }

    // 15 s unchanged: held, whatever the kernel says about open files.
    set_mtime(&slow, Duration::from_secs(15));
    set_mtime(&young, Duration::from_secs(2));
    let r = scan(zaki(tmp.path()), &root);
    let l = lock(&r, &slow);
    assert_eq!(l["kind"], "store", "{l:#}");
    assert_eq!(
        (l["status"].as_str(), l["stale"].as_bool()),
        (Some("held"), Some(false)),
        "a 2026.2 store lock 15 s old, its writer alive: {l:#}"
    );
    let y = lock(&r, &young);
    assert_eq!(y["stale"], false, "{y:#}");
    assert_ne!(y["status"], "stale", "{y:#}");

    set_mtime(&young, Duration::from_secs(2));
    let (o, r) = clean_json(zaki(tmp.path()), &root);
    assert_eq!(lock(&r, &slow)["action"], "kept", "{r:#}");
    assert!(slow.exists(), "clean removed a 15 s old store lock");
    assert!(young.exists(), "clean removed a 2 s old store lock");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));

    // 40 s unchanged: stale by OpenClaw's own rule, though its writer is still alive.
    set_mtime(&slow, Duration::from_secs(40));
    set_mtime(&young, Duration::from_secs(2));
    let r = scan(zaki(tmp.path()), &root);
    let l = lock(&r, &slow);
    assert_eq!(
        (l["status"].as_str(), l["stale"].as_bool()),
        (Some("stale"), Some(true)),
        "a 2026.2 store lock 40 s old: {l:#}"
    );
    assert_eq!(lock(&r, &young)["stale"], false, "{r:#}");

    set_mtime(&young, Duration::from_secs(2));
    let (o, r) = clean_json(zaki(tmp.path()), &root);
    assert_eq!(lock(&r, &slow)["action"], "removed", "{r:#}");
    assert!(!slow.exists(), "a 40 s old store lock stayed");
    assert!(alive(&mut slow_writer), "its writer is still alive");
    assert_eq!(lock(&r, &young)["action"], "kept", "{r:#}");
    assert!(young.exists(), "clean removed a 2 s old store lock");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

/// Fix 3. OpenClaw opens its locks write-only; a process with one open read-only (`tail -f`,
/// a backup agent) is a reader, not a holder. A dead owner's lock that only a reader has open
/// is stale and removed, the reader named as such; the same lock held open by a writer stays.
#[test]
fn a_reader_does_not_keep_a_dead_lock_but_a_writer_does() {
    need_root();
    let tmp = tempfile::tempdir().unwrap();

    // Read-only: `tail -f`, a real one.
    let (root, dir) = state(tmp.path(), "read");
    let read = dir.join("read.jsonl.lock");
    fs::write(&read, legacy_payload(dead_pid(), 2 * HOUR)).unwrap();
    set_mtime(&read, 2 * HOUR);
    let tail = Proc::spawn(
        Command::new("tail")
            .arg("-f")
            .arg(&read)
            .stdin(Stdio::null())
            .stdout(Stdio::null()),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while !has_open(tail.pid(), &read) {
        assert!(Instant::now() < deadline, "tail never opened the lock");
        std::thread::sleep(Duration::from_millis(10));
    }
    let r = scan(zaki(tmp.path()), &root);
    let l = lock(&r, &read);
    assert_eq!(l["owner_state"], "dead", "{l:#}");
    assert_eq!(
        l["status"], "stale",
        "a dead owner's lock only `tail -f` has open: {l:#}"
    );
    assert_eq!(holder(l, tail.pid())["access"], "read-only", "{l:#}");
    let note = l["note"].as_str().unwrap_or("");
    assert!(
        note.contains("read-only"),
        "the note names the reader: {l:#}"
    );

    let o = clean_text(zaki(tmp.path()), &root);
    let said = format!("{}{}", stdout(&o), stderr(&o));
    assert!(
        !read.exists(),
        "clean kept a dead lock only a reader has open:\n{said}"
    );
    assert!(!said.contains("restart process"), "{said}");
    assert_eq!(o.status.code(), Some(0), "{said}");

    // Write-only, as OpenClaw holds it: the same dead-pid lock stays.
    let (root, dir) = state(tmp.path(), "write");
    let written = dir.join("written.jsonl.lock");
    fs::write(&written, legacy_payload(dead_pid(), 2 * HOUR)).unwrap();
    let writer = python("write", &written);
    set_mtime(&written, 2 * HOUR);
    let r = scan(zaki(tmp.path()), &root);
    let l = lock(&r, &written);
    assert!(
        l["status"] == "held" || l["status"] == "wedged",
        "a lock held open write-only: {l:#}"
    );
    assert_eq!(l["stale"], false, "{l:#}");
    assert_eq!(holder(l, writer.pid())["access"], "write", "{l:#}");
    let (_, r) = clean_json(zaki(tmp.path()), &root);
    assert_eq!(lock(&r, &written)["action"], "kept", "{r:#}");
    assert!(
        written.exists(),
        "clean removed a lock held open by a writer"
    );
}

/// Fix 4. Root without `CAP_LEASE` cannot take a lease on a file it does not own (the gateways'
/// user owns their locks), so "does anyone hold it open" cannot be asked. Under the units' old
/// capability set, a lock its live owner has held open for 2 h must be kept (its age alone says
/// `too-old`), and `clean` must say so: a line on stderr naming `CAP_LEASE`, exit 1.
#[test]
fn without_cap_lease_a_held_lock_of_a_live_owner_is_kept_and_the_run_says_so() {
    need_root();
    assert!(
        Command::new("setpriv")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success()),
        "setpriv (util-linux) is needed"
    );
    let tmp = tempfile::tempdir().unwrap();
    let (root, dir) = state(tmp.path(), "state");
    let path = dir.join("held.jsonl.lock");
    let owner = python("write", &path);
    fs::write(
        &path,
        starttime_payload(owner.pid(), 2 * HOUR, starttime_of(owner.pid())),
    )
    .unwrap();
    set_mtime(&path, 2 * HOUR);
    std::os::unix::fs::chown(&path, Some(1000), Some(1000)).unwrap();
    assert!(has_open(owner.pid(), &path));

    // The premise, checked: under that set, root's lease on this file is refused (EACCES).
    const LEASE: &str = "import fcntl,os,sys\nfd=os.open(sys.argv[1],os.O_RDONLY)\ntry:\n fcntl.fcntl(fd,1024,fcntl.F_WRLCK)\n print('granted')\nexcept OSError as e:\n print(e.errno)\n";
    let o = run(Command::new("setpriv")
        .args(UNITS_CAPS_WITHOUT_LEASE)
        .args(["--", PYTHON, "-c", LEASE])
        .arg(&path));
    assert_eq!(
        stdout(&o).trim(),
        nix::libc::EACCES.to_string(),
        "F_SETLEASE under the units' set: {}",
        stderr(&o)
    );

    // Sanity, as full root: the kernel says it is held.
    let r = scan(zaki(tmp.path()), &root);
    let l = lock(&r, &path);
    assert_eq!(l["owner_state"], "alive", "{l:#}");
    assert!(
        l["status"] == "held" || l["status"] == "wedged",
        "full root: {l:#}"
    );
    assert_eq!(l["held_open"], true, "{l:#}");

    // Without CAP_LEASE: not stale, kept, and loudly so.
    let r = scan(zaki_without_cap_lease(tmp.path()), &root);
    let l = lock(&r, &path);
    assert_eq!(l["stale"], false, "without CAP_LEASE: {l:#}");
    assert_ne!(l["status"], "stale", "without CAP_LEASE: {l:#}");

    let o = clean_text(zaki_without_cap_lease(tmp.path()), &root);
    let err = stderr(&o);
    assert!(
        path.exists(),
        "clean removed a lock held open by its live owner:\n{}{err}",
        stdout(&o)
    );
    assert!(
        err.lines().any(|l| l.contains("CAP_LEASE")),
        "no stderr line names CAP_LEASE:\n{err}"
    );
    assert_eq!(o.status.code(), Some(1), "{}{err}", stdout(&o));
    drop(owner);
}
