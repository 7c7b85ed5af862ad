//! Issue 10: a lock is judged by who holds it open, not by what Docker says about containers.
//! Real processes hold real lock files open (as OpenClaw does for the whole hold), in real
//! containers on the real Docker engine: paused, created-only, restarting, mounted through a
//! symlink, and a sidecar mounting a parent dir. Each test keeps a live lock and removes a stale
//! one in the same place.

use crate::common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::docker::{self, Container, bind, unique};
use common::*;

const INSIDE: &str = "/home/node/.openclaw";
const SESSIONS: &str = "/home/node/.openclaw/agents/main/sessions";

fn clean_json(tmp: &Path, args: &[&str]) -> (Option<i32>, serde_json::Value) {
    let o = run(zaki(tmp).arg("clean").args(args).args(["--format", "json"]));
    let code = o.status.code();
    let r = json(&o);
    (code, r)
}

fn user_state(base: &Path, user: &str) -> PathBuf {
    let s = base.join(format!("user-{user}/.openclaw"));
    fs::create_dir_all(s.join("agents/main/sessions")).unwrap();
    s
}

/// In `c`, a process that creates `path` (inside the container), writes a payload naming its
/// own pid through the handle and keeps the handle open, as OpenClaw does. Returns that pid.
fn hold_inside(c: &Container, path: &str) -> u64 {
    let script = "mkdir -p \"${0%/*}\"; exec 3>\"$0\"; printf '{\\n  \"pid\": %s,\\n  \"createdAt\": \"%s\"\\n}' $$ \"$1\" >&3; exec sleep 100000";
    let o = docker::docker(&[
        "exec",
        "-d",
        &c.name,
        "sh",
        "-c",
        script,
        path,
        &created_at(Duration::ZERO),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let body = c.sh(&format!("cat {path} 2>/dev/null || true"));
        if let Some(pid) = body
            .split("\"pid\": ")
            .nth(1)
            .and_then(|r| r.split(',').next())
            .and_then(|p| p.trim().parse().ok())
        {
            return pid;
        }
        assert!(Instant::now() < deadline, "no holder in {}", c.name);
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A stale lock nobody holds: a dead pid, written a minute ago.
fn stale_lock(dir: &Path, name: &str) -> PathBuf {
    let p = dir.join(name);
    fs::write(&p, legacy_payload(dead_pid(), MIN)).unwrap();
    set_mtime(&p, MIN);
    p
}

fn lock<'a>(r: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    r["locks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["path"].as_str().unwrap().ends_with(name))
        .unwrap_or_else(|| panic!("{name} not reported: {r:#}"))
}

#[test]
fn a_leaked_lock_goes_after_the_grace_and_a_held_one_stays_forever() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("state");
    let dir = root.join("agents/main/sessions");
    fs::create_dir_all(&dir).unwrap();
    let leaked = dir.join("leaked.jsonl.lock");
    let held = dir.join("held.jsonl.lock");
    let fresh = dir.join("fresh.jsonl.lock");
    // A live process writes a payload naming itself and closes the file: it holds nothing.
    let spawn = |script: &str, path: &Path, ago: Duration| {
        let p = Proc::spawn(
            Command::new("sh")
                .args(["-c", script])
                .arg(path)
                .arg(created_at(ago))
                .stdin(Stdio::null()),
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        while fs::read(path).map_or(true, |b| b.is_empty()) {
            assert!(Instant::now() < deadline);
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(100));
        p
    };
    // 2026.3+ payloads (with the owner's starttime), so an old createdAt is still its own.
    let closes = "printf '{\"pid\": %s, \"createdAt\": \"%s\", \"starttime\": %s}' $$ \"$1\" $(cut -d' ' -f22 /proc/$$/stat) > \"$0\"; exec sleep 600";
    let keeps = "exec 3>\"$0\"; printf '{\"pid\": %s, \"createdAt\": \"%s\", \"starttime\": %s}' $$ \"$1\" $(cut -d' ' -f22 /proc/$$/stat) >&3; exec sleep 600";
    let leaker = spawn(closes, &leaked, 2 * 60 * MIN);
    let holder = spawn(keeps, &held, 2 * 60 * MIN);
    let young = spawn(closes, &fresh, Duration::ZERO);
    // Held by a process that is not the payload's (dead) pid, for two hours: wedged, and its
    // holder is found by looking at every process.
    let other = dir.join("other.jsonl.lock");
    let other_holder = Proc::holding(&other);
    fs::write(&other, legacy_payload(dead_pid(), 2 * 60 * MIN)).unwrap();
    set_mtime(&other, 2 * 60 * MIN);
    // Two hours old by payload and mtime, except the fresh one (mtime now: within the grace).
    set_mtime(&leaked, 2 * 60 * MIN);
    set_mtime(&held, 2 * 60 * MIN);

    let (code, r) = clean_json(
        tmp.path(),
        &["--no-containers", "--root", root.to_str().unwrap()],
    );
    assert_eq!(code, Some(0), "{r:#}");
    let l = lock(&r, "leaked.jsonl.lock");
    assert_eq!(l["action"], "removed", "{l:#}");
    assert_eq!(l["owner_state"], "alive");
    assert_eq!(l["visibility"], "complete");
    assert_eq!(l["held_open"], false);
    assert!(l["holders"].as_array().unwrap().is_empty());
    let reasons = l["reasons"].as_array().unwrap();
    assert!(
        reasons.contains(&"no-holder".into()) && reasons.contains(&"leaked".into()),
        "{l:#}"
    );
    assert!(!leaked.exists());

    let h = lock(&r, "held.jsonl.lock");
    assert_eq!(h["action"], "kept", "{h:#}");
    assert_eq!(h["stale"], false);
    assert_eq!(h["held_open"], true);
    assert_eq!(h["holders"][0]["host_pid"], holder.pid());
    assert_eq!(h["holders"][0]["comm"], "sleep");
    assert_eq!(h["wedged"], true, "held past the threshold: {h:#}");
    assert!(
        h["note"]
            .as_str()
            .unwrap()
            .contains(&format!("restart process {}", holder.pid()))
    );
    assert_eq!(r["summary"]["wedged"], 2);
    assert!(held.exists());

    let o = lock(&r, "other.jsonl.lock");
    assert_eq!(
        (o["action"].as_str(), o["wedged"].as_bool()),
        (Some("kept"), Some(true)),
        "{o:#}"
    );
    assert_eq!(o["owner_state"], "dead");
    assert_eq!(o["holders"][0]["host_pid"], other_holder.pid(), "{o:#}");
    let f = lock(&r, "fresh.jsonl.lock");
    assert_eq!(f["action"], "kept", "{f:#}");
    assert!(f["note"].as_str().unwrap().contains("no process holds it"));

    // `scan --fail-on-held` fails on a wedged lock; the table says so.
    let o = run(zaki(tmp.path())
        .args([
            "scan",
            "--no-containers",
            "--held-over",
            "1d",
            "--fail-on-held",
            "--root",
        ])
        .arg(&root));
    assert_eq!(o.status.code(), Some(3), "{}", stdout(&o));
    assert!(stdout(&o).contains("wedged"), "{}", stdout(&o));
    // The metrics count it.
    let o = run(zaki(tmp.path())
        .args([
            "scan",
            "--no-containers",
            "--format",
            "prometheus",
            "--root",
        ])
        .arg(&root));
    let m = prometheus(&stdout(&o));
    assert_eq!(m["zaki_locks_wedged_locks{command=scan}"], 2.0, "{m:?}");

    // Held forever: still kept on the next runs; once the holder is gone, it goes.
    let (_, r) = clean_json(
        tmp.path(),
        &["--no-containers", "--root", root.to_str().unwrap()],
    );
    assert_eq!(lock(&r, "held.jsonl.lock")["action"], "kept");
    drop(holder);
    let (_, r) = clean_json(
        tmp.path(),
        &["--no-containers", "--root", root.to_str().unwrap()],
    );
    assert_eq!(lock(&r, "held.jsonl.lock")["action"], "removed", "{r:#}");
    drop((leaker, young, other_holder));
}

#[test]
fn a_paused_containers_live_holder_keeps_its_lock() {
    docker::require();
    let tmp = tempfile::tempdir().unwrap();
    let users = tmp.path().join("users");
    let state = user_state(&users, "1");
    let c = Container::busybox(&unique("zt-pause-"), &["-v", &bind(&state, INSIDE)]);
    let pid = hold_inside(&c, &format!("{SESSIONS}/live.jsonl.lock"));
    let stale = stale_lock(&state.join("agents/main/sessions"), "stale.jsonl.lock");
    assert!(docker::docker(&["pause", &c.name]).status.success());
    let (code, r) = clean_json(
        tmp.path(),
        &[
            "--users-dir",
            users.to_str().unwrap(),
            "--container",
            &c.name,
        ],
    );
    assert!(docker::docker(&["unpause", &c.name]).status.success());
    assert_eq!(code, Some(0), "{r:#}");
    let live = lock(&r, "live.jsonl.lock");
    assert_eq!(live["action"], "kept", "{live:#}");
    assert_eq!(live["holders"][0]["ns_pid"], pid, "{live:#}");
    assert_eq!(live["holders"][0]["container"], c.name.as_str());
    assert_eq!(r["containers"][0]["state"], "paused");
    assert!(state.join("agents/main/sessions/live.jsonl.lock").exists());
    assert_eq!(lock(&r, "stale.jsonl.lock")["action"], "removed");
    assert!(!stale.exists());
    // The holder is still running after unpause.
    assert!(c.sh(&format!("cat /proc/{pid}/comm")).contains("sleep"));
}

#[test]
fn a_sidecar_mounting_a_parent_dir_decides_nothing() {
    docker::require();
    let tmp = tempfile::tempdir().unwrap();
    let users = tmp.path().join("users");
    let state = user_state(&users, "1");
    let prefix = unique("zt-side-");
    let gw = Container::busybox(&format!("{prefix}1"), &["-v", &bind(&state, INSIDE)]);
    let gw_pid = hold_inside(&gw, &format!("{SESSIONS}/live.jsonl.lock"));
    stale_lock(&state.join("agents/main/sessions"), "stale.jsonl.lock");
    // A host state dir with a live host process's lock and a stale one.
    let host_root = tmp.path().join("hostroot");
    let host_dir = host_root.join("agents/main/sessions");
    fs::create_dir_all(&host_dir).unwrap();
    let host_lock = host_dir.join("hostlive.jsonl.lock");
    let host_holder = Proc::holding(&host_lock);
    fs::write(
        &host_lock,
        legacy_payload(host_holder.pid(), Duration::ZERO),
    )
    .unwrap();
    set_mtime(&host_lock, MIN);
    stale_lock(&host_dir, "hoststale.jsonl.lock");
    // Sidecars listed after the gateway: one only created, mounting the whole tmp dir; one
    // running with the host's root mounted read-only (node-exporter's `-v /:/rootfs:ro`).
    let created = format!("{}-created", unique("zt-sidecar-"));
    let o = docker::docker(&[
        "create",
        "--network",
        "none",
        "--name",
        &created,
        "--label",
        &docker::run_label(),
        "-v",
        &format!("{}:/data:ro", tmp.path().display()),
        docker::BUSYBOX,
        "sleep",
        "100000",
    ]);
    assert!(o.status.success());
    let _created = Container {
        name: created.clone(),
        host: None,
    };
    let _rootfs = Container::busybox(&unique("zt-sidecar-"), &["-v", "/:/rootfs:ro"]);

    let (code, r) = clean_json(
        tmp.path(),
        &[
            "--users-dir",
            users.to_str().unwrap(),
            "--root",
            host_root.to_str().unwrap(),
            "--prefix",
            &prefix,
        ],
    );
    assert_eq!(code, Some(0), "{r:#}");
    let live = lock(&r, "/live.jsonl.lock");
    assert_eq!(live["action"], "kept", "{live:#}");
    assert_eq!(live["location"], format!("container:{}", gw.name));
    // Held open (the kernel says so); its owner pid is not judged in any namespace here
    // (ambiguous place), so the young lock's holder is not looked up by name.
    assert_eq!(live["held_open"], true, "{live:#}");
    assert_eq!(live["pid"], gw_pid);
    let hl = lock(&r, "hostlive.jsonl.lock");
    assert_eq!(hl["action"], "kept", "{hl:#}");
    assert_eq!(hl["location"], "host");
    assert_eq!(hl["holders"][0]["host_pid"], host_holder.pid());
    // The parent-dir mounts make both places ambiguous, and the report says so.
    assert!(hl["note"].as_str().unwrap().contains("ambiguous"), "{hl:#}");
    assert!(
        live["note"].as_str().unwrap_or("").contains("ambiguous"),
        "{live:#}"
    );
    for stale in ["/stale.jsonl.lock", "hoststale.jsonl.lock"] {
        assert_eq!(lock(&r, stale)["action"], "removed", "{r:#}");
    }
    assert!(host_lock.exists());
    assert!(state.join("agents/main/sessions/live.jsonl.lock").exists());
}

#[test]
fn a_mount_source_through_a_symlink_is_recognised() {
    docker::require();
    let tmp = tempfile::tempdir().unwrap();
    let real = tmp.path().join("real");
    let state = user_state(&real, "1");
    std::os::unix::fs::symlink(&real, tmp.path().join("link")).unwrap();
    let through_link = tmp.path().join("link/user-1/.openclaw");
    let gw = Container::busybox(&unique("zt-link-"), &["-v", &bind(&through_link, INSIDE)]);
    hold_inside(&gw, &format!("{SESSIONS}/live.jsonl.lock"));
    stale_lock(&state.join("agents/main/sessions"), "stale.jsonl.lock");
    // No container selected (the prefix matches none): the one that mounts the place through
    // the symlink is still found to own it. (`--container` of another container no longer
    // looks at this user's dir at all: see tests/container_scope.rs.)
    let (code, r) = clean_json(
        tmp.path(),
        &[
            "--users-dir",
            real.to_str().unwrap(),
            "--prefix",
            &unique("zt-none-"),
        ],
    );
    assert_eq!(code, Some(0), "{r:#}");
    let live = lock(&r, "live.jsonl.lock");
    assert_eq!(live["action"], "kept", "{live:#}");
    assert_eq!(
        live["location"],
        format!("container:{}", gw.name),
        "{live:#}"
    );
    assert_eq!(live["owner_state"], "alive", "{live:#}");
    assert_eq!(lock(&r, "stale.jsonl.lock")["action"], "removed");
    assert!(state.join("agents/main/sessions/live.jsonl.lock").exists());
}

/// A container that was exited when the run listed containers, and whose new process takes a
/// lock before the run reads it. Deterministic part: a process holds the lock in the exited
/// container's dir (the survey says nothing runs). Racing part: the container really restarts
/// during runs over 1,000 other user dirs; whether or not the race is hit, the live lock stays.
#[test]
fn a_container_restarting_during_a_run_keeps_its_new_lock() {
    docker::require();
    let tmp = tempfile::tempdir().unwrap();
    let users = tmp.path().join("users");
    for u in 0..1000 {
        let d = user_state(&users, &format!("9{u:04}"));
        fs::write(d.join("agents/main/sessions/sessions.json"), "{}").unwrap();
    }
    let state = user_state(&users, "1");
    let sessions = state.join("agents/main/sessions");
    let prefix = unique("zt-rst-");
    let name = format!("{prefix}1");
    let take = format!(
        "exec 3>{SESSIONS}/live.jsonl.lock; printf '{{\"pid\": %s, \"createdAt\": \"%s\"}}' $$ \"$(date -u +%Y-%m-%dT%H:%M:%S.000Z)\" >&3; exec sleep 100000"
    );
    let c = Container::run(
        &name,
        &["-v", &bind(&state, INSIDE)],
        docker::BUSYBOX,
        &["sh", "-c", &take],
    );
    let live = sessions.join("live.jsonl.lock");
    let wait_live = || {
        let deadline = Instant::now() + Duration::from_secs(20);
        while fs::read(&live).map_or(true, |b| b.is_empty()) {
            assert!(Instant::now() < deadline, "the container took no lock");
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    wait_live();
    c.stop();
    fs::remove_file(&live).unwrap();
    let args = |extra: &[&str]| {
        let mut a = vec![
            "--users-dir".to_owned(),
            users.display().to_string(),
            "--prefix".into(),
            prefix.clone(),
        ];
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };

    // Deterministic: the container is exited; a live process holds the new lock.
    let holder = Proc::holding(&live);
    fs::write(&live, legacy_payload(1, Duration::ZERO)).unwrap();
    let stale = stale_lock(&sessions, "stale.jsonl.lock");
    let a = args(&[]);
    let (code, r) = clean_json(
        tmp.path(),
        &a.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert_eq!(code, Some(0), "{r:#}");
    let l = lock(&r, "live.jsonl.lock");
    assert_eq!(l["action"], "kept", "{l:#}");
    // Held by a process other than the payload's pid, and young: held, not named (naming
    // every holder would cost a full /proc scan; a wedged one is named).
    assert_eq!(l["held_open"], true, "{l:#}");
    assert_eq!(lock(&r, "stale.jsonl.lock")["action"], "removed");
    assert!(live.exists() && !stale.exists());
    drop(holder);
    fs::remove_file(&live).unwrap();

    // Racing: `docker start` and the run at staggered offsets (the engine marks the container
    // running about when its process takes the lock), until a run reads the new lock while the
    // container list it read said `exited`; at most 8 rounds. Whatever the timing, the live
    // lock stays.
    let mut hit = 0;
    let mut rounds = 0;
    for delay_ms in [0u64, 40, 80, 120, 160, 200, 260, 320] {
        rounds += 1;
        let mut start = Proc::spawn(
            Command::new("docker")
                .args(["start", &name])
                .stdout(Stdio::null()),
        );
        std::thread::sleep(Duration::from_millis(delay_ms));
        let o = zaki(tmp.path())
            .arg("clean")
            .args(args(&["--format", "json"]))
            .output()
            .unwrap();
        assert!(start.wait().unwrap().success());
        wait_live();
        let r = json(&o);
        let state = r["containers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name.as_str())
            .map(|c| c["state"].as_str().unwrap_or("").to_owned());
        if let Some(l) = r["locks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["path"].as_str().unwrap().ends_with("live.jsonl.lock"))
        {
            assert_eq!(l["action"], "kept", "{l:#}");
            if state.as_deref() != Some("running") {
                hit += 1;
            }
        }
        assert!(
            live.exists(),
            "the live lock was removed (delay {delay_ms} ms)"
        );
        let a = args(&[]);
        let (_, r) = clean_json(
            tmp.path(),
            &a.iter().map(String::as_str).collect::<Vec<_>>(),
        );
        assert_eq!(lock(&r, "live.jsonl.lock")["action"], "kept", "{r:#}");
        c.stop();
        let _ = fs::remove_file(&live);
        if hit > 0 {
            break;
        }
    }
    eprintln!(
        "restart races in which the run read the new lock while it saw the container not running: {hit}/{rounds}"
    );
}
