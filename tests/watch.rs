//! `watch` with a real engine and a real OpenClaw gateway container: the stale lock a gateway
//! killed mid-reply leaves behind is removed seconds after the container starts again, and the
//! user's next message succeeds on the first attempt.

use crate::common;

use std::time::{Duration, Instant};

use common::docker::{self, unique};
use common::gateway::Gateway;
use common::watch::Watch;
use common::*;

fn field(line: &str, key: &str) -> Option<u64> {
    line.split_whitespace()
        .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
        .and_then(|v| v.parse().ok())
}

#[test]
fn a_gateway_killed_mid_reply_is_unblocked_seconds_after_it_starts_again() {
    docker::require();
    let tmp = tempfile::tempdir().unwrap();
    let g = Gateway::start(tmp.path(), &unique("ztw-"), "4301");
    let watch = Watch::start(
        tmp.path(),
        &["--no-host", "--prefix", &g.prefix, "--interval", "1h"],
    );
    watch.wait_for(&["event=pass", "trigger=start-up"], Duration::from_secs(30));

    // A reply in flight for the user when the container dies; then it starts again.
    let lock = g.kill_mid_reply();
    let restarted = Instant::now();
    assert!(
        docker::docker(&["start", &g.container.name])
            .status
            .success()
    );
    let removed = watch.wait_for(
        &["action=removed", &format!("container:{}", g.container.name)],
        Duration::from_secs(60),
    );
    let removed_after = restarted.elapsed();
    assert!(!lock.exists());
    let since_start = field(&removed, "since_start_ms").expect("since_start_ms");
    g.wait_healthy(Duration::from_secs(120));
    let o = g.probe(
        tmp.path(),
        &["--as-user", "--attempts", "1", "--format", "json"],
    );
    let r = json(&o);
    assert_eq!(r["verdict"], "ok", "{r:#}");
    let first_reply = restarted.elapsed();
    println!(
        "watch: start event -> lock removed {since_start} ms; docker start -> removed {} ms; docker start -> first successful reply {} ms (first attempt)",
        removed_after.as_millis(),
        first_reply.as_millis()
    );
    assert_eq!(watch.stop(), 0);
}
