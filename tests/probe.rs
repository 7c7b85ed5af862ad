//! `probe` against a real OpenClaw 2026.2.26 gateway in a container, as on the platform.

use crate::common;

use std::time::{Duration, Instant};

use common::docker::{self, unique};
use common::gateway::Gateway;
use common::*;

fn report(o: &std::process::Output) -> serde_json::Value {
    json(o)
}

fn outcomes(r: &serde_json::Value) -> Vec<String> {
    r["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["outcome"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn ok_auth_failed_session_busy_ok_after_retry_and_not_ready_on_one_gateway() {
    docker::require();
    let tmp = tempfile::tempdir().unwrap();
    let g = Gateway::start(tmp.path(), &unique("ztp-a-"), "4201");

    // Healthy: ok on the first attempt; the timeline names each step; the token never shows.
    let o = g.probe(tmp.path(), &[]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}\n{}", stderr(&o));
    for step in [
        "route",
        "container",
        "health",
        "user session",
        "attempt 1",
        "verdict: ok",
    ] {
        assert!(out.contains(step), "no {step:?} in:\n{out}");
    }
    assert!(!out.contains(&g.token) && !stderr(&o).contains(&g.token));
    let o = g.probe(tmp.path(), &["--format", "json"]);
    let r = report(&o);
    assert_eq!(r["verdict"], "ok");
    assert_eq!(r["container"], g.container.name);
    assert_eq!(r["container_state"], "running");
    assert_eq!(r["port"], g.port);
    assert_eq!(r["health"]["status"], 200);
    assert_eq!(r["attempts"][0]["status"], 200);
    assert!(r["session_lock"].is_null() && r["user_session_lock"].is_null());
    assert!(!String::from_utf8_lossy(&o.stdout).contains(&g.token));
    // Metrics: no user label by default (bounded cardinality); --metrics-user-label adds it.
    let o = g.probe(tmp.path(), &["--format", "prometheus"]);
    let m = prometheus(&stdout(&o));
    assert!(
        m.keys().all(|k| !k.contains("user=")),
        "a user label by default: {m:?}"
    );
    assert_eq!(m["zaki_locks_probe_success{}"], 1.0);
    assert_eq!(m["zaki_locks_probe_verdict{verdict=ok}"], 1.0);
    assert_eq!(m["zaki_locks_probe_verdict{verdict=session-busy}"], 0.0);
    assert_eq!(m["zaki_locks_probe_http_status{}"], 200.0);
    assert_eq!(m["zaki_locks_probe_attempts{}"], 1.0);
    let o = g.probe(
        tmp.path(),
        &["--format", "prometheus", "--metrics-user-label"],
    );
    let m = prometheus(&stdout(&o));
    let user = format!("user={}", g.user);
    assert_eq!(m[&format!("zaki_locks_probe_success{{{user}}}")], 1.0);
    assert_eq!(
        m[&format!("zaki_locks_probe_verdict{{{user},verdict=ok}}")],
        1.0
    );
    // The probe talked as its own session user, not as the user.
    let probe_sid = g
        .session_id("zaki-locks-probe")
        .expect("probe session created");
    assert!(
        g.session_id(&g.user).is_none(),
        "the user's transcript was touched"
    );

    // Wrong token: auth-failed, exit 6.
    let bad = tmp.path().join("bad-users.json");
    std::fs::write(
        &bad,
        serde_json::json!({ g.user.clone(): {"port": g.port, "token": "wrong"} }).to_string(),
    )
    .unwrap();
    let o = run(zaki(tmp.path())
        .args([
            "probe",
            &g.user,
            "--format",
            "json",
            "--prefix",
            &g.prefix,
            "--users-file",
        ])
        .arg(&bad));
    assert_eq!(o.status.code(), Some(6));
    assert_eq!(report(&o)["verdict"], "auth-failed");

    // A live process of the container holds the probe's session: session-busy on every
    // attempt, with the lock named; it is held, not stale, so nothing offers to remove it.
    // It holds the lock file open, as OpenClaw's owner does (a lock nobody holds open is
    // leaked, hence stale): the file is made first, the holder opens it, then the payload
    // names the holder.
    let lock = g.sessions().join(format!("{probe_sid}.jsonl.lock"));
    std::fs::write(&lock, "").unwrap();
    g.container.sh(&format!(
        "sh -c 'exec 3</home/node/.openclaw/agents/main/sessions/{probe_sid}.jsonl.lock; exec sleep 100000' >/dev/null 2>&1 &"
    ));
    let pid: u32 = (0..100)
        .find_map(|_| {
            let found = g.container.sh("pidof sleep || true");
            let pid = found.split_whitespace().next().and_then(|p| p.parse().ok());
            if pid.is_none() {
                std::thread::sleep(Duration::from_millis(50));
            }
            pid
        })
        .expect("the holder started");
    std::fs::write(&lock, legacy_payload(pid, Duration::ZERO)).unwrap();
    let started = Instant::now();
    let o = g.probe(
        tmp.path(),
        &["--attempts", "2", "--backoff", "1s", "--format", "json"],
    );
    let r = report(&o);
    assert_eq!(o.status.code(), Some(3), "{r:#}");
    assert_eq!(r["verdict"], "session-busy");
    assert_eq!(outcomes(&r), ["session-busy", "session-busy"]);
    assert!(
        r["attempts"][0]["detail"]
            .as_str()
            .unwrap()
            .contains(&format!("held by live pid {pid} (sleep)")),
        "{r:#}"
    );
    assert_eq!(r["attempts"][0]["status"], 500);
    assert!(
        r["session_lock"]["path"]
            .as_str()
            .unwrap()
            .ends_with(&format!("{probe_sid}.jsonl.lock"))
    );
    assert_eq!(r["session_lock"]["owner_state"], "alive");
    assert!(r["fix"].is_null());
    assert!(
        started.elapsed() > Duration::from_secs(20),
        "OpenClaw waits 10 s per attempt"
    );
    std::fs::remove_file(&lock).unwrap();

    // The retry path, on purpose: a 12 s lock makes attempt 1 fail and attempt 2 succeed.
    let o = g.probe(tmp.path(), &["--inject-lock", "12s", "--format", "json"]);
    let r = report(&o);
    assert_eq!(o.status.code(), Some(0), "{r:#}\n{}", stderr(&o));
    assert_eq!(r["verdict"], "ok-after-retry");
    assert_eq!(outcomes(&r)[0], "session-busy");
    assert_eq!(outcomes(&r).last().unwrap(), "ok");
    assert!(!lock.exists(), "the injected lock outlived the probe");

    // Ctrl-C while the injected lock holds the session: the lock goes with the probe.
    let child = Proc::spawn(
        zaki(tmp.path())
            .args([
                "probe",
                &g.user,
                "--inject-lock",
                "5m",
                "--prefix",
                &g.prefix,
                "--users-file",
            ])
            .arg(&g.users_file)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped()),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while !lock.exists() {
        assert!(Instant::now() < deadline, "the probe never placed its lock");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_secs(2));
    // The probe holds its injected lock open, as OpenClaw does: a clean meanwhile keeps it.
    let c = run(zaki(tmp.path())
        .args(["clean", "--no-containers", "--format", "json", "--root"])
        .arg(&g.state));
    let cr: serde_json::Value = serde_json::from_slice(&c.stdout).unwrap();
    let injected = cr["locks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| {
            l["path"]
                .as_str()
                .unwrap()
                .ends_with(&format!("{probe_sid}.jsonl.lock"))
        })
        .unwrap_or_else(|| panic!("{cr:#}"));
    assert_eq!(injected["held_open"], true, "{cr:#}");
    assert_eq!(injected["action"], "kept", "{cr:#}");
    assert!(lock.exists(), "a clean removed the probe's held lock");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let o = child.wait_with_output();
    assert_eq!(o.status.code(), Some(130), "{}", stderr(&o));
    assert!(
        !lock.exists(),
        "the injected lock outlived an interrupted probe"
    );

    // Container stopped: not-ready, exit 5.
    g.container.stop();
    let o = g.probe(
        tmp.path(),
        &["--attempts", "2", "--backoff", "0s", "--format", "json"],
    );
    let r = report(&o);
    assert_eq!(o.status.code(), Some(5), "{r:#}");
    assert_eq!(r["verdict"], "not-ready");
    assert_eq!(r["container_state"], "exited");
}

#[test]
fn after_a_restart_mid_reply_the_user_is_stuck_until_clean_removes_the_stale_lock() {
    docker::require();
    let tmp = tempfile::tempdir().unwrap();
    let g = Gateway::start(tmp.path(), &unique("ztp-b-"), "4202");
    // A reply in flight for the user when the container dies; then it starts again.
    let lock = g.kill_mid_reply();
    assert!(
        docker::docker(&["start", &g.container.name])
            .status
            .success()
    );
    g.wait_healthy(Duration::from_secs(120));
    assert!(lock.exists(), "the killed gateway's lock is left behind");

    // The probe's own session answers, but the user's is blocked: the verdict is about the
    // user's bot, so session-busy with the fix, exit 3, and a failed probe in the metrics.
    let o = g.probe(tmp.path(), &["--attempts", "1"]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(3), "{out}\n{}", stderr(&o));
    assert!(
        out.contains(&format!(
            "verdict: session-busy; to fix: zaki-locks clean --container {}",
            g.container.name
        )),
        "{out}"
    );
    let o = g.probe(tmp.path(), &["--attempts", "1", "--format", "json"]);
    let r = report(&o);
    assert_eq!(r["attempts"][0]["outcome"], "ok", "{r:#}");
    assert_eq!(r["verdict"], "session-busy", "{r:#}");
    assert_eq!(r["user_session_lock"]["stale"], true);
    assert!(r["user_session_error"].is_null());
    let o = g.probe(tmp.path(), &["--attempts", "1", "--format", "prometheus"]);
    let m = prometheus(&stdout(&o));
    assert_eq!(m["zaki_locks_probe_success{}"], 0.0);
    assert_eq!(m["zaki_locks_probe_verdict{verdict=session-busy}"], 1.0);

    let o = g.probe(
        tmp.path(),
        &["--as-user", "--attempts", "1", "--format", "json"],
    );
    let r = report(&o);
    assert_eq!(o.status.code(), Some(3), "{r:#}");
    assert_eq!(r["verdict"], "session-busy");
    assert_eq!(r["session_lock"]["stale"], true, "{r:#}");
    assert_eq!(r["user_session_lock"]["stale"], true);
    assert_eq!(
        r["fix"],
        format!("zaki-locks clean --container {}", g.container.name)
    );

    let o = run(zaki(tmp.path()).args([
        "clean",
        "--no-host",
        "--container",
        &g.container.name,
        "--format",
        "json",
    ]));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(json(&o)["summary"]["removed"], 1);
    assert!(!lock.exists());

    let o = g.probe(
        tmp.path(),
        &["--as-user", "--attempts", "1", "--format", "json"],
    );
    let r = report(&o);
    assert_eq!(o.status.code(), Some(0), "{r:#}");
    assert_eq!(r["verdict"], "ok");
}

#[test]
fn a_bad_router_table_is_one_line_and_exit_1() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("users.json");
    let cases: [(&str, Option<&str>, &str); 6] = [
        ("missing file", None, "cannot read the router table"),
        ("empty", Some(""), "the file is empty"),
        ("not JSON", Some("{oops"), "not JSON"),
        (
            "no such user",
            Some(r#"{"7": {"port": 1, "token": "t"}}"#),
            "is not in the router table",
        ),
        ("no port", Some(r#"{"42": {"token": "t"}}"#), "no port"),
        (
            "bad port",
            Some(r#"{"42": {"port": 70000, "token": "t"}}"#),
            "not a TCP port",
        ),
    ];
    for (what, body, want) in cases {
        match body {
            Some(b) => std::fs::write(&file, b).unwrap(),
            None => {
                let _ = std::fs::remove_file(&file);
            }
        }
        let o = run(zaki(tmp.path())
            .args(["probe", "42", "--users-file"])
            .arg(&file));
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{what}: {err}");
        assert_eq!(err.lines().count(), 1, "{what}: {err}");
        assert!(err.contains(want), "{what}: {err}");
    }
}
