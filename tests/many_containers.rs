//! The acceptance fleet: 200 busybox containers with two locks each (one live, one stale).
//! `clean --prefix` removes exactly the 200 stale ones and keeps the 200 live ones.

use crate::common;

use std::collections::BTreeMap;
use std::time::Instant;

use common::fleet::{Fleet, LIVE, SESSIONS, STALE};
use common::*;
use serde_json::Value;

const CONTAINERS: usize = 200;

/// Runs `zaki-locks ARGS --no-host --prefix P --format json` and checks it exited 0.
fn zaki_json(tmp: &std::path::Path, fleet: &Fleet, cmd: &str, extra: &[&str]) -> Value {
    let started = Instant::now();
    let o = run(zaki(tmp).arg(cmd).args(extra).args([
        "--no-host",
        "--prefix",
        &fleet.prefix,
        "--container-timeout",
        "60s",
        "--format",
        "json",
    ]));
    eprintln!(
        "{cmd} of {} containers: {:.2}s",
        fleet.len(),
        started.elapsed().as_secs_f64()
    );
    let r = json(&o);
    assert_eq!(o.status.code(), Some(0), "{}\n{r:#}", stderr(&o));
    assert_eq!(r["errors"], serde_json::json!([]), "{r:#}");
    r
}

/// The report's locks by container name, then by file name.
fn per_container(r: &Value) -> BTreeMap<String, BTreeMap<String, Value>> {
    let mut m: BTreeMap<String, BTreeMap<String, Value>> = BTreeMap::new();
    for l in r["locks"].as_array().expect("locks array") {
        let loc = l["location"].as_str().unwrap();
        let name = loc
            .strip_prefix("container:")
            .unwrap_or_else(|| panic!("a lock outside the containers: {l:#}"));
        let file = l["path"].as_str().unwrap().rsplit('/').next().unwrap();
        let prev = m
            .entry(name.to_owned())
            .or_default()
            .insert(file.to_owned(), l.clone());
        assert!(prev.is_none(), "{file} reported twice in {name}");
    }
    m
}

/// Every container of the fleet, and only those, was looked at (`observed` as given) without
/// error.
fn check_containers(r: &Value, fleet: &Fleet, observed: &str) {
    let mut seen: Vec<&str> = r["containers"]
        .as_array()
        .expect("containers array")
        .iter()
        .map(|c| {
            assert_eq!(c["error"], Value::Null, "{c:#}");
            assert_eq!(c["observed"], observed, "{c:#}");
            assert_eq!(c["state"], "running", "{c:#}");
            c["name"].as_str().unwrap()
        })
        .collect();
    seen.sort();
    let mut want: Vec<&str> = fleet.names.iter().map(String::as_str).collect();
    want.sort();
    assert_eq!(seen, want);
}

fn check_live(i: usize, l: &Value) {
    assert_eq!(l["pid"], 1, "{l:#}");
    assert_eq!(l["holders"][0]["ns_pid"], 1, "pid 1 holds it open: {l:#}");
    assert_eq!(l["visibility"], "complete", "{l:#}");
    assert_eq!(l["owner_state"], "alive", "{l:#}");
    assert_eq!(l["owner_name"], "sh", "{l:#}");
    assert_eq!(l["stale"], false, "{l:#}");
    assert_eq!(l["reasons"], serde_json::json!([]), "{l:#}");
    assert_eq!(l["action"], "kept", "{l:#}");
    assert_eq!(
        l["session_key"],
        format!("agent:main:openai-user:{i}"),
        "{l:#}"
    );
}

#[test]
fn clean_of_200_containers_removes_the_200_stale_locks_and_keeps_the_200_live_ones() {
    let test_started = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let fleet = Fleet::start(CONTAINERS);
    let setup = test_started.elapsed();

    // Inside each container by exec first: 200 stale, 200 live.
    let r = zaki_json(tmp.path(), &fleet, "scan", &["--via-exec"]);
    assert_eq!(r["summary"]["stale"], CONTAINERS, "{:#}", r["summary"]);
    assert_eq!(r["summary"]["held"], CONTAINERS, "{:#}", r["summary"]);
    check_containers(&r, &fleet, "exec");

    // Then the default clean, which reads and removes through each container's root.
    let r = zaki_json(tmp.path(), &fleet, "clean", &[]);
    let s = &r["summary"];
    assert_eq!(s["places"], CONTAINERS, "{s:#}");
    assert_eq!(s["locks"], 2 * CONTAINERS, "{s:#}");
    assert_eq!(s["removed"], CONTAINERS, "{s:#}");
    assert_eq!(s["stale"], CONTAINERS, "{s:#}");
    assert_eq!(s["held"], CONTAINERS, "{s:#}");
    assert_eq!(s["would_remove"], 0, "{s:#}");
    assert_eq!(s["skipped"], 0, "{s:#}");
    assert_eq!(s["errors"], 0, "{s:#}");
    check_containers(&r, &fleet, "host");
    let seen = per_container(&r);
    assert_eq!(seen.len(), CONTAINERS);
    for (i, name) in fleet.names.iter().enumerate() {
        let locks = &seen[name];
        assert_eq!(
            locks.keys().collect::<Vec<_>>(),
            [LIVE, STALE],
            "{name}: {locks:#?}"
        );
        check_live(i, &locks[LIVE]);
        let stale = &locks[STALE];
        assert_eq!(stale["pid"], fleet.stale_pids[i], "{stale:#}");
        assert_eq!(stale["owner_state"], "dead", "{stale:#}");
        assert_eq!(stale["stale"], true, "{stale:#}");
        // `no-holder` too once it has been unchanged for the grace (10 s; the fleet takes
        // longer than that to start, but the last containers' locks may be younger).
        assert_eq!(stale["reasons"][0], "dead-pid", "{stale:#}");
        assert_eq!(stale["action"], "removed", "{stale:#}");
    }

    // What is really left, seen from inside every container (its root, not through zaki-locks): the live
    // lock and sessions.json, nothing else (no stale lock, no half-removed private name).
    let listings = fleet.listings();
    for (name, l) in fleet.names.iter().zip(&listings) {
        let l = l.as_ref().unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(l, &[LIVE, "sessions.json"], "{name}");
    }
    for i in [0, CONTAINERS / 2, CONTAINERS - 1] {
        assert!(fleet.exists(i, &format!("{SESSIONS}/{LIVE}")), "{i}");
        assert!(!fleet.exists(i, &format!("{SESSIONS}/{STALE}")), "{i}");
    }

    // And zaki-locks agrees (through each container's root; the exec path was checked above):
    // 200 locks, all live, nothing stale, nothing to do.
    let r = zaki_json(tmp.path(), &fleet, "scan", &[]);
    let s = &r["summary"];
    assert_eq!(s["locks"], CONTAINERS, "{s:#}");
    assert_eq!(s["held"], CONTAINERS, "{s:#}");
    assert_eq!(s["stale"], 0, "{s:#}");
    check_containers(&r, &fleet, "host");
    let seen = per_container(&r);
    assert_eq!(seen.len(), CONTAINERS);
    for (i, name) in fleet.names.iter().enumerate() {
        let locks = &seen[name];
        assert_eq!(locks.keys().collect::<Vec<_>>(), [LIVE], "{name}");
        check_live(i, &locks[LIVE]);
    }

    let checked = test_started.elapsed();
    drop(fleet);
    eprintln!(
        "wall time: setup {:.1}s, clean and checks {:.1}s, teardown {:.1}s, total {:.1}s",
        setup.as_secs_f64(),
        (checked - setup).as_secs_f64(),
        (test_started.elapsed() - checked).as_secs_f64(),
        test_started.elapsed().as_secs_f64()
    );
}
