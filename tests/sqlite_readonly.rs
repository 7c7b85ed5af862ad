//! Reading SQLite-era state dirs (OpenClaw 2026.8+) without writing a byte and without
//! following a symlink, on real SQLite databases in WAL mode held open by a real writer process
//! (python3's sqlite3), with the tables and columns OpenClaw 2026.9.6 has (the real gateway is
//! in `openclaw_eras.rs`; these cases cannot be provoked on it safely).

use crate::common;

use std::os::unix::fs::symlink;
use std::path::Path;
use std::time::Duration;

use common::sqlite::*;
use common::watch::Watch;
use common::*;

fn scan(tmp: &Path, state: &Path) -> (serde_json::Value, Option<i32>) {
    let o = run(zaki(tmp)
        .args(["scan", "--no-containers", "--format", "json", "--root"])
        .arg(state));
    (json(&o), o.status.code())
}

#[test]
fn a_live_wal_is_read_from_a_private_copy_and_nothing_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join(".openclaw");
    let (_owner, owner) = live_owner();
    let _writer = databases(&state, owner, true);
    for f in ["state/openclaw.sqlite-wal", "state/openclaw.sqlite-shm"] {
        assert!(state.join(f).exists(), "{f}: the writer keeps its WAL");
    }
    let before = files(&state);
    let (r, code) = scan(tmp.path(), &state);
    let o = run(zaki(tmp.path())
        .args(["scan", "--no-containers", "--fail-on-stale", "--root"])
        .arg(&state));
    assert_eq!(files(&state), before, "a read-only scan changed a file");

    assert_eq!(code, Some(0), "{r:#}");
    let p = &r["places"][0];
    assert_eq!(p["era"], "sqlite");
    assert_eq!(p["version"], "2026.9.6", "read from the WAL: {p:#}");
    assert_eq!(p["gateway"]["liveness"], "alive", "{p:#}");
    assert_eq!(p["gateway"]["pid"], owner.0);
    assert_eq!(p["unclean_boots"], 1, "{p:#}");
    let s = &p["sessions"][0];
    assert_eq!(s["state"], "orphan", "{p:#}");
    assert_eq!(s["reasons"], serde_json::json!(["no-running-turn"]));
    assert_eq!(r["summary"]["orphan_claims"], 1);
    assert_eq!(o.status.code(), Some(3), "{}", stdout(&o));
}

#[test]
fn a_dead_owner_makes_the_claim_an_orphan_of_a_gone_gateway() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join(".openclaw");
    let (mut owner_proc, owner) = live_owner();
    let _ = owner_proc.kill();
    let _ = owner_proc.wait();
    let _writer = databases(&state, owner, true);
    let (r, _) = scan(tmp.path(), &state);
    let p = &r["places"][0];
    assert_eq!(p["gateway"]["liveness"], "gone", "{p:#}");
    let reasons = p["sessions"][0]["reasons"].as_array().unwrap();
    assert!(reasons.iter().any(|x| x == "gateway-gone"), "{p:#}");
}

#[test]
fn a_closed_database_is_read_without_creating_its_wal() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join(".openclaw");
    let (_owner, owner) = live_owner();
    databases(&state, owner, false);
    assert!(!state.join("state/openclaw.sqlite-wal").exists());
    let before = files(&state);
    let (r, code) = scan(tmp.path(), &state);
    assert_eq!(files(&state), before, "a -wal or -shm was created");
    assert_eq!(code, Some(0), "{r:#}");
    assert_eq!(r["places"][0]["sessions"][0]["state"], "orphan", "{r:#}");

    // A -wal without its -shm (a crash image): read from the private copy, where SQLite builds
    // its own -shm; none appears in the tenant's dir.
    std::fs::write(state.join("state/openclaw.sqlite-wal"), b"").unwrap();
    let before = files(&state);
    let (r, code) = scan(tmp.path(), &state);
    assert_eq!(files(&state), before);
    assert!(!state.join("state/openclaw.sqlite-shm").exists());
    assert_eq!(code, Some(0), "{r:#}");
    assert_eq!(r["places"][0]["sessions"][0]["state"], "orphan", "{r:#}");
}

#[test]
fn symlinks_are_never_followed_to_a_database() {
    let tmp = tempfile::tempdir().unwrap();
    let (_owner, owner) = live_owner();
    // The target: a real database elsewhere, with an orphan claim.
    let elsewhere = tmp.path().join("elsewhere");
    databases(&elsewhere, owner, false);

    // `state` and `agents/main/agent` are symlinks to it.
    let a = tmp.path().join("a/.openclaw");
    std::fs::create_dir_all(a.join("agents/main")).unwrap();
    symlink(elsewhere.join("state"), a.join("state")).unwrap();
    symlink(
        elsewhere.join("agents/main/agent"),
        a.join("agents/main/agent"),
    )
    .unwrap();
    let (r, _) = scan(tmp.path(), &a);
    let p = &r["places"][0];
    assert_eq!(r["summary"]["orphan_claims"], 0, "{p:#}");
    assert!(p["sessions"].as_array().unwrap().is_empty());
    let e = p["error"].as_str().unwrap_or_default();
    assert!(e.contains("state: a symlink"), "{p:#}");

    // The database file itself, and its -wal, as symlinks: refused before SQLite sees them.
    for (file, what) in [
        ("openclaw.sqlite", "state/openclaw.sqlite"),
        ("openclaw.sqlite-wal", "state/openclaw.sqlite-wal"),
    ] {
        let b = tmp.path().join(format!("b-{file}/.openclaw"));
        std::fs::create_dir_all(b.join("state")).unwrap();
        std::fs::create_dir_all(b.join("agents/main/agent")).unwrap();
        for f in ["openclaw.sqlite", "openclaw.sqlite-wal"] {
            if f == file {
                symlink(
                    elsewhere.join("state").join("openclaw.sqlite"),
                    b.join("state").join(f),
                )
                .unwrap();
            }
        }
        if file != "openclaw.sqlite" {
            std::fs::copy(
                elsewhere.join("state/openclaw.sqlite"),
                b.join("state/openclaw.sqlite"),
            )
            .unwrap();
        }
        std::fs::copy(
            elsewhere.join("agents/main/agent/openclaw-agent.sqlite"),
            b.join("agents/main/agent/openclaw-agent.sqlite"),
        )
        .unwrap();
        let (r, code) = scan(tmp.path(), &b);
        let p = &r["places"][0];
        assert_eq!(r["summary"]["orphan_claims"], 0, "{file}: {p:#}");
        assert_eq!(code, Some(1), "{file}: {p:#}");
        let e = p["error"].as_str().unwrap_or_default();
        assert!(
            e.contains(what) && e.contains("not a regular file"),
            "{file}: {e}"
        );
    }
}

/// A busybox container standing in for a gateway: its pid 1 (which owns the lease) has
/// `openclaw-gateway` in its command line and exits on SIGTERM, its state dir bind-mounted.
fn gateway_like(name: &str, state: &Path) -> common::docker::Container {
    common::docker::Container::run(
        name,
        &["-v", &common::docker::bind(state, "/home/node/.openclaw")],
        common::docker::BUSYBOX,
        &[
            "sh",
            "-c",
            "trap 'exit 0' TERM; sleep 100000 & wait",
            "openclaw-gateway",
        ],
    )
}

/// `watch --restart-orphaned` restarts exactly the container whose gateway holds an orphan
/// claim: two busybox containers stand in for gateways (their pid 1 owns the lease), each with
/// a bind-mounted state dir whose live databases a host writer keeps open.
#[test]
fn watch_restarts_exactly_the_container_with_an_orphan_claim() {
    use common::docker::{self, Container, unique};
    docker::require();
    let tmp = tempfile::tempdir().unwrap();
    let prefix = unique("zk14w-");
    let mut writers = Vec::new();
    let mut containers = Vec::new();
    for (user, running) in [("a", false), ("b", true)] {
        let state = tmp.path().join(format!("users/user-{user}/.openclaw"));
        std::fs::create_dir_all(&state).unwrap();
        let c = gateway_like(&format!("{prefix}{user}"), &state);
        writers.push(databases_with(&state, (1, c.starttime(1)), true, running));
        containers.push(c);
    }
    let started = |c: &Container| {
        let o = docker::docker(&["inspect", "-f", "{{.State.StartedAt}}", &c.name]);
        String::from_utf8_lossy(&o.stdout).trim().to_owned()
    };
    let before: Vec<String> = containers.iter().map(started).collect();

    let watch = Watch::start(
        tmp.path(),
        &[
            "--no-host",
            "--prefix",
            &prefix,
            "--interval",
            "1h",
            "--restart-orphaned",
            "--restart-min-uptime",
            "0s",
        ],
    );
    let mut log = vec![watch.wait_for(&["action=restarted"], Duration::from_secs(60))];
    // The restart's own start event brings one more pass: let it run, then stop watch.
    log.extend(watch.lines_for(Duration::from_secs(3)));
    assert_eq!(watch.stop(), 0, "{}", log.join("\n"));
    let log = log.join("\n");
    let restarted: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("action=restarted"))
        .collect();
    assert_eq!(restarted.len(), 1, "{log}");
    assert!(
        restarted[0].contains(&format!("location=container:{prefix}a"))
            && restarted[0].contains("sessions=agent:main:openai-user:7"),
        "{log}"
    );
    assert_ne!(
        started(&containers[0]),
        before[0],
        "a was not restarted:\n{log}"
    );
    assert_eq!(
        started(&containers[1]),
        before[1],
        "b was restarted:\n{log}"
    );
    drop(writers);
}

/// `clean --restart-orphaned` restarts only what it has earned, within its budget: a container
/// with no OpenClaw in it (a planted claim, a pid 1 that ignores SIGTERM) is never restarted and
/// says why; of two gateway-like containers one is restarted and one deferred (`--restart-max
/// 1`); a claim back after our restart (planted again) is not restarted again but backed off,
/// remembered across runs in the run-state dir; every run stays short.
#[test]
fn restarts_are_earned_bounded_and_backed_off() {
    use common::docker::{self, Container, bind, unique};
    docker::require();
    let tmp = tempfile::tempdir().unwrap();
    let prefix = unique("zk20r-");
    let state = |u: &str| tmp.path().join(format!("users/user-{u}/.openclaw"));
    let mut writers = std::collections::BTreeMap::new();
    let mut containers = std::collections::BTreeMap::new();
    for u in ["a", "b", "n"] {
        std::fs::create_dir_all(state(u)).unwrap();
        let name = format!("{prefix}{u}");
        let c = if u == "n" {
            // No OpenClaw: a shell ignoring SIGTERM (a restart would wait 10 s for it).
            Container::run(
                &name,
                &["-v", &bind(&state(u), "/home/node/.openclaw")],
                docker::BUSYBOX,
                &["sh", "-c", "trap '' TERM; while :; do sleep 1; done"],
            )
        } else {
            gateway_like(&name, &state(u))
        };
        let st = c.starttime(1);
        writers.insert(u, databases_with(&state(u), (1, st), true, false));
        containers.insert(u, c);
    }
    let started = |u: &str| {
        let o = docker::docker(&["inspect", "-f", "{{.State.StartedAt}}", &containers[u].name]);
        String::from_utf8_lossy(&o.stdout).trim().to_owned()
    };
    let before: std::collections::BTreeMap<&str, String> = ["a", "b", "n"]
        .into_iter()
        .map(|u| (u, started(u)))
        .collect();
    let clean = || {
        let t = std::time::Instant::now();
        let o = run(zaki(tmp.path()).args([
            "clean",
            "--no-host",
            "--prefix",
            &prefix,
            "--restart-orphaned",
            "--restart-min-uptime",
            "0s",
            "--restart-max",
            "1",
            "--log-format",
            "kv",
        ]));
        let took = t.elapsed();
        assert_eq!(o.status.code(), Some(0), "{}\n{}", stdout(&o), stderr(&o));
        let lines: Vec<String> = stdout(&o).lines().map(str::to_owned).collect();
        let action = |u: &str| {
            let at = format!("location=container:{prefix}{u} ");
            lines
                .iter()
                .find(|l| l.contains(&at) && l.contains("reason=orphan-claim"))
                .unwrap_or_else(|| panic!("no line for {u}: {lines:#?}"))
                .clone()
        };
        let got: std::collections::BTreeMap<&str, String> = ["a", "b", "n"]
            .into_iter()
            .map(|u| (u, action(u)))
            .collect();
        eprintln!(
            "clean --restart-orphaned took {took:?}:\n{}",
            lines.join("\n")
        );
        assert!(took < Duration::from_secs(20), "{took:?}");
        got
    };

    // Run 1: n unearned (not OpenClaw), one of a and b restarted, the other deferred.
    let r1 = clean();
    assert!(
        r1["n"].contains("action=unearned") && r1["n"].contains("not an OpenClaw process"),
        "{}",
        r1["n"]
    );
    let (first, second) = if r1["a"].contains("action=restarted") {
        ("a", "b")
    } else {
        ("b", "a")
    };
    assert!(r1[first].contains("action=restarted"), "{r1:#?}");
    assert!(r1[second].contains("action=deferred"), "{r1:#?}");
    assert_ne!(started(first), before[first]);
    assert_eq!(started(second), before[second]);
    assert!(tmp.path().join("zaki-locks-restarts.json").exists());

    // The claim is back right after the restart, its lease now naming the new pid 1.
    drop(writers.remove(first));
    for f in ["state", "agents"] {
        std::fs::remove_dir_all(state(first).join(f)).unwrap();
    }
    let st = containers[first].starttime(1);
    writers.insert(first, databases_with(&state(first), (1, st), true, false));
    let restarted_at = started(first);

    // Run 2: the survivor is backed off; the deferred one gets its restart.
    let r2 = clean();
    assert!(r2[first].contains("action=survives-restart"), "{r2:#?}");
    assert!(r2[first].contains("128762"), "{}", r2[first]);
    assert!(r2[second].contains("action=restarted"), "{r2:#?}");
    assert!(r2["n"].contains("action=unearned"), "{r2:#?}");
    // Run 3: still backed off, remembered across runs.
    let r3 = clean();
    assert!(r3[first].contains("action=survives-restart"), "{r3:#?}");
    assert_eq!(started(first), restarted_at, "restarted again");
    assert_eq!(
        started("n"),
        before["n"],
        "the container without OpenClaw was restarted"
    );
    let m = prometheus(&stdout(&run(zaki(tmp.path()).args([
        "scan",
        "--no-host",
        "--prefix",
        &prefix,
        "--format",
        "prometheus",
    ]))));
    assert_eq!(
        // The survivor's and n's; the one restarted last has a gone gateway (its next start
        // clears the claim): not stuck.
        m["zaki_locks_stuck_sessions{command=scan,shape=orphan-claim}"],
        2.0,
        "{m:#?}"
    );
    drop(writers);
}
