//! What a new operator trips over in the first hour (issue 12): typical mistakes get a clear
//! usage error or a named problem and the right exit status, never a panic, a silent clean bill
//! of health, or a destroyed file.

use crate::common;

use std::fs;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Output;
use std::time::Duration;

use common::docker::{self, Container, unique};
use common::watch::Watch;
use common::*;

fn assert_usage(o: &Output, want: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        !err.contains("panicked") && !err.contains("BACKTRACE"),
        "{err}"
    );
    let first = err.lines().next().unwrap_or_default();
    assert!(first.starts_with("error: "), "{err}");
    assert!(
        first.contains(want),
        "want {want:?} in the first line: {err}"
    );
}

fn state_dir(tmp: &Path) -> std::path::PathBuf {
    let s = tmp.join("state");
    fs::create_dir_all(s.join("agents/main/sessions")).unwrap();
    s
}

#[test]
fn durations_are_range_checked_at_parse_time() {
    let tmp = tempfile::tempdir().unwrap();
    let z = |args: &[&str]| run(zaki(tmp.path()).args(args));
    assert_usage(&z(&["watch", "--interval", "0s"]), "must be at least 1s");
    assert_usage(
        &z(&["watch", "--interval", "500000000000y"]),
        "must be at most 1d",
    );
    assert_usage(
        &z(&["clean", "--wait", "500000000000y"]),
        "must be at most 1h",
    );
    assert_usage(
        &z(&["scan", "--older-than", "500000000y"]),
        "must be at most 365d",
    );
    assert_usage(&z(&["watch", "--settle", "9999999h"]), "must be at most");
    assert_usage(&z(&["probe", "1", "--timeout", "0s"]), "must be at least");
    // One clear hint, not two.
    let o = z(&["scan", "--older-than", "1h30"]);
    assert_usage(&o, "write 1h30m");
    assert!(!stderr(&o).contains("30sec"), "{}", stderr(&o));
}

#[test]
fn a_threshold_below_openclaws_max_hold_needs_the_override() {
    let tmp = tempfile::tempdir().unwrap();
    let state = state_dir(tmp.path());
    let live = Proc::sleep();
    let lock = state.join("agents/main/sessions/a.jsonl.lock");
    fs::write(&lock, legacy_payload(live.pid(), Duration::from_secs(40))).unwrap();
    for t in ["0s", "1s", "30s", "4m59s"] {
        let o = run(zaki(tmp.path())
            .args(["clean", "--no-containers", "--older-than", t, "--root"])
            .arg(&state));
        assert_usage(&o, "--allow-short-threshold");
        assert!(lock.exists(), "{t}: a live lock was removed");
    }
    // The override is explicit, and then the threshold is what was asked for.
    let o = run(zaki(tmp.path())
        .args(["clean", "--no-containers", "--older-than", "30s"])
        .arg("--allow-short-threshold")
        .arg("--root")
        .arg(&state));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(!lock.exists(), "too-old by the explicit threshold");
    let o = run(zaki(tmp.path())
        .args(["scan", "--no-containers", "--older-than", "5m", "--root"])
        .arg(&state));
    assert_eq!(o.status.code(), Some(0), "5m is allowed: {}", stderr(&o));
}

#[test]
fn conflicting_and_misplaced_options_are_usage_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let z = |args: &[&str]| run(zaki(tmp.path()).args(args));
    assert_usage(
        &z(&["scan", "--stale-only", "--held-over", "1m"]),
        "'--stale-only' cannot be used with '--held-over",
    );
    assert_usage(&z(&["scan", "/root/.openclaw"]), "--root /root/.openclaw");
    let users = tmp.path().join("users");
    fs::create_dir_all(users.join("user-42/.openclaw")).unwrap();
    let o = z(&["clean", users.to_str().unwrap()]);
    assert_usage(&o, &format!("--users-dir {}", users.display()));
    assert_usage(
        &z(&["scan", "--docker-host", "localhost:2375"]),
        "expected unix:///path/to/docker.sock or tcp://host:port",
    );
    assert_usage(&z(&["man", "bogus"]), "invalid value 'bogus'");
}

#[test]
fn the_run_lock_never_truncates_a_file_that_is_not_ours() {
    let tmp = tempfile::tempdir().unwrap();
    let state = state_dir(tmp.path());
    let precious = tmp.path().join("precious.txt");
    fs::write(&precious, "do not lose me\n").unwrap();
    let o = run(zaki(tmp.path())
        .args(["clean", "--no-containers", "--root"])
        .arg(&state)
        .arg("--run-lock")
        .arg(&precious));
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("not a run lock of zaki-locks"),
        "{}",
        stderr(&o)
    );
    assert_eq!(fs::read_to_string(&precious).unwrap(), "do not lose me\n");
    // Through the environment too, and for watch.
    let o = run(zaki(tmp.path())
        .args(["watch", "--no-containers", "--root"])
        .arg(&state)
        .env("ZAKI_LOCKS_RUN_LOCK", &precious));
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(fs::read_to_string(&precious).unwrap(), "do not lose me\n");
    // A directory is not a run lock either; our own pid file is reused.
    let o = run(zaki(tmp.path())
        .args(["clean", "--no-containers", "--root"])
        .arg(&state)
        .arg("--run-lock")
        .arg(&state));
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let ours = tmp.path().join("ours.lock");
    fs::write(&ours, "4059\n").unwrap();
    let o = run(zaki(tmp.path())
        .args(["clean", "--no-containers", "--root"])
        .arg(&state)
        .arg("--run-lock")
        .arg(&ours));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn docker_unreachable_is_not_a_success() {
    let tmp = tempfile::tempdir().unwrap();
    let sock = format!("unix://{}/nope.sock", tmp.path().display());
    let o = run(zaki(tmp.path())
        .args([
            "scan",
            "--no-host",
            "--fail-on-stale",
            "--format",
            "prometheus",
        ])
        .env("DOCKER_HOST", &sock));
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let m = prometheus(&stdout(&o));
    assert_eq!(m["zaki_locks_last_run_success{command=scan}"], 0.0);
    assert_eq!(m["zaki_locks_errors{command=scan}"], 1.0);
    assert_eq!(
        m[&format!("zaki_locks_docker_up{{command=scan,engine={sock}}}")],
        0.0
    );
    let err = stderr(&o);
    assert!(!err.contains("hyper"), "{err}");

    // clean from cron: exit 1 (cron mails it), and a kv line with a real location.
    let state = state_dir(tmp.path());
    let o = run(zaki(tmp.path())
        .args(["clean", "-q", "--log-format", "kv", "--root"])
        .arg(&state)
        .env("DOCKER_HOST", &sock));
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains(&format!("location=docker:{sock}")) && !err.contains("path="),
        "{err}"
    );

    // An http:// engine where nothing listens: the cause, not the HTTP client's wrapper.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let o = run(zaki(tmp.path()).args([
        "scan",
        "--no-host",
        "--docker-host",
        &format!("http://127.0.0.1:{port}"),
    ]));
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("connection refused") && !err.contains("hyper") && !err.contains("os error"),
        "{err}"
    );

    // The engine that does answer is up.
    docker::require();
    let o = run(zaki(tmp.path()).args([
        "scan",
        "--no-host",
        "--prefix",
        &unique("zfc-none-"),
        "--format",
        "prometheus",
    ]));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let m = prometheus(&stdout(&o));
    assert!(
        m.iter()
            .any(|(k, v)| k.starts_with("zaki_locks_docker_up{") && *v == 1.0),
        "{m:?}"
    );
}

#[test]
fn a_socket_without_permission_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("sock");
    fs::create_dir_all(&dir).unwrap();
    let path = dir.join("docker.sock");
    let _listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
    fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o755)).unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
    let o = run(zaki(tmp.path())
        .args(["scan", "--no-host"])
        .env("DOCKER_HOST", format!("unix://{}", path.display()))
        .env("ZAKI_LOCKS_RUN_LOCK", "/nonexistent/run.lock")
        .uid(65534)
        .gid(65534));
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("permission denied") && err.contains("docker group"),
        "{err}"
    );
    assert!(!err.contains("hyper"), "{err}");
}

#[test]
fn a_wrong_place_is_not_a_clean_bill_of_health() {
    let tmp = tempfile::tempdir().unwrap();
    let state = state_dir(tmp.path());
    // --users-dir at a state dir.
    let o = run(zaki(tmp.path())
        .args(["scan", "--no-containers", "--users-dir"])
        .arg(&state));
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!("use --root {}", state.display())),
        "{}",
        stderr(&o)
    );
    // --root at a dir with no agents/ (here: the users dir).
    let users = tmp.path().join("users");
    fs::create_dir_all(users.join("user-7/.openclaw/agents/main/sessions")).unwrap();
    let o = run(zaki(tmp.path())
        .args(["scan", "--no-containers", "--format", "json", "--root"])
        .arg(&users));
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let r = json(&o);
    let msg = r["errors"][0]["message"].as_str().unwrap();
    assert!(
        msg.contains("holds no OpenClaw state dir")
            && msg.contains(&format!("--users-dir {}", users.display())),
        "{r:#}"
    );
    // An empty dir.
    let empty = tmp.path().join("empty");
    fs::create_dir_all(&empty).unwrap();
    let o = run(zaki(tmp.path())
        .args(["clean", "--no-containers", "--root"])
        .arg(&empty));
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    // The right places are fine.
    let o = run(zaki(tmp.path())
        .args(["scan", "--no-containers", "--users-dir"])
        .arg(&users)
        .arg("--root")
        .arg(&state));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn a_clean_next_to_a_watch_says_who_holds_the_run_lock_and_keeps_its_metrics_fresh() {
    let tmp = tempfile::tempdir().unwrap();
    let state = state_dir(tmp.path());
    let watch_metrics = tmp.path().join("watch.prom");
    let watch = Watch::start(
        tmp.path(),
        &[
            "--no-containers",
            "--root",
            state.to_str().unwrap(),
            "--metrics-file",
            watch_metrics.to_str().unwrap(),
        ],
    );
    watch.wait_for(&["event=pass", "trigger=start-up"], Duration::from_secs(30));
    // watch writes the metrics a cron clean would have written.
    let m = prometheus(&fs::read_to_string(&watch_metrics).unwrap());
    assert_eq!(m["zaki_locks_last_run_success{command=watch}"], 1.0);
    assert!(m.contains_key("zaki_locks_last_success_timestamp_seconds{command=watch}"));

    let pid = watch.pid().to_string();
    let o = run(zaki(tmp.path())
        .args(["clean", "--no-containers", "--wait", "0s", "--root"])
        .arg(&state));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains(&format!("pid {pid}"))
            && err.contains("watch")
            && err.contains("stepped aside"),
        "{err}"
    );
    assert!(err.contains("disable this cron job"), "what to do: {err}");

    // --format json: a report that says it stepped aside; --metrics-file: written.
    let metrics = tmp.path().join("clean.prom");
    let o = run(zaki(tmp.path())
        .args([
            "clean",
            "--no-containers",
            "--wait",
            "0s",
            "--format",
            "json",
        ])
        .arg("--root")
        .arg(&state)
        .arg("--metrics-file")
        .arg(&metrics));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r = json(&o);
    assert_eq!(r["stepped_aside"]["pid"].to_string(), pid, "{r:#}");
    assert!(
        r["stepped_aside"]["command"]
            .as_str()
            .unwrap()
            .contains("watch"),
        "{r:#}"
    );
    let m = prometheus(&fs::read_to_string(&metrics).unwrap());
    assert_eq!(m["zaki_locks_stepped_aside{command=clean}"], 1.0);
    assert_eq!(m["zaki_locks_last_run_success{command=clean}"], 1.0);
    let now = chrono::Utc::now().timestamp() as f64;
    let ts = m["zaki_locks_last_success_timestamp_seconds{command=clean}"];
    assert!(
        (now - ts).abs() < 60.0,
        "last success not fresh: {ts} vs {now}"
    );
}

#[test]
fn a_docker_restart_is_one_pass_not_two() {
    docker::require();
    let tmp = tempfile::tempdir().unwrap();
    let prefix = unique("zfc-w-");
    let c = Container::busybox(&format!("{prefix}1"), &[]);
    let watch = Watch::start(
        tmp.path(),
        &["--no-host", "--prefix", &prefix, "--interval", "1h"],
    );
    watch.wait_for(&["event=pass", "trigger=start-up"], Duration::from_secs(30));
    c.restart();
    watch.wait_for(
        &["event=pass", "trigger=container-start", &c.name],
        Duration::from_secs(30),
    );
    // Docker sent start and restart; a second pass would follow within the settle time.
    let more: Vec<String> = watch
        .lines_for(Duration::from_secs(4))
        .into_iter()
        .filter(|l| l.contains("trigger=container-start"))
        .collect();
    assert!(more.is_empty(), "a second pass for one restart: {more:?}");
}

#[test]
fn probe_says_when_it_could_not_look_and_says_refused_once() {
    let tmp = tempfile::tempdir().unwrap();
    let users = tmp.path().join("users.json");
    // A port nothing listens on, a container that does not exist.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    fs::write(
        &users,
        serde_json::json!({"77": {"port": port, "token": "t"}}).to_string(),
    )
    .unwrap();
    let o = run(zaki(tmp.path())
        .args([
            "probe",
            "77",
            "--attempts",
            "1",
            "--prefix",
            &unique("zfc-p-"),
        ])
        .arg("--users-file")
        .arg(&users));
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(5), "{out}\n{}", stderr(&o));
    let user_line = out
        .lines()
        .find(|l| l.contains("user session"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        user_line.contains("could not look") && !user_line.contains("not locked"),
        "{out}"
    );
    assert_eq!(
        out.matches("efused").count(),
        out.matches("refused").count()
    );
    for l in out.lines() {
        assert!(l.matches("efused").count() <= 1, "said twice: {l}");
        assert!(!l.contains("os error"), "{l}");
    }
    assert!(
        out.contains(&format!("nothing listens on 127.0.0.1:{port}")),
        "{out}"
    );
}
