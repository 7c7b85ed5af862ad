//! `--format prometheus` and `--metrics-file`, checked with a real Prometheus text parser;
//! `scan --held-over` with `--fail-on-held`.

use crate::common;

use std::fs;
use std::time::Duration;

use common::*;

#[test]
fn scan_and_clean_metrics_parse_and_count_what_was_seen() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let dir = state.join("agents/main/sessions");
    fs::create_dir_all(&dir).unwrap();
    let live = Proc::sleep();
    fs::write(
        dir.join("live.jsonl.lock"),
        legacy_payload(live.pid(), Duration::ZERO),
    )
    .unwrap();
    fs::write(
        dir.join("dead.jsonl.lock"),
        legacy_payload(dead_pid(), Duration::ZERO),
    )
    .unwrap();
    fs::write(
        dir.join("dead2.jsonl.lock"),
        legacy_payload(dead_pid(), Duration::ZERO),
    )
    .unwrap();

    let o = run(zaki(tmp.path())
        .args([
            "scan",
            "--no-containers",
            "--format",
            "prometheus",
            "--root",
        ])
        .arg(&state));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let m = prometheus(&stdout(&o));
    assert_eq!(
        m["zaki_locks_locks{command=scan,location=host,state=held}"],
        1.0
    );
    assert_eq!(
        m["zaki_locks_locks{command=scan,location=host,state=stale}"],
        2.0
    );
    assert_eq!(
        m["zaki_locks_locks{command=scan,location=container,state=stale}"],
        0.0
    );
    assert_eq!(m["zaki_locks_stale_locks{command=scan}"], 2.0);
    assert_eq!(m["zaki_locks_errors{command=scan}"], 0.0);
    assert_eq!(m["zaki_locks_last_run_success{command=scan}"], 1.0);
    assert!(m["zaki_locks_last_success_timestamp_seconds{command=scan}"] > 1.7e9);

    // clean --metrics-file: written atomically next to the run's normal output.
    let file = tmp.path().join("zaki-locks.prom");
    let o = run(zaki(tmp.path())
        .args(["clean", "--no-containers", "--quiet", "--root"])
        .arg(&state)
        .arg("--metrics-file")
        .arg(&file));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let m = prometheus(&fs::read_to_string(&file).unwrap());
    assert_eq!(m["zaki_locks_removed_locks{command=clean}"], 2.0);
    assert!(m["zaki_locks_last_run_duration_seconds{command=clean}"] >= 0.0);
    let first_success = m["zaki_locks_last_success_timestamp_seconds{command=clean}"];
    let names: Vec<_> = fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(
        !names.iter().any(|n| n.to_string_lossy().contains(".tmp")),
        "{names:?}"
    );

    // A failed run keeps the last success time and says it failed.
    let o = run(zaki(tmp.path())
        .args(["clean", "--no-containers", "--quiet", "--root"])
        .arg(tmp.path().join("missing"))
        .arg("--metrics-file")
        .arg(&file));
    assert_eq!(o.status.code(), Some(1));
    let m = prometheus(&fs::read_to_string(&file).unwrap());
    assert_eq!(m["zaki_locks_last_run_success{command=clean}"], 0.0);
    assert_eq!(m["zaki_locks_errors{command=clean}"], 1.0);
    assert_eq!(
        m["zaki_locks_last_success_timestamp_seconds{command=clean}"],
        first_success
    );
}

#[test]
fn held_over_lists_live_locks_held_too_long_and_fails_on_request() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let dir = state.join("agents/main/sessions");
    fs::create_dir_all(&dir).unwrap();
    let live = Proc::sleep();
    std::thread::sleep(Duration::from_millis(1500));
    // A live owner must predate its lock, so a long hold is a lock taken after its owner
    // started, scanned a few seconds later with a small --held-over.
    fs::write(
        dir.join("long.jsonl.lock"),
        legacy_payload(live.pid(), Duration::ZERO),
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(2500));
    let fresh = Proc::sleep();
    fs::write(
        dir.join("fresh.jsonl.lock"),
        legacy_payload(fresh.pid(), Duration::ZERO),
    )
    .unwrap();

    let scan = |extra: &[&str]| {
        run(zaki(tmp.path())
            .args(["scan", "--no-containers", "--root"])
            .arg(&state)
            .args(extra))
    };
    let o = scan(&["--held-over", "1s", "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let names: Vec<String> = by_name(&json(&o)).into_keys().collect();
    assert_eq!(names, ["long.jsonl.lock"]);
    let o = scan(&[
        "--held-over",
        "1s",
        "--fail-on-held",
        "--format",
        "prometheus",
    ]);
    assert_eq!(o.status.code(), Some(3));
    let m = prometheus(&stdout(&o));
    assert_eq!(m["zaki_locks_held_over_locks{command=scan}"], 1.0);
    assert_eq!(
        m["zaki_locks_held_over_threshold_seconds{command=scan}"],
        1.0
    );
    assert!(m["zaki_locks_oldest_live_lock_age_seconds{command=scan}"] >= 2.0);
    let o = scan(&["--held-over", "1h", "--fail-on-held"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("0 held over 1h"), "{}", stdout(&o));
    let o = scan(&["--fail-on-held"]);
    assert_eq!(o.status.code(), Some(2), "--fail-on-held needs --held-over");
}

/// `probe --metrics-file`: the probe's metrics are written on a failed probe too, with the
/// previous success time carried over; an unwritable file is one line on stderr and exit 1,
/// after the report was printed.
#[test]
fn probe_metrics_keep_the_last_success_and_an_unwritable_file_is_exit_1() {
    let tmp = tempfile::tempdir().unwrap();
    // A port nothing listens on, a container that does not exist: not-ready.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let users = tmp.path().join("users.json");
    fs::write(
        &users,
        serde_json::json!({"77": {"port": port, "token": "t"}}).to_string(),
    )
    .unwrap();
    let probe = |metrics: &std::path::Path| {
        run(zaki(tmp.path())
            .args(["probe", "77", "--attempts", "1", "--format", "json"])
            .args(["--prefix", &format!("zmt-{}-", std::process::id())])
            .arg("--users-file")
            .arg(&users)
            .arg("--metrics-file")
            .arg(metrics))
    };
    let file = tmp.path().join("probe.prom");
    fs::write(
        &file,
        "# TYPE zaki_locks_probe_last_success_timestamp_seconds gauge\n\
         zaki_locks_probe_last_success_timestamp_seconds 1700000000.5\n",
    )
    .unwrap();
    let o = probe(&file);
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    assert_eq!(json(&o)["verdict"], "not-ready");
    let m = prometheus(&fs::read_to_string(&file).unwrap());
    assert_eq!(m["zaki_locks_probe_success{}"], 0.0, "{m:?}");
    assert_eq!(m["zaki_locks_probe_verdict{verdict=not-ready}"], 1.0);
    assert_eq!(m["zaki_locks_probe_verdict{verdict=ok}"], 0.0);
    assert_eq!(m["zaki_locks_probe_attempts{}"], 1.0);
    assert_eq!(m["zaki_locks_probe_http_status{}"], 0.0);
    assert_eq!(
        m["zaki_locks_probe_last_success_timestamp_seconds{}"],
        1700000000.5
    );

    let o = probe(&tmp.path().join("missing/probe.prom"));
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("cannot write the metrics file"), "{err}");
    assert_eq!(json(&o)["verdict"], "not-ready");
}
