//! Newer OpenClaw releases on real gateways in containers: the SQLite era (2026.9.6: turns,
//! orphan claims, the restart remedy, read-only access), a 2026.7 state dir migrated by
//! 2026.9.6 (leftover locks), and the lock-file era's 2026.7.35 (a legacy lock after an
//! upgrade). One gateway at a time: each start takes 20–30 s on 2 cores.

use crate::common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::docker::{self, unique};
use common::gateway::{Gateway, GatewayOpts, V2026_7_35, V2026_9_6};
use common::*;
use serde_json::Value;

/// At most one gateway at a time in this file.
static ONE_GATEWAY: Mutex<()> = Mutex::new(());

fn one_gateway() -> std::sync::MutexGuard<'static, ()> {
    ONE_GATEWAY.lock().unwrap_or_else(|e| e.into_inner())
}

/// `clean --restart-orphaned` of the gateway's container, its log lines as kv.
fn restart_orphaned(tmp: &Path, g: &Gateway) -> std::process::Output {
    run(zaki(tmp).args([
        "clean",
        "--no-host",
        "--prefix",
        &g.prefix,
        "--restart-orphaned",
        "--log-format",
        "kv",
    ]))
}

/// `POST /v1/chat/completions` as the router sends it: (status, elapsed).
fn send(g: &Gateway, user: &str, timeout: Duration) -> (u16, Duration) {
    let body = serde_json::json!({"model": "openclaw", "user": user,
        "messages": [{"role": "user", "content": "hello"}]})
    .to_string();
    let started = Instant::now();
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", g.port)) else {
        return (0, started.elapsed());
    };
    s.set_read_timeout(Some(timeout)).unwrap();
    write!(
        s,
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        g.token,
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    let status = out
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, started.elapsed())
}

fn scan_json(tmp: &Path, g: &Gateway) -> Value {
    let o = run(zaki(tmp).args([
        "scan",
        "--no-host",
        "--prefix",
        &g.prefix,
        "--format",
        "json",
    ]));
    json(&o)
}

/// The place of the gateway's state dir in a JSON report.
fn place(report: &Value) -> Value {
    let places = report["places"].as_array().expect("places array");
    assert_eq!(places.len(), 1, "{report:#}");
    places[0].clone()
}

/// Size, mtime and bytes of each database file of a 2026.8+ state dir.
fn db_files(state: &Path) -> BTreeMap<PathBuf, (u64, std::time::SystemTime, Vec<u8>)> {
    let mut out = BTreeMap::new();
    for dir in ["state", "agents/main/agent"] {
        for e in std::fs::read_dir(state.join(dir)).unwrap().flatten() {
            let p = e.path();
            if p.to_string_lossy().contains(".sqlite") {
                let m = std::fs::metadata(&p).unwrap();
                out.insert(
                    p.clone(),
                    (m.len(), m.modified().unwrap(), std::fs::read(&p).unwrap()),
                );
            }
        }
    }
    assert!(out.len() >= 4, "databases and their WAL: {:?}", out.keys());
    out
}

/// Writes an orphan turn claim into the running gateway's state database, as
/// openclaw/openclaw#146692 leaves one: a claim with no running turn behind it. The only way
/// found to reproduce it here (start-up clears claims, so it cannot be planted before).
fn plant_orphan_claim(state: &Path, session_key: &str) {
    let script = format!(
        "import sqlite3\nc = sqlite3.connect({:?}, timeout=10)\nn = c.execute(\"UPDATE worker_session_placements SET turn_claim_owner='local', turn_claim_id='zaki-test-orphan', turn_claim_run_id='zaki-test-run', turn_claim_generation=0, updated_at_ms=updated_at_ms-60000 WHERE session_key=?\", ({session_key:?},)).rowcount\nc.commit()\nassert n == 1, n\n",
        state.join("state/openclaw.sqlite").to_string_lossy()
    );
    let o = Command::new("python3")
        .arg("-c")
        .arg(script)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// Runs python3's sqlite3 `code` with `st` (the state database) and `ag` (the main agent's)
/// open, as OpenClaw's own writes would be: how the stuck shapes upstream reports are written
/// into a live gateway's databases (they cannot be provoked on demand).
fn write_db(state: &Path, key: &str, code: &str) {
    let script = format!(
        "import sqlite3, json\nst = sqlite3.connect({:?}, timeout=10)\nag = sqlite3.connect({:?}, timeout=10)\nkey = {key:?}\n{code}\nst.commit(); ag.commit()\n",
        state.join("state/openclaw.sqlite").to_string_lossy(),
        state
            .join("agents/main/agent/openclaw-agent.sqlite")
            .to_string_lossy(),
    );
    let o = Command::new("python3")
        .arg("-c")
        .arg(script)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// openclaw/openclaw#125555: a claim left on a killed session (`status: killed`,
/// `abortedLastRun: true`, the placement still `turn_claim_owner: local`).
const KILLED_SESSION_CLAIM: &str = "e = json.loads(ag.execute('SELECT entry_json FROM session_nodes WHERE session_key=?', (key,)).fetchone()[0])
e['status'] = 'killed'; e['abortedLastRun'] = True
assert ag.execute(\"UPDATE session_nodes SET entry_json=?, status='killed' WHERE session_key=?\", (json.dumps(e), key)).rowcount == 1
assert st.execute(\"UPDATE worker_session_placements SET turn_claim_owner='local', turn_claim_id='zaki-test-killed', turn_claim_run_id='zaki-test-killed-run', turn_claim_generation=0, updated_at_ms=updated_at_ms-60000 WHERE session_key=?\", (key,)).rowcount == 1";

/// openclaw/openclaw#140467: `status=running`, `abortedLastRun=false`, a stale
/// `restartRecoveryDeliveryRunId`, no claim, left 11 minutes ago: the row's `updated_at` and the
/// entry's own times moved back together (moving back only the column makes 2026.9.6 answer
/// 500 for the inconsistency itself: measured, and not upstream's shape).
const RECOVERY_WEDGE: &str = "e = json.loads(ag.execute('SELECT entry_json FROM session_nodes WHERE session_key=?', (key,)).fetchone()[0])
old = e['updatedAt'] - 660000
for k in ['updatedAt', 'lastInteractionAt', 'lastActivityAt', 'startedAt']:
    if k in e: e[k] = old
e.pop('endedAt', None); e.pop('runtimeMs', None)
e['status'] = 'running'; e['abortedLastRun'] = False; e['activeWriterRunId'] = 'zaki-test-stale'; e['restartRecoveryDeliveryRunId'] = 'zaki-test-stale'
assert ag.execute(\"UPDATE session_nodes SET entry_json=?, status='running', updated_at=? WHERE session_key=?\", (json.dumps(e), old, key)).rowcount == 1";

/// The session of `key` in a JSON report's only place.
fn session_of(report: &Value, key: &str) -> Value {
    place(report)["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["session_key"] == key)
        .cloned()
        .unwrap_or_else(|| panic!("no session {key}: {report:#}"))
}

fn started_at(name: &str) -> String {
    let o = docker::docker(&["inspect", "-f", "{{.State.StartedAt}}", name]);
    String::from_utf8_lossy(&o.stdout).trim().to_owned()
}

#[test]
fn sqlite_era_running_turn_orphan_claim_and_restart_on_2026_9_6() {
    docker::require();
    let _one = one_gateway();
    let tmp = tempfile::tempdir().unwrap();
    let opts = GatewayOpts {
        version: V2026_9_6,
        env: Vec::new(),
    };
    let g = Gateway::start_with(tmp.path(), &unique("zk14s-"), "1401", &opts);
    let key = format!("agent:main:openai-user:{}", g.user);
    assert_eq!(send(&g, &g.user, Duration::from_secs(60)).0, 200);
    // Two more users' sessions, for the stuck shapes below.
    let (killed_user, wedge_user) = ("1411", "1412");
    let killed_key = format!("agent:main:openai-user:{killed_user}");
    let wedge_key = format!("agent:main:openai-user:{wedge_user}");
    assert_eq!(send(&g, killed_user, Duration::from_secs(60)).0, 200);
    assert_eq!(send(&g, wedge_user, Duration::from_secs(60)).0, 200);

    // Idle: a SQLite-era place, never "0 locks" alone.
    let o = run(zaki(tmp.path()).args(["scan", "--no-host", "--prefix", &g.prefix]));
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}\n{}", stderr(&o));
    assert!(out.contains("1 SQLite-era place"), "{out}");
    assert!(
        out.contains("sqlite 2026.9.6") && out.contains("idle"),
        "{out}"
    );
    let p = place(&scan_json(tmp.path(), &g));
    assert_eq!(p["era"], "sqlite");
    assert_eq!(p["version"], "2026.9.6");
    assert_eq!(p["gateway"]["pid"], 1, "{p:#}");
    assert_eq!(p["gateway"]["liveness"], "alive", "{p:#}");

    // A reply in flight: a running turn, its claim naming the run that writes. Nothing to fix.
    g.llm.set_delay(60.0);
    let inflight = std::thread::scope(|s| {
        let h = s.spawn(|| send(&g, &g.user, Duration::from_secs(90)));
        let deadline = Instant::now() + Duration::from_secs(30);
        let running = loop {
            let r = scan_json(tmp.path(), &g);
            if r["summary"]["running_turns"] == 1 {
                break r;
            }
            assert!(Instant::now() < deadline, "no running turn seen: {r:#}");
            std::thread::sleep(Duration::from_millis(300));
        };
        let o = run(zaki(tmp.path()).args([
            "scan",
            "--no-host",
            "--prefix",
            &g.prefix,
            "--fail-on-stale",
        ]));
        g.llm.set_delay(0.0);
        (running, o, h.join().unwrap())
    });
    let (running, fail_on_stale, reply) = inflight;
    let s = &place(&running)["sessions"][0];
    assert_eq!(s["session_key"], key.as_str());
    assert_eq!(s["state"], "running", "{s:#}");
    assert_eq!(s["status"], "running");
    assert_eq!(s["claim"]["run_id"], s["active_writer_run_id"], "{s:#}");
    assert_eq!(running["summary"]["orphan_claims"], 0);
    assert_eq!(
        fail_on_stale.status.code(),
        Some(0),
        "{}",
        stdout(&fail_on_stale)
    );
    assert_eq!(reply.0, 200);

    // An orphan claim: every message fails at once.
    plant_orphan_claim(&g.state, &key);
    let (status, took) = send(&g, &g.user, Duration::from_secs(30));
    assert_eq!(status, 500);
    assert!(took < Duration::from_secs(5), "{took:?}");

    // Every read-only command, with the databases' bytes and mtimes compared around them. The
    // gateway itself writes a heartbeat every 30 s, so a change is only blamed on zaki-locks
    // when it happens on three tries in a row.
    let container_started = started_at(&g.container.name);
    let mut unchanged = false;
    for _ in 0..3 {
        let before = db_files(&g.state);
        let r = scan_json(tmp.path(), &g);
        let o = run(zaki(tmp.path()).args([
            "scan",
            "--no-host",
            "--prefix",
            &g.prefix,
            "--fail-on-stale",
        ]));
        let m = run(zaki(tmp.path()).args([
            "scan",
            "--no-host",
            "--prefix",
            &g.prefix,
            "--format",
            "prometheus",
        ]));
        let c = run(zaki(tmp.path()).args([
            "clean",
            "--no-host",
            "--prefix",
            &g.prefix,
            "--log-format",
            "human",
        ]));
        let d = run(zaki(tmp.path()).args([
            "clean",
            "--no-host",
            "--prefix",
            &g.prefix,
            "--dry-run",
            "--restart-orphaned",
        ]));
        let after = db_files(&g.state);

        let p = place(&r);
        let s = &p["sessions"][0];
        assert_eq!(s["state"], "orphan", "{p:#}");
        assert_eq!(s["reasons"], serde_json::json!(["no-running-turn"]));
        assert_eq!(s["claim"]["run_id"], "zaki-test-run");
        assert_eq!(r["summary"]["orphan_claims"], 1);
        assert_eq!(o.status.code(), Some(3), "{}", stdout(&o));
        assert!(stdout(&o).contains("orphan claim"), "{}", stdout(&o));
        let m = prometheus(&stdout(&m));
        assert_eq!(m["zaki_locks_orphan_claims{command=scan}"], 1.0);
        assert_eq!(m["zaki_locks_places{command=scan,era=sqlite}"], 1.0);
        assert_eq!(c.status.code(), Some(0), "{}", stderr(&c));
        let fix = format!(
            "zaki-locks clean --restart-orphaned --container {}",
            g.container.name
        );
        assert!(stdout(&c).contains(&fix), "{}", stdout(&c));
        assert!(stdout(&d).contains("would-restart"), "{}", stdout(&d));
        if before == after {
            unchanged = true;
            break;
        }
        std::thread::sleep(Duration::from_secs(2));
    }
    assert!(unchanged, "the databases changed under read-only commands");
    assert_eq!(
        started_at(&g.container.name),
        container_started,
        "restarted without the flag"
    );

    // probe, as the user: the 500 is named for what it is, with the fix.
    let o = g.probe(
        tmp.path(),
        &["--as-user", "--attempts", "1", "--format", "json"],
    );
    let r = json(&o);
    assert_eq!(o.status.code(), Some(3), "{r:#}");
    assert_eq!(r["verdict"], "session-busy");
    assert_eq!(r["attempts"][0]["status"], 500);
    let detail = r["attempts"][0]["detail"].as_str().unwrap();
    assert!(detail.contains("orphan turn claim"), "{detail}");
    assert_eq!(r["session_turn"]["claim"]["id"], "zaki-test-orphan");
    assert!(
        r["fix"].as_str().unwrap().contains("--restart-orphaned"),
        "{r:#}"
    );

    // probe as itself (its own session answers 200): the verdict is the user's session's.
    let o = g.probe(tmp.path(), &["--attempts", "1", "--format", "json"]);
    let r = json(&o);
    assert_eq!(o.status.code(), Some(3), "{r:#}");
    assert_eq!(r["verdict"], "session-busy", "{r:#}");
    assert_eq!(r["attempts"][0]["status"], 200, "{r:#}");
    assert_eq!(r["user_session_turn"]["claim"]["id"], "zaki-test-orphan");
    assert_eq!(r["user_session_turn"]["shape"], "orphan-claim", "{r:#}");
    assert_eq!(r["user_session_turn"]["issue"], "openclaw/openclaw#146692");
    assert_eq!(
        r["fix"],
        format!(
            "zaki-locks clean --restart-orphaned --container {}",
            g.container.name
        ),
        "{r:#}"
    );

    // #125555, a claim on a killed session, and #140467, a recovery wedge (2026.9.6 does not
    // keep it: the next message answers 200 and the node is done, so this release's is not
    // named).
    write_db(&g.state, &killed_key, KILLED_SESSION_CLAIM);
    write_db(&g.state, &wedge_key, RECOVERY_WEDGE);
    let r = scan_json(tmp.path(), &g);
    let k = session_of(&r, &killed_key);
    assert_eq!(k["state"], "orphan", "{k:#}");
    assert_eq!(k["shape"], "killed-session-claim", "{k:#}");
    assert_eq!(k["issue"], "openclaw/openclaw#125555");
    let w = session_of(&r, &wedge_key);
    assert_eq!(
        (&w["state"], &w["shape"]),
        (&"running".into(), &Value::Null),
        "{w:#}"
    );
    let m = prometheus(&stdout(&run(zaki(tmp.path()).args([
        "scan",
        "--no-host",
        "--prefix",
        &g.prefix,
        "--format",
        "prometheus",
    ]))));
    assert_eq!(
        m["zaki_locks_stuck_sessions{command=scan,shape=orphan-claim}"],
        1.0
    );
    assert_eq!(
        m["zaki_locks_stuck_sessions{command=scan,shape=killed-session-claim}"],
        1.0
    );
    let out = stdout(&run(zaki(tmp.path()).args([
        "scan",
        "--no-host",
        "--prefix",
        &g.prefix,
    ])));
    assert!(
        out.contains("killed-session-claim (openclaw/openclaw#125555)")
            && out.contains("to fix: zaki-locks clean --restart-orphaned"),
        "{out}"
    );
    // Every message of the killed session's user fails at once too; 2026.9.6 then marks the
    // session failed and clears abortedLastRun: from then on an orphan claim like any other.
    let (status, took) = send(&g, killed_user, Duration::from_secs(30));
    eprintln!("2026.9.6, claim on a killed session: HTTP {status} in {took:?}");
    assert_eq!(status, 500);
    let k = session_of(&scan_json(tmp.path(), &g), &killed_key);
    assert_eq!(
        (&k["status"], &k["shape"]),
        (&"failed".into(), &"orphan-claim".into()),
        "{k:#}"
    );
    let (status, took) = send(&g, wedge_user, Duration::from_secs(60));
    eprintln!("2026.9.6, recovery wedge: HTTP {status} in {took:?}");
    assert_eq!(status, 200);

    // The remedy: a container up for under a minute is left to start up; then restarted.
    let up = Instant::now();
    let o = restart_orphaned(tmp.path(), &g);
    let mut out = stdout(&o);
    // Up for less than a minute (a fast start-up): left alone, then restarted on the next run.
    let o = if out.contains("action=starting") {
        std::thread::sleep(Duration::from_secs(60).saturating_sub(up.elapsed()));
        let o = restart_orphaned(tmp.path(), &g);
        out = stdout(&o);
        o
    } else {
        o
    };
    assert_eq!(o.status.code(), Some(0), "{out}\n{}", stderr(&o));
    assert!(
        out.contains("action=restarted") && out.contains(&g.container.name),
        "{out}"
    );
    assert_ne!(started_at(&g.container.name), container_started);
    g.wait_healthy(Duration::from_secs(120));
    assert_eq!(send(&g, &g.user, Duration::from_secs(60)).0, 200);
    // The restart cleared the killed session's claim too.
    assert_eq!(send(&g, killed_user, Duration::from_secs(60)).0, 200);
    let r = scan_json(tmp.path(), &g);
    assert_eq!(r["summary"]["orphan_claims"], 0, "{r:#}");

    // A claim back right after the restart survived it: not restarted again, backed off,
    // remembered across runs; each run short.
    let restarted = started_at(&g.container.name);
    plant_orphan_claim(&g.state, &key);
    for _ in 0..2 {
        let t = Instant::now();
        let o = restart_orphaned(tmp.path(), &g);
        let out = stdout(&o);
        assert!(
            out.contains("action=survives-restart"),
            "{out}\n{}",
            stderr(&o)
        );
        assert!(t.elapsed() < Duration::from_secs(15), "{:?}", t.elapsed());
    }
    assert_eq!(started_at(&g.container.name), restarted, "restarted again");
}

/// The lock in a JSON report whose file name ends with `suffix`.
fn lock_named<'a>(report: &'a Value, suffix: &str) -> &'a Value {
    report["locks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["path"].as_str().unwrap().ends_with(suffix))
        .unwrap_or_else(|| panic!("no lock {suffix} in {report:#}"))
}

#[test]
fn lock_file_era_upgrade_and_migration_2026_7_35_then_2026_9_6() {
    docker::require();
    let _one = one_gateway();
    let tmp = tempfile::tempdir().unwrap();
    let prefix = unique("zk14m-");
    let user = "1402";
    let key = format!("agent:main:openai-user:{user}");
    let leftover = {
        let g = Gateway::start_with(
            tmp.path(),
            &prefix,
            user,
            &GatewayOpts {
                version: V2026_7_35,
                env: vec![(
                    "OPENCLAW_SESSION_WRITE_LOCK_MAX_HOLD_MS".into(),
                    "8000".into(),
                )],
            },
        );
        assert_eq!(send(&g, user, Duration::from_secs(60)).0, 200);
        let sid = g.session_id(user).expect("session created");

        // A reply held past the payload's maxHoldMs: `--held-over` without a value uses it.
        g.llm.set_delay(25.0);
        let (held, reply) = std::thread::scope(|s| {
            let h = s.spawn(|| send(&g, user, Duration::from_secs(90)));
            let lock = g.sessions().join(format!("{sid}.jsonl.lock"));
            let deadline = Instant::now() + Duration::from_secs(20);
            while !lock.exists() {
                assert!(
                    Instant::now() < deadline,
                    "no lock while a reply is in flight"
                );
                std::thread::sleep(Duration::from_millis(100));
            }
            // 2026.7.35 ends a run at its max hold (the reply came back after ~10.8 s with
            // maxHoldMs 8000): scan just past 8 s, and again while the lock is there.
            let seen = Instant::now();
            std::thread::sleep(Duration::from_millis(8200));
            let args = |extra: &[&str]| {
                let mut a = vec![
                    "scan",
                    "--no-host",
                    "--prefix",
                    prefix.as_str(),
                    "--format",
                    "json",
                ];
                a.extend_from_slice(extra);
                run(zaki(tmp.path()).args(a))
            };
            let mut held = args(&["--held-over", "--fail-on-held"]);
            while held.status.code() != Some(3) && lock.exists() && seen.elapsed().as_secs() < 12 {
                held = args(&["--held-over", "--fail-on-held"]);
            }
            g.llm.set_delay(0.0);
            (held, h.join().unwrap())
        });
        let r = json(&held);
        eprintln!(
            "2026.7.35, maxHoldMs 8000, reply held 25 s: HTTP {} after {:?}; scan: {:#}",
            reply.0, reply.1, r["locks"]
        );
        assert_eq!(held.status.code(), Some(3), "{r:#}");
        let l = lock_named(&r, ".jsonl.lock");
        assert_eq!(l["max_hold_ms"], 8000, "{l:#}");
        assert!(l["age_seconds"].as_i64().unwrap() >= 8, "{l:#}");
        // OpenClaw's own name for it (report-only: the owner lives and holds it open), and
        // issue 10's: held open past its max hold, never removed.
        let reasons = l["reasons"].as_array().unwrap();
        assert!(reasons.iter().any(|x| x == "hold-exceeded"), "{l:#}");
        assert_eq!(l["stale"], false, "{l:#}");
        assert_eq!(l["wedged"], true, "{l:#}");

        // The place: lock-file era, its gateway's version read through the container's root.
        let r = scan_json(tmp.path(), &g);
        let p = place(&r);
        assert_eq!(p["era"], "lock-file", "{p:#}");
        assert_eq!(p["version"], "2026.7.35", "{p:#}");
        assert!(p["sessions"].as_array().unwrap().is_empty());

        // OpenClaw 2026.5.12+'s non-openclaw-owner: a live `sleep` of the container (its
        // starttime matching) owns the lock; this gateway reclaims such a lock, so clean does.
        g.container.sh("sleep 100000 >/dev/null 2>&1 &");
        let sleep_pid: u32 = g
            .container
            .sh("pidof sleep")
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let st = g.container.starttime(u64::from(sleep_pid));
        let lock = g.sessions().join(format!("{sid}.jsonl.lock"));
        std::fs::write(&lock, starttime_payload(sleep_pid, Duration::ZERO, st)).unwrap();
        let r = scan_json(tmp.path(), &g);
        let l = lock_named(&r, ".jsonl.lock");
        assert_eq!(l["owner_state"], "alive", "{l:#}");
        let reasons = l["reasons"].as_array().unwrap();
        assert!(reasons.iter().any(|x| x == "non-openclaw-owner"), "{l:#}");
        assert_eq!(l["stale"], true, "{l:#}");
        let o = run(zaki(tmp.path()).args(["clean", "--no-host", "--prefix", &prefix]));
        assert!(!lock.exists(), "{}", stdout(&o));
        g.container.sh("kill $(pidof sleep)");

        // An upgrade's leftover: a 2026.2-format lock (no starttime) whose pid is now a
        // thread of the 2026.7.35 gateway, 31 min old: every message fails (too-old is
        // report-only for a live owner), through restarts, until the file goes.
        let tid = g.container.thread_ids()[0];
        let lock = g.sessions().join(format!("{sid}.jsonl.lock"));
        std::fs::write(
            &lock,
            legacy_payload(tid as u32, Duration::from_secs(31 * 60)),
        )
        .unwrap();
        let (status, took) = send(&g, user, Duration::from_secs(90));
        assert_eq!(status, 500, "blocked by the legacy lock ({took:?})");
        let r = scan_json(tmp.path(), &g);
        let l = lock_named(&r, ".jsonl.lock");
        assert_eq!(l["stale"], true, "{l:#}");
        assert_eq!(l["owner_state"], "thread", "{l:#}");
        assert!(
            l["note"]
                .as_str()
                .unwrap()
                .contains("left by an older OpenClaw (no starttime); OpenClaw 2026.7.35"),
            "{l:#}"
        );
        let o = run(zaki(tmp.path()).args([
            "clean",
            "--no-host",
            "--prefix",
            &prefix,
            "--log-format",
            "human",
        ]));
        assert!(stdout(&o).contains("removed"), "{}", stdout(&o));
        assert!(!lock.exists());
        assert_eq!(send(&g, user, Duration::from_secs(60)).0, 200);

        // Leave a lock the way the platform does: the container killed mid-reply.
        g.kill_mid_reply()
    };

    // The same state dir under 2026.9.6: migrated to SQLite, the old lock left behind.
    let g = Gateway::start_with(
        tmp.path(),
        &prefix,
        user,
        &GatewayOpts {
            version: V2026_9_6,
            env: Vec::new(),
        },
    );
    assert!(leftover.exists(), "2026.9.6 removed the old lock itself");
    let r = scan_json(tmp.path(), &g);
    let p = place(&r);
    assert_eq!(p["era"], "sqlite", "{p:#}");
    assert_eq!(p["version"], "2026.9.6", "{p:#}");
    assert!(p["leftover_sessions_dirs"].as_u64().unwrap() >= 1, "{p:#}");
    let name = leftover.file_name().unwrap().to_string_lossy().into_owned();
    let l = lock_named(&r, &name);
    assert!(
        l["note"]
            .as_str()
            .unwrap()
            .contains("leftover of the migration to SQLite"),
        "{l:#}"
    );
    assert_eq!(send(&g, user, Duration::from_secs(60)).0, 200);

    let o = run(zaki(tmp.path()).args(["scan", "--no-host", "--prefix", &prefix]));
    let out = stdout(&o);
    assert!(out.contains("leftover of the migration"), "{out}");
    assert!(out.contains("1 SQLite-era place"), "{out}");
    let _ = key;

    // `openclaw update cleanup --yes` refuses when its recovery destination database changed
    // since its preview ("Recovery destination database changed", seen upstream after a
    // read-only `openclaw sessions --json`, #140467): a scan in between must not cause that.
    // 2026.9.6 runs it only with the gateway stopped ("Cannot run update recovery cleanup while
    // the Gateway … owns this OpenClaw state directory"): stopped, then run in a one-off
    // container on the same mounts.
    g.container.stop();
    let cleanup = |args: &[&str]| {
        let c = docker::Container::run(
            &unique("zk20u-"),
            &["-e", "HOME=/home/node", "--volumes-from", &g.container.name],
            docker::BUSYBOX,
            &[
                &[
                    "/opt/node/bin/node",
                    "/opt/openclaw/node_modules/openclaw/openclaw.mjs",
                ][..],
                &["update", "cleanup", "--json"],
                args,
            ]
            .concat(),
        );
        docker::docker(&["wait", &c.name]);
        let o = docker::docker(&["logs", &c.name]);
        String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
    };
    let preview = cleanup(&["--dry-run"]);
    assert!(
        preview.contains("\"candidate\""),
        "nothing to clean up: {preview}"
    );
    let _ = scan_json(tmp.path(), &g);
    let done = cleanup(&["--yes"]);
    eprintln!("2026.9.6 update cleanup --yes after a scan: {done}");
    assert!(
        !done.contains("changed") && !done.contains("\"blocked\"") && done.contains("\"status\""),
        "{done}"
    );
}
