//! `watch` survives the Docker daemon going away: it reconnects when the daemon is back and runs
//! a full clean, catching up with what it missed. This stops the engine, so it lives in a test
//! binary of its own (cargo runs test binaries one at a time).

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::docker::{self, Container, unique};
use common::*;

/// The tests here stop the engine: one at a time.
static DAEMON: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn docker_env(cmd: &str) {
    let o = Command::new("bash")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/scripts/docker-env.sh"
        ))
        .arg(cmd)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "docker-env.sh {cmd}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn watch_reconnects_after_a_daemon_restart_and_catches_up() {
    let _one = DAEMON.lock().unwrap_or_else(|e| e.into_inner());
    docker::require();
    let tmp = tempfile::tempdir().unwrap();
    let prefix = unique("ztd-");
    let c = Container::run(
        &format!("{prefix}1"),
        &["--restart", "always"],
        docker::BUSYBOX,
        &["sh", "-c", "trap 'exit 0' TERM; sleep 100000 & wait"],
    );
    let mut child = zaki(tmp.path())
        .args([
            "watch",
            "--log-format",
            "kv",
            "--no-host",
            "--prefix",
            &prefix,
            "--interval",
            "1h",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let (tx, lines) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for l in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(l);
        }
    });
    let wait_for = |needle: &str, limit: Duration| -> String {
        let deadline = Instant::now() + limit;
        loop {
            match lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(l) if l.contains(needle) => return l,
                Ok(_) => {}
                Err(_) => panic!("watch never logged {needle:?}"),
            }
        }
    };
    wait_for("trigger=start-up", Duration::from_secs(30));
    // A stale lock no event announces: only a full pass finds it.
    let lock = "/home/node/.openclaw/agents/main/sessions/missed.jsonl.lock";
    c.write(lock, &legacy_payload(4242, Duration::ZERO));
    std::thread::sleep(Duration::from_secs(1));
    assert!(c.exists(lock));

    docker_env("stop");
    wait_for("event=events-", Duration::from_secs(60));
    docker_env("start");
    wait_for("event=reconnected", Duration::from_secs(90));
    let pass = wait_for("trigger=reconnected", Duration::from_secs(60));
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
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(0));
}

#[test]
fn the_daemon_stopped_between_listing_and_removal_fails_that_removal_only() {
    let _one = DAEMON.lock().unwrap_or_else(|e| e.into_inner());
    docker::require();
    let c = Container::run(
        &unique("ztd-r-"),
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
    let listing = zaki_locks::observe::container::parse_listing(&out).unwrap();
    let raw = &listing.locks[0];
    let snap = raw.file.as_ref().unwrap().snapshot();
    docker_env("stop");
    let items = [zaki_locks::act::remove::ContainerItem {
        state_dir: &raw.state_dir,
        path: &raw.path,
        dir_id: raw.dir_id,
        judged: &snap,
    }];
    let started = Instant::now();
    let out = rt.block_on(zaki_locks::act::remove::in_container(
        &engine,
        &c.name,
        &items,
        Duration::from_secs(10),
    ));
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "gave up in time"
    );
    docker_env("start");
    match &out[0] {
        zaki_locks::act::remove::Outcome::Failed(e) => assert!(!e.is_empty()),
        other => panic!("expected a failure, got {other:?}"),
    }
    assert!(docker::docker(&["start", &c.name]).status.success());
    assert!(c.exists(lock), "nothing was removed");
}
