//! `watch` survives the Docker daemon going away: it reconnects when the daemon is back and runs
//! a full clean, catching up with what it missed. These tests stop the engine: each runs an
//! engine of its own (a second dockerd, [`Engine`]), never the machine's, which may serve
//! other work (or another test run) beside them.

use crate::common;

use std::time::{Duration, Instant};

use common::docker::{self, Container, unique};
use common::engine::Engine;
use common::watch::Watch;
use common::*;

#[test]
fn watch_reconnects_after_a_daemon_restart_and_catches_up() {
    let mut engine = Engine::start();
    let tmp = tempfile::tempdir().unwrap();
    let prefix = unique("ztd-");
    let c = Container::run_at(
        Some(&engine.host),
        &format!("{prefix}1"),
        "none",
        &["--restart", "always"],
        docker::BUSYBOX,
        &["sh", "-c", "trap 'exit 0' TERM; sleep 100000 & wait"],
    );
    let watch = Watch::start_with(
        engine.zaki(tmp.path()),
        &["--no-host", "--prefix", &prefix, "--interval", "1h"],
    );
    watch.wait_for(&["trigger=start-up"], Duration::from_secs(30));
    // A stale lock no event announces: only a full pass finds it.
    let lock = "/home/node/.openclaw/agents/main/sessions/missed.jsonl.lock";
    c.write(lock, &legacy_payload(4242, Duration::ZERO));
    std::thread::sleep(Duration::from_secs(1));
    assert!(c.exists(lock));

    engine.stop();
    watch.wait_for(&["event=events-"], Duration::from_secs(60));
    engine.start_again();
    watch.wait_for(&["event=reconnected"], Duration::from_secs(90));
    let pass = watch.wait_for(&["trigger=reconnected"], Duration::from_secs(60));
    println!("watch, after the daemon came back: {pass}");
    // The container came back with the daemon (restart=always) and its lock is gone.
    let deadline = Instant::now() + Duration::from_secs(60);
    while c.exists(lock) {
        assert!(
            Instant::now() < deadline,
            "the missed stale lock was never removed"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(watch.stop(), 0);
}

#[test]
fn the_daemon_stopped_between_listing_and_removal_fails_that_removal_only() {
    let mut engine = Engine::start();
    let c = Container::run_at(
        Some(&engine.host),
        &unique("ztd-r-"),
        "none",
        &[],
        docker::BUSYBOX,
        &["sh", "-c", "trap 'exit 0' TERM; sleep 100000 & wait"],
    );
    let lock = "/home/node/.openclaw/agents/main/sessions/dead.jsonl.lock";
    c.write(lock, &legacy_payload(4242, Duration::ZERO));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = rt
        .block_on(zaki_locks::sys::docker::connect(
            Some(&engine.host),
            Duration::from_secs(10),
        ))
        .unwrap();
    let dirs = vec!["/home/node/.openclaw".to_owned()];
    let out = rt
        .block_on(client.run_script(
            &c.name,
            zaki_locks::observe::container::OBSERVE_SCRIPT,
            &dirs,
            Duration::from_secs(10),
        ))
        .unwrap();
    let listing = zaki_locks::observe::container::parse_listing(&out).unwrap();
    let raw = &listing.locks[0];
    let snap = raw.file.as_ref().unwrap().snapshot();
    engine.stop();
    let items = [zaki_locks::act::remove::ContainerItem {
        state_dir: &raw.state_dir,
        path: &raw.path,
        dir_id: raw.dir_id,
        judged: &snap,
    }];
    let started = Instant::now();
    let out = rt.block_on(zaki_locks::act::remove::in_container(
        &client,
        &c.name,
        &items,
        Duration::from_secs(10),
    ));
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "gave up in time"
    );
    engine.start_again();
    match &out[0] {
        zaki_locks::act::remove::Outcome::Failed(e) => assert!(!e.is_empty()),
        other => panic!("expected a failure, got {other:?}"),
    }
    assert!(engine.docker(&["start", &c.name]).status.success());
    assert!(c.exists(lock), "nothing was removed");
}
