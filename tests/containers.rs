//! `scan` and `clean` inside real containers on a real Docker engine: owners judged in each
//! container's own PID namespace, by exec (busybox, no `ps -p`) and from the host for bind mounts.

use crate::common;

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use common::docker::{self, Container, bind, unique};
use common::*;

const SESSIONS: &str = "/home/node/.openclaw/agents/main/sessions";
const Z: Duration = Duration::ZERO;

fn zaki_json(tmp: &Path, args: &[&str]) -> (Option<i32>, serde_json::Value, String) {
    let o = run(zaki(tmp).args(args).args(["--format", "json"]));
    (o.status.code(), json(&o), stderr(&o))
}

#[test]
fn live_and_dead_owners_inside_a_busybox_container() {
    docker::require();
    let tmp = tempfile::tempdir().unwrap();
    let c = Container::busybox(&unique("zt-live-"), &[]);
    // pid 1 (the shell) is alive inside; pid 4242 exists nowhere in the container.
    c.write(
        &format!("{SESSIONS}/live.jsonl.lock"),
        &legacy_payload(1, Z),
    );
    c.write(
        &format!("{SESSIONS}/dead.jsonl.lock"),
        &legacy_payload(4242, Z),
    );
    c.write(&format!("{SESSIONS}/empty.jsonl.lock"), "");
    c.write(&format!("{SESSIONS}/other.lock"), &legacy_payload(4242, Z));
    c.write(
        &format!("{SESSIONS}/sessions.json"),
        r#"{"agent:main:openai-user:42":{"sessionId":"live"}}"#,
    );
    c.sh(&format!("ln -s /etc/passwd {SESSIONS}/planted.jsonl.lock"));

    // Read through the container's root from the host, and by exec: the same verdicts.
    let (_, by_host, _) = zaki_json(tmp.path(), &["scan", "--no-host", "--container", &c.name]);
    assert_eq!(by_host["containers"][0]["observed"], "host", "{by_host:#}");
    let (code, r, err) = zaki_json(
        tmp.path(),
        &["scan", "--no-host", "--via-exec", "--container", &c.name],
    );
    assert_eq!(code, Some(0), "{err}\n{r:#}");
    let seen = by_name(&r);
    assert_eq!(seen.len(), 4, "{r:#}");
    for (name, lock) in by_name(&by_host) {
        for field in [
            "owner_state",
            "stale",
            "reasons",
            "path",
            "session_key",
            "action",
        ] {
            assert_eq!(lock[field], seen[&name][field], "{name}.{field}");
        }
    }
    assert_eq!(seen["live.jsonl.lock"]["owner_state"], "alive");
    assert_eq!(seen["live.jsonl.lock"]["owner_name"], "sh");
    assert_eq!(
        seen["live.jsonl.lock"]["session_key"],
        "agent:main:openai-user:42"
    );
    assert_eq!(
        seen["live.jsonl.lock"]["location"],
        format!("container:{}", c.name)
    );
    assert_eq!(
        seen["dead.jsonl.lock"]["reasons"],
        serde_json::json!(["dead-pid"])
    );
    assert_eq!(seen["empty.jsonl.lock"]["stale"], false);
    assert_eq!(seen["planted.jsonl.lock"]["action"], "skipped");
    assert_eq!(r["containers"][0]["observed"], "exec");
    assert_eq!(r["containers"][0]["state"], "running");

    let (code, r, err) = zaki_json(
        tmp.path(),
        &["clean", "--no-host", "--via-exec", "--container", &c.name],
    );
    assert_eq!(code, Some(0), "{err}\n{r:#}");
    assert_eq!(r["summary"]["removed"], 1);
    assert!(!c.exists(&format!("{SESSIONS}/dead.jsonl.lock")));
    for kept in [
        "live.jsonl.lock",
        "empty.jsonl.lock",
        "other.lock",
        "planted.jsonl.lock",
    ] {
        assert!(
            c.exists(&format!("{SESSIONS}/{kept}")),
            "{kept} was removed"
        );
    }
    assert_eq!(
        c.sh("cat /etc/passwd | head -c 4"),
        "root",
        "symlink target intact"
    );
}

#[test]
fn a_pid_that_became_a_thread_after_docker_restart_is_removed() {
    docker::require();
    let tmp = tempfile::tempdir().unwrap();
    let c = Container::threaded(&unique("zt-restart-"), &[]);
    c.thread_ids();
    c.restart();
    // The old gateway's lock (taken a minute ago, before the restart) names a pid that is now a
    // thread of the new pid 1. Which tids the threads get depends on what else ran in the
    // namespace, so the lock is written with one seen after the restart.
    let tid = c.thread_ids()[0];
    c.write(
        "/root/.openclaw/agents/main/sessions/old.jsonl.lock",
        &legacy_payload(tid as u32, Duration::from_secs(60)),
    );
    c.write(
        "/root/.openclaw/agents/main/sessions/new.jsonl.lock",
        &legacy_payload(1, Z),
    );
    let (_, r, err) = zaki_json(tmp.path(), &["scan", "--no-host", "--container", &c.name]);
    let seen = by_name(&r);
    assert_eq!(
        seen["old.jsonl.lock"]["owner_state"], "thread",
        "{err}\n{r:#}"
    );
    assert_eq!(seen["old.jsonl.lock"]["stale"], true);
    assert_eq!(seen["new.jsonl.lock"]["owner_state"], "alive");
    // Inside, by exec, /proc says the same.
    let (_, r, err) = zaki_json(
        tmp.path(),
        &["scan", "--no-host", "--via-exec", "--container", &c.name],
    );
    let seen = by_name(&r);
    assert_eq!(
        seen["old.jsonl.lock"]["owner_state"], "thread",
        "{err}\n{r:#}"
    );
    assert_eq!(seen["new.jsonl.lock"]["owner_state"], "alive");

    let (code, _, err) = zaki_json(tmp.path(), &["clean", "--no-host", "--container", &c.name]);
    assert_eq!(code, Some(0), "{err}");
    assert!(!c.exists("/root/.openclaw/agents/main/sessions/old.jsonl.lock"));
    assert!(c.exists("/root/.openclaw/agents/main/sessions/new.jsonl.lock"));
}

#[test]
fn bind_mounted_locks_are_judged_in_the_containers_namespace_from_the_host() {
    docker::require();
    let tmp = tempfile::tempdir().unwrap();
    let users = tmp.path().join("users");
    let state = users.join("user-42/.openclaw");
    let dir = state.join("agents/main/sessions");
    fs::create_dir_all(&dir).unwrap();
    let prefix = unique("zt-bind-");
    let c = Container::threaded(
        &format!("{prefix}42"),
        &["-v", &bind(&state, "/home/node/.openclaw")],
    );
    c.thread_ids();
    c.restart();
    let tids = c.thread_ids();

    // A host process whose pid is dead inside the container: the host's process table must
    // not keep it alive (the PID namespace trap).
    let host_live = Proc::sleep();
    fs::write(dir.join("live.jsonl.lock"), legacy_payload(1, Z)).unwrap();
    fs::write(
        dir.join("dead.jsonl.lock"),
        legacy_payload(host_live.pid(), Z),
    )
    .unwrap();
    fs::write(
        dir.join("thread.jsonl.lock"),
        legacy_payload(tids[0] as u32, Z),
    )
    .unwrap();

    let args = ["--users-dir", users.to_str().unwrap(), "--prefix", &prefix];
    let (code, r, err) = zaki_json(tmp.path(), &[&["scan"][..], &args].concat());
    assert_eq!(code, Some(0), "{err}\n{r:#}");
    let seen = by_name(&r);
    assert_eq!(
        seen.len(),
        3,
        "each lock once, though seen from host and container: {r:#}"
    );
    let live = &seen["live.jsonl.lock"];
    assert_eq!(live["owner_state"], "alive", "{live:#}");
    assert_eq!(live["owner_name"], "python3");
    assert_eq!(live["location"], format!("container:{}", c.name));
    assert_eq!(
        live["path"],
        "/home/node/.openclaw/agents/main/sessions/live.jsonl.lock"
    );
    assert_eq!(
        live["host_path"],
        dir.join("live.jsonl.lock").to_str().unwrap()
    );
    assert_eq!(seen["dead.jsonl.lock"]["owner_state"], "dead");
    assert_eq!(seen["thread.jsonl.lock"]["owner_state"], "thread");
    assert_eq!(
        r["containers"][0]["observed"], "host",
        "no exec needed: {r:#}"
    );

    let (code, _, err) = zaki_json(tmp.path(), &[&["clean"][..], &args].concat());
    assert_eq!(code, Some(0), "{err}");
    assert!(dir.join("live.jsonl.lock").exists());
    assert!(!dir.join("dead.jsonl.lock").exists());
    assert!(!dir.join("thread.jsonl.lock").exists());

    // Stopped: the container's state alone decides nothing (issue 10), but no process holds
    // the lock open, so once past the grace it is stale (`no-holder`).
    c.stop();
    set_mtime(&dir.join("live.jsonl.lock"), MIN);
    let (code, r, err) = zaki_json(tmp.path(), &[&["clean"][..], &args].concat());
    assert_eq!(code, Some(0), "{err}\n{r:#}");
    let seen = by_name(&r);
    let live = &seen["live.jsonl.lock"];
    assert_eq!(live["owner_state"], "unknown", "{r:#}");
    assert_eq!(live["reasons"], serde_json::json!(["no-holder"]), "{r:#}");
    assert_eq!(live["action"], "removed", "{r:#}");
    assert!(live["note"].as_str().unwrap().contains("exited"));
    assert!(!dir.join("live.jsonl.lock").exists());
}

#[test]
fn a_container_without_sh_or_with_a_hanging_exec_is_reported_and_the_run_goes_on() {
    docker::require();
    let tmp = tempfile::tempdir().unwrap();
    let prefix = unique("zt-fault-");
    let nosh = Container::run(
        &format!("{prefix}nosh"),
        &[],
        docker::NOSH,
        &["sleep", "100000"],
    );
    let hang = Container::busybox(&format!("{prefix}hang"), &[]);
    hang.write(
        &format!("{SESSIONS}/x.jsonl.lock"),
        &legacy_payload(4242, Z),
    );
    // From now on every `sh` started in it sleeps forever (busybox runs its own applets, so
    // shadowing a command on PATH would not do).
    hang.sh(
        "rm /bin/sh && printf '#!/bin/busybox sh\\nsleep 100000\\n' > /bin/sh && chmod +x /bin/sh",
    );
    let good = Container::busybox(&format!("{prefix}good"), &[]);
    good.write(
        &format!("{SESSIONS}/dead.jsonl.lock"),
        &legacy_payload(4242, Z),
    );

    let started = Instant::now();
    let (code, r, err) = zaki_json(
        tmp.path(),
        &[
            "clean",
            "--no-host",
            "--via-exec",
            "--prefix",
            &prefix,
            "--container-timeout",
            "2s",
        ],
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(code, Some(1), "{err}\n{r:#}");
    assert!(
        err.contains(&format!(
            "container:{}: the container has no POSIX sh",
            nosh.name
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!("container:{}: exec timed out after 2s", hang.name)),
        "{err}"
    );
    assert_eq!(
        err.lines().filter(|l| l.contains("error:")).count(),
        2,
        "{err}"
    );
    assert_eq!(
        r["summary"]["removed"], 1,
        "the good container was still cleaned: {r:#}"
    );
    assert!(!good.exists(&format!("{SESSIONS}/dead.jsonl.lock")));
    assert!(
        hang.exists(&format!("{SESSIONS}/x.jsonl.lock")),
        "nothing removed where not observed"
    );
    let by_container: std::collections::BTreeMap<String, serde_json::Value> = r["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["name"].as_str().unwrap().to_owned(), c.clone()))
        .collect();
    assert!(
        by_container[&nosh.name]["error"]
            .as_str()
            .unwrap()
            .contains("no POSIX sh")
    );
    assert!(by_container[&good.name]["error"].is_null());
}

#[test]
fn docker_not_reachable_fails_for_the_default_and_when_asked_for() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("state/agents/main/sessions");
    fs::create_dir_all(&root).unwrap();
    fs::write(root.join("d.jsonl.lock"), legacy_payload(dead_pid(), Z)).unwrap();
    let sock = format!("unix://{}/no.sock", tmp.path().display());
    let state = tmp.path().join("state");
    let o = run(zaki(tmp.path())
        .args(["clean", "--root"])
        .arg(&state)
        .env("DOCKER_HOST", &sock));
    // Not looking where the platform's containers are is not a success (issue 12): exit 1.
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "said once: {err}");
    assert!(
        err.contains("level=error")
            && err.contains("Docker is not reachable")
            && err.contains("--no-containers"),
        "{err}"
    );
    assert!(
        !root.join("d.jsonl.lock").exists(),
        "the host was still cleaned"
    );

    let o = run(zaki(tmp.path())
        .args(["scan", "--container", "zaki-user-42", "--root"])
        .arg(&state)
        .env("DOCKER_HOST", &sock));
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("error: Docker is not reachable"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_symlink_inside_the_container_never_leads_to_the_hosts_files() {
    docker::require();
    let tmp = tempfile::tempdir().unwrap();
    // A stale-looking lock on the host, at the path a container symlink points to.
    let host_state = tmp.path().join("host-state");
    let host_lock = host_state.join("agents/main/sessions/victim.jsonl.lock");
    fs::create_dir_all(host_lock.parent().unwrap()).unwrap();
    fs::write(&host_lock, legacy_payload(4242, Z)).unwrap();
    let c = Container::busybox(&unique("zt-link-"), &[]);
    c.sh(&format!(
        "mkdir -p /home/node && ln -s {} /home/node/.openclaw",
        host_state.display()
    ));
    let (code, r, err) = zaki_json(tmp.path(), &["clean", "--no-host", "--container", &c.name]);
    assert_eq!(code, Some(0), "{err}\n{r:#}");
    assert_eq!(r["summary"]["locks"], 0, "{r:#}");
    assert_eq!(
        r["containers"][0]["observed"], "exec",
        "fell back to exec: {r:#}"
    );
    assert!(
        host_lock.exists(),
        "a host file was removed through a container's symlink"
    );
}

/// Lists a container's locks by exec, as `clean --via-exec` does, for removal tests below.
fn listed(
    rt: &tokio::runtime::Runtime,
    c: &Container,
) -> (
    zaki_locks::sys::docker::Engine,
    zaki_locks::observe::container::Listing,
) {
    let engine = rt
        .block_on(zaki_locks::sys::docker::connect(
            None,
            Duration::from_secs(10),
        ))
        .unwrap();
    let dirs = vec!["/home/node/.openclaw".to_owned()];
    let out = rt
        .block_on(engine.run_script(
            &c.name,
            zaki_locks::observe::container::OBSERVE_SCRIPT,
            &dirs,
            Duration::from_secs(10),
        ))
        .unwrap();
    (
        engine,
        zaki_locks::observe::container::parse_listing(&out).unwrap(),
    )
}

#[test]
fn a_container_stopped_between_listing_and_removal_is_reported_and_its_lock_kept() {
    docker::require();
    let c = Container::run(
        &unique("zt-stop-"),
        &[],
        docker::BUSYBOX,
        &["sh", "-c", "trap 'exit 0' TERM; sleep 100000 & wait"],
    );
    c.write(
        &format!("{SESSIONS}/dead.jsonl.lock"),
        &legacy_payload(4242, Z),
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (engine, listing) = listed(&rt, &c);
    assert_eq!(listing.locks.len(), 1);
    let raw = &listing.locks[0];
    let snap = raw.file.as_ref().unwrap().snapshot();
    c.stop();
    let items = [zaki_locks::act::remove::ContainerItem {
        state_dir: &raw.state_dir,
        path: &raw.path,
        dir_id: raw.dir_id,
        judged: &snap,
    }];
    let out = rt.block_on(zaki_locks::act::remove::in_container(
        &engine,
        &c.name,
        &items,
        Duration::from_secs(10),
    ));
    match &out[0] {
        zaki_locks::act::remove::Outcome::Failed(e) => assert!(e.contains("not running"), "{e}"),
        other => panic!("expected a failure, got {other:?}"),
    }
    assert!(docker::docker(&["start", &c.name]).status.success());
    assert!(
        c.exists(&format!("{SESSIONS}/dead.jsonl.lock")),
        "nothing was removed"
    );
}
