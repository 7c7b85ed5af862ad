//! `scan` and `clean` on real trees with real owner processes, through the real binary.

use crate::common;

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;

/// A state dir with one sessions dir, in a temp dir that also holds the run lock.
struct Fixture {
    tmp: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        Fixture {
            tmp: tempfile::tempdir().unwrap(),
        }
    }
    fn root(&self) -> PathBuf {
        self.tmp.path().join("state")
    }
    fn sessions(&self) -> PathBuf {
        let d = self.root().join("agents/main/sessions");
        fs::create_dir_all(&d).unwrap();
        d
    }
    fn lock(&self, name: &str, body: &str) -> PathBuf {
        let p = self.sessions().join(name);
        fs::write(&p, body).unwrap();
        p
    }
    fn cmd(&self, args: &[&str]) -> std::process::Command {
        let mut c = zaki(self.tmp.path());
        // Host places only: containers are tests/containers.rs's business.
        c.args(args)
            .arg("--no-containers")
            .arg("--root")
            .arg(self.root());
        c
    }
    fn scan(&self) -> serde_json::Value {
        let o = run(self.cmd(&["scan", "--format", "json"]));
        assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
        json(&o)
    }
}

fn exists(p: &Path) -> bool {
    fs::symlink_metadata(p).is_ok()
}

#[test]
fn every_owner_state_is_judged_and_only_stale_locks_are_removed() {
    let f = Fixture::new();
    let live = Proc::sleep();
    let zombie = Zombie::new();
    let thread = Thread::new();
    let dead = dead_pid();
    // Created 10 s before its "owner" started: the pid was recycled.
    let recycled_payload = legacy_payload(0, Duration::from_secs(10));
    let recycled = Proc::sleep();
    let recycled_payload =
        recycled_payload.replace("\"pid\": 0", &format!("\"pid\": {}", recycled.pid()));

    fs::write(
        f.sessions().join("sessions.json"),
        r#"{"agent:main:openai-user:42":{"sessionId":"live"}}"#,
    )
    .unwrap();
    let z = Duration::ZERO;
    let locks = [
        (
            "live.jsonl.lock",
            legacy_payload(live.pid(), z),
            false,
            "alive",
            vec![],
        ),
        (
            "live-st.jsonl.lock",
            starttime_payload(live.pid(), z, starttime_of(live.pid())),
            false,
            "alive",
            vec![],
        ),
        (
            "sessions.json.lock",
            legacy_payload(live.pid(), z),
            false,
            "alive",
            vec![],
        ),
        (
            "dead.jsonl.lock",
            legacy_payload(dead, z),
            true,
            "dead",
            vec!["dead-pid"],
        ),
        (
            "zombie.jsonl.lock",
            legacy_payload(zombie.pid(), z),
            true,
            "zombie",
            vec!["dead-pid"],
        ),
        (
            "thread.jsonl.lock",
            legacy_payload(thread.tid, z),
            true,
            "thread",
            vec!["dead-pid"],
        ),
        (
            "recycled.jsonl.lock",
            recycled_payload,
            true,
            "recycled",
            vec!["recycled-pid"],
        ),
        (
            "wrong-st.jsonl.lock",
            starttime_payload(live.pid(), z, starttime_of(live.pid()) + 7),
            true,
            "recycled",
            vec!["recycled-pid"],
        ),
        (
            "old.jsonl.lock",
            // This test process started well after: recycled as well as too old.
            legacy_payload(std::process::id(), 31 * MIN),
            true,
            "recycled",
            vec!["recycled-pid", "too-old"],
        ),
        (
            "empty.jsonl.lock",
            String::new(),
            false,
            "none",
            vec!["missing-pid", "invalid-createdAt"],
        ),
        (
            "torn.jsonl.lock",
            "{\n  \"pid\": 4".into(),
            false,
            "none",
            vec!["missing-pid", "invalid-createdAt"],
        ),
    ];
    for (name, body, ..) in &locks {
        f.lock(name, body);
    }
    let report = f.scan();
    let seen = by_name(&report);
    assert_eq!(seen.len(), locks.len(), "{report:#}");
    for (name, _, stale, owner, reasons) in &locks {
        let l = &seen[*name];
        assert_eq!(l["stale"], *stale, "{name}: {l:#}");
        assert_eq!(l["owner_state"], *owner, "{name}: {l:#}");
        assert_eq!(l["reasons"], serde_json::json!(reasons), "{name}: {l:#}");
        assert_eq!(l["action"], "kept", "{name}");
    }
    assert_eq!(
        seen["live.jsonl.lock"]["session_key"],
        "agent:main:openai-user:42"
    );
    assert_eq!(seen["live.jsonl.lock"]["owner_name"], "sleep");
    assert_eq!(seen["sessions.json.lock"]["kind"], "store");
    assert!(
        seen["empty.jsonl.lock"]["note"]
            .as_str()
            .unwrap()
            .contains("being created")
    );

    // Dry run removes nothing.
    let o = run(f.cmd(&["clean", "--dry-run", "--log-format", "human"]));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        stdout(&o).matches("would remove ").count(),
        6,
        "{}",
        stdout(&o)
    );
    for (name, ..) in &locks {
        assert!(exists(&f.sessions().join(name)), "dry run removed {name}");
    }

    let o = run(f.cmd(&["clean", "--log-format", "human"]));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("removed ") && out.contains("[dead-pid]"),
        "{out}"
    );
    assert!(
        out.contains(&format!("\"pid\": {dead}")),
        "removal logs the content: {out}"
    );
    for (name, _, stale, ..) in &locks {
        assert_eq!(
            exists(&f.sessions().join(name)),
            !stale,
            "{name} after clean:\n{out}"
        );
    }
    drop((live, zombie, thread, recycled));
}

#[test]
fn old_empty_and_malformed_locks_are_removed_after_the_mtime_threshold() {
    let f = Fixture::new();
    let empty = f.lock("empty.jsonl.lock", "");
    let junk = f.lock("junk.jsonl.lock", "\u{0}\u{1}not json");
    let fresh = f.lock("fresh.jsonl.lock", "");
    set_mtime(&empty, 31 * MIN);
    set_mtime(&junk, 31 * MIN);
    let o = run(f.cmd(&["clean"]));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(!exists(&empty) && !exists(&junk), "{}", stdout(&o));
    assert!(exists(&fresh));

    // --older-than moves the threshold for both createdAt and mtime.
    set_mtime(&fresh, 3 * MIN);
    let o = run(f.cmd(&["clean", "--older-than", "2m", "--allow-short-threshold"]));
    assert_eq!(o.status.code(), Some(0));
    assert!(!exists(&fresh));
}

#[test]
fn nothing_but_session_locks_is_touched_and_no_symlink_is_followed() {
    let f = Fixture::new();
    let dead = dead_pid();
    let stale = legacy_payload(dead, Duration::ZERO);
    let outside = f.tmp.path().join("outside");
    fs::create_dir_all(&outside).unwrap();
    let target = outside.join("target.jsonl.lock");
    fs::write(&target, &stale).unwrap();

    // A planted symlink with a lock's name, pointing at a stale-looking lock elsewhere.
    let planted = f.sessions().join("planted.jsonl.lock");
    symlink(&target, &planted).unwrap();
    // Other names and other places, all with stale payloads.
    let decoys = [
        f.lock("notes.lock", &stale),
        f.lock("x.jsonl.lock.bak", &stale),
        f.lock("sessions.json", &stale),
        f.lock(".jsonl.lock", &stale),
    ];
    let nested = f.sessions().join("archive");
    fs::create_dir_all(&nested).unwrap();
    fs::write(nested.join("old.jsonl.lock"), &stale).unwrap();
    let ws = f.root().join("workspace");
    fs::create_dir_all(&ws).unwrap();
    fs::write(ws.join("w.jsonl.lock"), &stale).unwrap();
    // A second agent whose sessions dir is a symlink out of the tree.
    fs::create_dir_all(f.root().join("agents/evil")).unwrap();
    symlink(&outside, f.root().join("agents/evil/sessions")).unwrap();
    // A real stale lock, to show the run did work.
    let real = f.lock("real.jsonl.lock", &stale);

    let o = run(f.cmd(&["clean", "--format", "json"]));
    let report = json(&o);
    // The symlinked sessions dir is reported (exit 1) and not followed.
    assert_eq!(o.status.code(), Some(1), "{report:#}");
    assert!(
        stderr(&o).contains("agents/evil/sessions: is a symlink: not followed"),
        "{}",
        stderr(&o)
    );
    let seen = by_name(&report);
    assert_eq!(
        seen.keys().collect::<Vec<_>>(),
        ["planted.jsonl.lock", "real.jsonl.lock"]
    );
    assert_eq!(seen["planted.jsonl.lock"]["action"], "skipped");
    assert_eq!(seen["real.jsonl.lock"]["action"], "removed");
    assert!(!exists(&real));
    assert!(
        exists(&planted) && exists(&target),
        "symlink or its target touched"
    );
    for d in decoys {
        assert!(exists(&d), "{} touched", d.display());
    }
    assert!(exists(&nested.join("old.jsonl.lock")) && exists(&ws.join("w.jsonl.lock")));
}

#[test]
fn bind_mounted_user_locks_are_judged_unknown_not_by_host_pids() {
    let tmp = tempfile::tempdir().unwrap();
    let users = tmp.path().join("users");
    let dir = users.join("user-42/.openclaw/agents/main/sessions");
    fs::create_dir_all(&dir).unwrap();
    let dead = dead_pid();
    // Dead on the host, but the pid is the container's: must be kept.
    let held = dir.join("held.jsonl.lock");
    fs::write(&held, legacy_payload(dead, Duration::ZERO)).unwrap();
    // Too old is too old in any namespace.
    let old = dir.join("old.jsonl.lock");
    fs::write(&old, legacy_payload(dead, 2 * 30 * MIN)).unwrap();
    // Without Docker's word on which container mounts it (tests/containers.rs has that).
    let o = run(zaki(tmp.path())
        .arg("clean")
        .arg("--no-containers")
        .arg("--users-dir")
        .arg(&users)
        .arg("--format")
        .arg("json"));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let seen = by_name(&json(&o));
    assert_eq!(seen["held.jsonl.lock"]["owner_state"], "unknown");
    assert_eq!(seen["held.jsonl.lock"]["stale"], false);
    assert_eq!(
        seen["old.jsonl.lock"]["reasons"],
        serde_json::json!(["too-old"])
    );
    assert!(exists(&held));
    assert!(!exists(&old));
}

#[test]
fn fail_on_stale_and_stale_only() {
    let f = Fixture::new();
    let live = Proc::sleep();
    f.lock(
        "live.jsonl.lock",
        &legacy_payload(live.pid(), Duration::ZERO),
    );
    let o = run(f.cmd(&["scan", "--fail-on-stale"]));
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    f.lock(
        "dead.jsonl.lock",
        &legacy_payload(dead_pid(), Duration::ZERO),
    );
    let o = run(f.cmd(&["scan", "--fail-on-stale"]));
    assert_eq!(o.status.code(), Some(3), "{}", stdout(&o));
    let o = run(f.cmd(&["scan", "--stale-only", "--format", "json"]));
    let seen = by_name(&json(&o));
    assert_eq!(seen.keys().collect::<Vec<_>>(), ["dead.jsonl.lock"]);
    // The table names both, with their state: the live owner's lock, which it does not hold
    // open, is `unheld` (not yet stale: written within the no-holder grace).
    let o = run(f.cmd(&["scan", "--format", "tsv"]));
    let out = stdout(&o);
    assert!(
        out.contains("dead-pid")
            && out
                .lines()
                .any(|l| l.contains("\tunheld\t") && l.contains("\tsleep\t")),
        "{out}"
    );
    assert!(out.contains("2 locks in 1 place: 1 stale, 1 held"), "{out}");
}

#[test]
fn json_schema_fields_are_present() {
    let f = Fixture::new();
    f.lock("a.jsonl.lock", &legacy_payload(dead_pid(), 5 * MIN));
    let r = f.scan();
    for key in [
        "version",
        "command",
        "generated_at",
        "older_than_seconds",
        "summary",
        "locks",
        "errors",
    ] {
        assert!(r.get(key).is_some(), "missing {key}: {r:#}");
    }
    assert_eq!(r["version"], 1);
    assert_eq!(r["older_than_seconds"], 1800);
    let l = &r["locks"][0];
    for key in [
        "location",
        "path",
        "host_path",
        "agent",
        "kind",
        "session_id",
        "session_key",
        "pid",
        "owner_state",
        "owner_name",
        "created_at",
        "age_seconds",
        "mtime",
        "size",
        "starttime",
        "max_hold_ms",
        "stale",
        "reasons",
        "action",
        "note",
        "content",
    ] {
        assert!(l.get(key).is_some(), "missing lock field {key}: {l:#}");
    }
    assert_eq!(l["location"], "host");
    assert_eq!(l["agent"], "main");
    assert_eq!(l["session_id"], "a");
    let age = l["age_seconds"].as_i64().unwrap();
    assert!((299..=310).contains(&age), "age {age}");
}

#[test]
fn bad_input_is_one_line_and_an_exit_code() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("nope");
    // Host only: an engine that is down (a stale socket) is a second, rightful error line.
    let o = run(zaki(tmp.path())
        .args(["scan", "--no-containers", "--root"])
        .arg(&missing));
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("does not exist") && err.contains(missing.to_str().unwrap()),
        "{err}"
    );

    let o = run(zaki(tmp.path()).args(["scan", "--older-than", "soon"]));
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("write a duration such as 30m"),
        "{}",
        stderr(&o)
    );

    let o = run(zaki(tmp.path()).args(["frobnicate"]));
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn a_missing_default_place_is_skipped_silently() {
    // Run from an empty HOME-like environment: the defaults (/root/.openclaw,
    // /var/zaki-platform/users) may or may not exist here, but the run must not fail on them.
    let tmp = tempfile::tempdir().unwrap();
    let o = run(zaki(tmp.path()).args(["scan", "--no-containers", "--format", "json"]));
    let r = json(&o);
    for e in r["errors"].as_array().unwrap() {
        assert!(
            !e["message"].as_str().unwrap().contains("does not exist"),
            "{r:#}"
        );
    }
}

#[test]
fn openclaw_state_dir_env_is_a_default_place() {
    let f = Fixture::new();
    f.lock("a.jsonl.lock", &legacy_payload(dead_pid(), Duration::ZERO));
    let mut c = zaki(f.tmp.path());
    c.args(["scan", "--format", "json"])
        .env("OPENCLAW_STATE_DIR", f.root());
    let r = json(&run(&mut c));
    assert!(by_name(&r).contains_key("a.jsonl.lock"), "{r:#}");
}

#[test]
fn an_overlapping_clean_steps_aside() {
    let f = Fixture::new();
    let dead = f.lock(
        "dead.jsonl.lock",
        &legacy_payload(dead_pid(), Duration::ZERO),
    );
    let run_lock = fs::File::create(f.tmp.path().join("run.lock")).unwrap();
    let held =
        nix::fcntl::Flock::lock(run_lock, nix::fcntl::FlockArg::LockExclusiveNonblock).unwrap();
    let started = std::time::Instant::now();
    let o = run(f.cmd(&["clean", "--wait", "1s"]));
    assert_eq!(o.status.code(), Some(0));
    assert!(started.elapsed() >= Duration::from_millis(900));
    assert!(stderr(&o).contains("stepped aside"), "{}", stderr(&o));
    assert!(exists(&dead), "a run that stepped aside removed something");
    // Quiet: nothing at all.
    let o = run(f.cmd(&["clean", "--wait", "0s", "--quiet"]));
    assert_eq!(
        (o.status.code(), o.stdout.len(), o.stderr.len()),
        (Some(0), 0, 0)
    );
    drop(held);
    let o = run(f.cmd(&["clean"]));
    assert_eq!(o.status.code(), Some(0));
    assert!(!exists(&dead));
}

#[test]
fn quiet_prints_only_removals() {
    let f = Fixture::new();
    let live = Proc::sleep();
    f.lock(
        "live.jsonl.lock",
        &legacy_payload(live.pid(), Duration::ZERO),
    );
    let o = run(f.cmd(&["clean", "--quiet"]));
    assert_eq!((o.status.code(), stdout(&o).as_str()), (Some(0), ""));
    f.lock(
        "dead.jsonl.lock",
        &legacy_payload(dead_pid(), Duration::ZERO),
    );
    let o = run(f.cmd(&["clean", "--quiet", "--log-format", "human"]));
    let out = stdout(&o);
    assert!(
        out.starts_with("removed ") && out.contains("dead.jsonl.lock"),
        "{out}"
    );
    assert!(!out.contains("live.jsonl.lock"), "{out}");
}

#[test]
fn unreadable_sessions_dir_is_reported_and_the_rest_is_done() {
    require_root("it runs the binary as another user");
    // As root, permissions do not stop a read; run the binary as nobody instead.
    let f = Fixture::new();
    fs::set_permissions(
        f.tmp.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o1777),
    )
    .unwrap();
    let a = f.root().join("agents/a/sessions");
    let b = f.root().join("agents/b/sessions");
    fs::create_dir_all(&a).unwrap();
    fs::create_dir_all(&b).unwrap();
    fs::write(
        b.join("x.jsonl.lock"),
        legacy_payload(dead_pid(), Duration::ZERO),
    )
    .unwrap();
    for p in [
        f.root(),
        f.root().join("agents"),
        f.root().join("agents/a"),
        f.root().join("agents/b"),
        b.clone(),
    ] {
        fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    }
    fs::set_permissions(&a, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    fs::set_permissions(
        b.join("x.jsonl.lock"),
        std::os::unix::fs::PermissionsExt::from_mode(0o666),
    )
    .unwrap();
    // Its own file: an unprivileged run may ask the holder check on it (on another uid's file
    // the kernel refuses without CAP_LEASE, and the lock would be kept).
    std::os::unix::fs::chown(b.join("x.jsonl.lock"), Some(65534), Some(65534)).unwrap();
    let mut c = zaki(f.tmp.path());
    c.arg("clean")
        .arg("--no-containers")
        .args(["--log-format", "human"])
        .arg("--root")
        .arg(f.root())
        .arg("--run-lock")
        .arg(f.tmp.path().join("nobody.lock"));
    std::os::unix::process::CommandExt::uid(&mut c, 65534);
    std::os::unix::process::CommandExt::gid(&mut c, 65534);
    let o = run(&mut c);
    assert_eq!(o.status.code(), Some(1), "{}\n{}", stdout(&o), stderr(&o));
    assert!(
        stderr(&o).contains("agents/a/sessions: cannot read"),
        "{}",
        stderr(&o)
    );
    assert!(
        !exists(&b.join("x.jsonl.lock")),
        "the readable dir was not cleaned"
    );
}

#[test]
fn logs_are_key_value_lines_with_a_timestamp_when_not_on_a_terminal() {
    let f = Fixture::new();
    let dead = dead_pid();
    f.lock("dead.jsonl.lock", &legacy_payload(dead, Duration::ZERO));
    // stdout is a pipe here: the default is one key=value line per action.
    let o = run(f.cmd(&["clean", "--dry-run"]));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(
        lines[0].starts_with("ts=20") && lines[0].contains(" action=would-remove "),
        "{out}"
    );
    assert!(
        lines[0].contains(&format!(" pid={dead} ")) && lines[0].contains(" reasons=dead-pid "),
        "{out}"
    );
    assert!(lines[0].contains(r#"content="{ \"pid\": "#), "{out}");
    assert!(
        lines[1].contains(" action=summary command=clean dry_run=true "),
        "{out}"
    );
    // --log-format json: one JSON object per line, with the record's fields.
    let o = run(f.cmd(&["clean", "--log-format", "json"]));
    let out = stdout(&o);
    let first: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(first["action"], "removed");
    assert_eq!(first["reasons"], serde_json::json!(["dead-pid"]));
    assert!(first["ts"].as_str().unwrap().ends_with('Z'));
    let last: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    assert_eq!(
        (last["action"].as_str(), last["removed"].as_u64()),
        (Some("summary"), Some(1))
    );
}
