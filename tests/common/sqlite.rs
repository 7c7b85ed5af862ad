//! Real SQLite databases with the tables and columns OpenClaw 2026.9.6 has, written in WAL mode
//! by a real writer process (python3's sqlite3), as a live gateway keeps them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::Proc;

pub const STATE_SCHEMA: &str = "
CREATE TABLE schema_meta (meta_key TEXT PRIMARY KEY, app_version TEXT);
CREATE TABLE worker_session_placements (session_id TEXT PRIMARY KEY, agent_id TEXT, session_key TEXT,
  state TEXT, turn_claim_owner TEXT, turn_claim_id TEXT, turn_claim_run_id TEXT,
  turn_claim_generation INTEGER, updated_at_ms INTEGER);
CREATE TABLE state_leases (scope TEXT, lease_key TEXT, owner TEXT, expires_at INTEGER,
  heartbeat_at INTEGER, payload_json TEXT, created_at INTEGER, updated_at INTEGER);
CREATE TABLE gateway_boot_lifecycle (boot_id TEXT PRIMARY KEY, pid INTEGER, started_at_ms INTEGER,
  completed_at_ms INTEGER, outcome TEXT);
";
pub const AGENT_SCHEMA: &str = "
CREATE TABLE session_nodes (session_key TEXT PRIMARY KEY, current_session_id TEXT, entry_json TEXT,
  status TEXT, updated_at INTEGER);
";

/// A python3 process that writes both databases in WAL mode and keeps them open (no
/// checkpoint), as a live gateway does; killed on drop.
pub struct Writer(pub Child);

impl Drop for Writer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Creates `<state>/state/openclaw.sqlite` and `<state>/agents/main/agent/openclaw-agent.sqlite`
/// with an orphan claim (no running turn) and a lease owned by `owner` (pid, starttime). With
/// `hold`, the writer stays alive with the rows only in the WAL; else it closes cleanly.
pub fn databases(state: &Path, owner: (u32, u64), hold: bool) -> Option<Writer> {
    databases_with(state, owner, hold, false)
}

/// [`databases`], with the claim's turn running (`running`) or not.
pub fn databases_with(
    state: &Path,
    owner: (u32, u64),
    hold: bool,
    running: bool,
) -> Option<Writer> {
    std::fs::create_dir_all(state.join("state")).unwrap();
    std::fs::create_dir_all(state.join("agents/main/agent")).unwrap();
    let now = now_ms();
    let script = format!(
        r#"
import sqlite3, sys, time
def db(path, schema, rows):
    c = sqlite3.connect(path, isolation_level=None)
    c.execute("PRAGMA journal_mode=WAL")
    c.execute("PRAGMA wal_autocheckpoint=0")
    c.executescript(schema)
    for sql, args in rows:
        c.execute(sql, args)
    return c
s = db({state_db:?}, {state_schema:?}, [
  ("INSERT INTO schema_meta VALUES ('primary', '2026.9.6')", ()),
  ("INSERT INTO worker_session_placements VALUES ('s1','main','agent:main:openai-user:7','local','local','claim-1','run-orphan',0,?)", ({now} - 120000,)),
  ("INSERT INTO state_leases VALUES ('gateway-owner','global','o',?,?,?,?,?)",
     ({now} + 300000, {now}, '{{"owner":{{"pid":{pid},"startedAt":{st}}}}}', {now} - 600000, {now})),
  ("INSERT INTO gateway_boot_lifecycle VALUES ('b0', 99999, 1, NULL, NULL)", ()),
  ("INSERT INTO gateway_boot_lifecycle VALUES ('b1', {pid}, 2, NULL, NULL)", ()),
])
a = db({agent_db:?}, {agent_schema:?}, [
  ("INSERT INTO session_nodes VALUES ('agent:main:openai-user:7','s1',?,?,?)",
     ('{{"activeWriterRunId":"{writer}"}}', '{status}', {now} - 100000)),
])
if {hold}:
    print("ready", flush=True)
    time.sleep(600)
s.close(); a.close()
print("ready", flush=True)
"#,
        state_db = state.join("state/openclaw.sqlite").to_string_lossy(),
        agent_db = state
            .join("agents/main/agent/openclaw-agent.sqlite")
            .to_string_lossy(),
        state_schema = STATE_SCHEMA,
        agent_schema = AGENT_SCHEMA,
        pid = owner.0,
        st = owner.1,
        hold = if hold { "True" } else { "False" },
        writer = if running { "run-orphan" } else { "run-old" },
        status = if running { "running" } else { "done" },
    );
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(script)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    use std::io::BufRead;
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "ready");
    if hold {
        Some(Writer(child))
    } else {
        child.wait().unwrap();
        None
    }
}

/// Every file below `dir`: bytes and mtime.
pub fn files(dir: &Path) -> BTreeMap<PathBuf, (Vec<u8>, std::time::SystemTime)> {
    let mut out = BTreeMap::new();
    for e in walkdir::WalkDir::new(dir).follow_links(false) {
        let e = e.unwrap();
        if e.file_type().is_file() {
            let m = e.metadata().unwrap();
            out.insert(
                e.path().to_path_buf(),
                (std::fs::read(e.path()).unwrap(), m.modified().unwrap()),
            );
        }
    }
    out
}

/// The owner the lease names: a live process of this host, with its real starttime.
pub fn live_owner() -> (Proc, (u32, u64)) {
    let p = Proc::sleep();
    let pid = p.0.id();
    let deadline = Instant::now() + Duration::from_secs(5);
    let st = loop {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        if let Some(v) = stat
            .rsplit(')')
            .next()
            .and_then(|r| r.split_whitespace().nth(19))
            .and_then(|v| v.parse().ok())
        {
            break v;
        }
        assert!(Instant::now() < deadline);
    };
    (p, (pid, st))
}
