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
    let started = Instant::now();
    wait_for("event=reconnected", Duration::from_secs(90));
    let pass = wait_for("trigger=reconnected", Duration::from_secs(60));
    println!(
        "watch: daemon back -> reconnected and full pass in {} ms: {pass}",
        started.elapsed().as_millis()
    );
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
