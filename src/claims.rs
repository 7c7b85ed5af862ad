//! OpenClaw 2026.8+ keeps sessions in SQLite, not in lock files: a turn in flight is a *turn
//! claim* on the session's placement (`state/openclaw.sqlite`, `worker_session_placements`)
//! plus a `running` session node whose `activeWriterRunId` is the claim's run id
//! (`agents/<agent>/agent/openclaw-agent.sqlite`, `session_nodes`). A claim left behind while
//! the gateway lives blocks the session (every message HTTP 500, `ActiveTurnClaimError`) until
//! the gateway restarts, which clears claims at start-up (openclaw/openclaw#146692).
//!
//! This module reads those databases **read-only** and judges each claim. The decision
//! ([`judge`]) is pure; reading ([`read_place`]) never writes a byte:
//!
//! - every directory on the way is opened with `O_NOFOLLOW` from the place's state dir, and the
//!   database and its `-wal`/`-shm` must be regular files (checked with `O_PATH|O_NOFOLLOW`);
//! - SQLite resolves symlinks in a path itself, so it is handed the directory's real path (the
//!   one the checked fd points at, re-checked by device and inode) with `SQLITE_OPEN_NOFOLLOW`,
//!   which refuses any symlink in any component, and `O_NOFOLLOW` for the side files;
//! - `mode=ro` plus `readonly_shm=1`: the live `-wal` is read through the gateway's `-shm`
//!   mapped read-only, so a reader never writes read marks nor creates a `-shm`; `immutable=1`
//!   would skip the WAL, where a live gateway's latest claims are;
//! - `PRAGMA query_only`, `trusted_schema=OFF` and a 200 ms busy timeout.

use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use nix::fcntl::{OFlag, open, openat};
use nix::sys::stat::{Mode, fstat};
use serde::Serialize;

use crate::place::{Location, PidView, Place};
use crate::policy::{OwnerState, Policy};
use crate::proc::{HostProc, Owner};

/// How a state dir keeps its sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Era {
    /// `agents/*/sessions/` with lock files (OpenClaw up to 2026.7).
    LockFile,
    /// SQLite databases (OpenClaw 2026.8 and later).
    Sqlite,
    /// Neither was found (a fresh or empty state dir).
    Unknown,
}

impl Era {
    /// The short word shown in tables and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Era::LockFile => "lock-file",
            Era::Sqlite => "sqlite",
            Era::Unknown => "unknown",
        }
    }
}

/// Why a claim is an orphan (several may hold).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum OrphanReason {
    /// The session node is not `running`.
    #[serde(rename = "no-running-turn")]
    NoRunningTurn,
    /// The session runs, but under another run id than the claim's.
    #[serde(rename = "run-id-mismatch")]
    RunIdMismatch,
    /// The gateway that owns the claims is not running.
    #[serde(rename = "gateway-gone")]
    GatewayGone,
}

impl OrphanReason {
    pub fn as_str(self) -> &'static str {
        match self {
            OrphanReason::NoRunningTurn => "no-running-turn",
            OrphanReason::RunIdMismatch => "run-id-mismatch",
            OrphanReason::GatewayGone => "gateway-gone",
        }
    }
}

/// What a session's turn state came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TurnState {
    /// No claim, nothing running.
    Idle,
    /// A turn in flight with its claim: nothing to fix.
    Running,
    /// A claim too fresh to judge, or one that changed while it was read.
    Claimed,
    /// A claim no running turn backs: the session is blocked until the gateway restarts.
    Orphan,
}

/// Whether the gateway owning a place's claims runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Liveness {
    Alive,
    Gone,
    Unknown,
}

/// Everything [`judge`] looks at for one session.
#[derive(Debug, Clone, Copy)]
pub struct ClaimFacts<'a> {
    /// `(claim id, run id)`, as read before the session nodes.
    pub claim: Option<(&'a str, &'a str)>,
    /// The same claim id was still there when the placements were read again afterwards.
    pub claim_stable: bool,
    /// When the placement was last updated (the claim's age, at most).
    pub claim_age: TimeDelta,
    pub node_status: Option<&'a str>,
    pub active_writer: Option<&'a str>,
    pub gateway: Liveness,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClaimVerdict {
    pub state: TurnState,
    pub reasons: Vec<OrphanReason>,
    pub note: Option<String>,
}

/// A claim younger than this is not judged: OpenClaw writes the claim ~0.2 s before it marks
/// the session running (measured on 2026.9.6).
pub const CLAIM_GRACE: TimeDelta = TimeDelta::seconds(15);

/// The one decision about a turn claim. Pure.
pub fn judge(f: ClaimFacts<'_>) -> ClaimVerdict {
    let running = f.node_status == Some("running");
    let Some((_, run_id)) = f.claim else {
        return ClaimVerdict {
            state: if running {
                TurnState::Running
            } else {
                TurnState::Idle
            },
            reasons: Vec::new(),
            note: None,
        };
    };
    let mut reasons = Vec::new();
    if !running {
        reasons.push(OrphanReason::NoRunningTurn);
    } else if f.active_writer != Some(run_id) {
        reasons.push(OrphanReason::RunIdMismatch);
    }
    if f.gateway == Liveness::Gone {
        reasons.push(OrphanReason::GatewayGone);
    }
    if reasons.is_empty() {
        return ClaimVerdict {
            state: TurnState::Running,
            reasons,
            note: None,
        };
    }
    let hold = |note: String| ClaimVerdict {
        state: TurnState::Claimed,
        reasons: Vec::new(),
        note: Some(note),
    };
    if !f.claim_stable {
        return hold("the claim changed while it was read: judged again on the next run".into());
    }
    // A dead gateway's claim is an orphan at once; a live one's may be a turn starting.
    if f.gateway != Liveness::Gone && f.claim_age < CLAIM_GRACE {
        return hold(format!(
            "claimed {} ago: a turn may be starting",
            crate::units::short_duration(f.claim_age)
        ));
    }
    let note = match (f.gateway, reasons.first()) {
        (Liveness::Gone, _) => "gateway not running: its next start clears the claim",
        (_, Some(OrphanReason::RunIdMismatch)) => {
            "another run writes: messages fail until the gateway restarts"
        }
        _ => "messages fail until the gateway restarts",
    };
    ClaimVerdict {
        state: TurnState::Orphan,
        reasons,
        note: Some(note.into()),
    }
}

/// A turn claim as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Claim {
    pub owner: String,
    pub id: String,
    pub run_id: String,
    pub generation: Option<i64>,
}

/// One session of a SQLite-era place, as reported.
#[derive(Debug, Clone, Serialize)]
pub struct SessionTurn {
    pub agent: String,
    pub session_key: String,
    pub session_id: Option<String>,
    /// `session_nodes.status` (`running`, `done`, …).
    pub status: Option<String>,
    pub active_writer_run_id: Option<String>,
    /// Seconds since the session node was last updated (the running turn's age, at most).
    pub turn_age_seconds: Option<i64>,
    pub claim: Option<Claim>,
    pub claim_age_seconds: Option<i64>,
    pub state: TurnState,
    pub reasons: Vec<OrphanReason>,
    pub note: Option<String>,
}

/// The gateway-owner lease of a place (`state_leases`, scope `gateway-owner`).
#[derive(Debug, Clone, Serialize)]
pub struct GatewayLease {
    pub pid: Option<u64>,
    /// `/proc/<pid>/stat` field 22 of the owner when it took the lease.
    pub starttime: Option<u64>,
    pub heartbeat_age_seconds: Option<i64>,
    pub expired: bool,
    pub owner_state: OwnerState,
    pub liveness: Liveness,
}

/// A place's SQLite facts, as the JSON report's `places[]` lists them.
#[derive(Debug, Clone, Serialize)]
pub struct PlaceDb {
    pub location: Location,
    /// The state dir where it is seen (inside the container for a container's).
    pub state_dir: String,
    pub era: Era,
    /// `schema_meta.app_version` of the state database: the OpenClaw that last migrated it.
    pub version: Option<String>,
    /// `agents/*/sessions/` dirs found beside the databases (a migrated 2026.7 state dir).
    pub leftover_sessions_dirs: usize,
    pub gateway: Option<GatewayLease>,
    /// Boots recorded without an outcome, other than the running one: unclean shutdowns.
    pub unclean_boots: usize,
    pub sessions: Vec<SessionTurn>,
    /// Why the databases could not be read, when they could not.
    pub error: Option<String>,
}

impl PlaceDb {
    pub fn orphans(&self) -> impl Iterator<Item = &SessionTurn> {
        self.sessions
            .iter()
            .filter(|s| s.state == TurnState::Orphan)
    }

    pub fn running(&self) -> usize {
        self.sessions
            .iter()
            .filter(|s| s.state == TurnState::Running)
            .count()
    }
}

/// Most agents read per place; a state dir with more is reported, not read further.
const MAX_AGENTS: usize = 64;
/// Most session rows read per database.
const MAX_ROWS: i64 = 100_000;

/// Looks at every place: its era, and for a SQLite-era place its claims, judged.
pub fn observe(places: &[Place], proc: &HostProc, now: DateTime<Utc>) -> Vec<PlaceDb> {
    let mut owners = Owners::default();
    places
        .iter()
        .map(|p| read_place(p, proc, &mut owners, now))
        .collect()
}

/// What the directories say, before any database is opened.
struct Layout {
    state_dir_fd: OwnedFd,
    /// The `state/` dir fd when `state/openclaw.sqlite` is a regular file.
    state_db: Option<OwnedFd>,
    /// Each agent's `agent/` dir fd holding `openclaw-agent.sqlite`.
    agent_dbs: Vec<(String, OwnedFd)>,
    sessions_dirs: usize,
    problems: Vec<String>,
}

const DIR: OFlag = OFlag::O_RDONLY
    .union(OFlag::O_DIRECTORY)
    .union(OFlag::O_NOFOLLOW)
    .union(OFlag::O_CLOEXEC);

fn open_dir(at: &OwnedFd, name: &str) -> Option<OwnedFd> {
    openat(at, name, DIR, Mode::empty()).ok()
}

/// A directory below a checked one; a symlink (or a non-directory) there is a problem to report.
fn open_sub(at: &OwnedFd, name: &str, problems: &mut Vec<String>) -> Option<OwnedFd> {
    match openat(at, name, DIR, Mode::empty()) {
        Ok(fd) => Some(fd),
        Err(nix::errno::Errno::ELOOP | nix::errno::Errno::ENOTDIR) => {
            problems.push(format!(
                "{name}: a symlink or not a directory, not followed"
            ));
            None
        }
        Err(_) => None,
    }
}

/// `Ok(true)` for a regular file, `Ok(false)` when absent, `Err` for anything else (a
/// symlink, a FIFO, …), without following or opening it for reading.
fn regular(dir: &OwnedFd, name: &str) -> Result<bool, String> {
    match openat(
        dir,
        name,
        OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    ) {
        Err(nix::errno::Errno::ENOENT) => Ok(false),
        Err(e) => Err(format!("{name}: {e}")),
        Ok(fd) => match fstat(&fd) {
            Ok(st) if st.st_mode & nix::libc::S_IFMT == nix::libc::S_IFREG => Ok(true),
            Ok(_) => Err(format!("{name}: not a regular file, not opened")),
            Err(e) => Err(format!("{name}: {e}")),
        },
    }
}

/// A database and its side files, all regular files (or absent side files).
fn database(dir: &OwnedFd, name: &str) -> Result<bool, String> {
    if !regular(dir, name)? {
        return Ok(false);
    }
    regular(dir, &format!("{name}-wal"))?;
    regular(dir, &format!("{name}-shm"))?;
    Ok(true)
}

fn layout(place: &Place) -> Result<Layout, String> {
    let state_dir_fd = match &place.pin {
        Some(pin) => nix::unistd::dup(pin.as_ref()).map_err(|e| e.to_string())?,
        // The operator's own path may be a symlink (as for the walk); nothing below it.
        None => open(
            &place.state_dir,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| format!("cannot open: {e}"))?,
    };
    let mut l = Layout {
        state_db: None,
        agent_dbs: Vec::new(),
        sessions_dirs: 0,
        problems: Vec::new(),
        state_dir_fd,
    };
    if let Some(state) = open_sub(&l.state_dir_fd, "state", &mut l.problems) {
        match database(&state, "openclaw.sqlite") {
            Ok(true) => l.state_db = Some(state),
            Ok(false) => {}
            Err(e) => l.problems.push(format!("state/{e}")),
        }
    }
    let Some(agents) = open_sub(&l.state_dir_fd, "agents", &mut l.problems) else {
        return Ok(l);
    };
    let dir = nix::dir::Dir::from_fd(nix::unistd::dup(&agents).map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())?;
    let mut names: Vec<String> = Vec::new();
    for entry in dir.into_iter().flatten() {
        let name = entry.file_name().to_bytes();
        if name == b"." || name == b".." {
            continue;
        }
        if names.len() >= MAX_AGENTS {
            l.problems.push(format!(
                "more than {MAX_AGENTS} agents: only the first {MAX_AGENTS} were read"
            ));
            break;
        }
        if let Ok(n) = std::str::from_utf8(name) {
            names.push(text(n.to_owned()));
        }
    }
    names.sort();
    for name in names {
        let Some(agent) = open_dir(&agents, &name) else {
            continue;
        };
        if open_dir(&agent, "sessions").is_some() {
            l.sessions_dirs += 1;
        }
        let mut problems = Vec::new();
        let adir = open_sub(&agent, "agent", &mut problems);
        l.problems
            .extend(problems.into_iter().map(|p| format!("agents/{name}/{p}")));
        if let Some(adir) = adir {
            match database(&adir, "openclaw-agent.sqlite") {
                Ok(true) => l.agent_dbs.push((name, adir)),
                Ok(false) => {}
                Err(e) => l.problems.push(format!("agents/{name}/agent/{e}")),
            }
        }
    }
    Ok(l)
}

/// The real path of a checked directory fd, usable by SQLite with `SQLITE_OPEN_NOFOLLOW`:
/// absolute, and the same directory (device, inode) when looked up again by that path.
fn real_path(fd: &OwnedFd) -> Result<PathBuf, String> {
    let link = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()))
        .map_err(|e| e.to_string())?;
    if !link.is_absolute() || link.as_os_str().as_bytes().ends_with(b" (deleted)") {
        return Err(
            "its directory has no path on this host (a container's own filesystem: \
             bind-mount the state dir to have it read)"
                .into(),
        );
    }
    let want = fstat(fd).map_err(|e| e.to_string())?;
    let again = open(&link, DIR, Mode::empty()).map_err(|_| {
        "its directory is not reachable by its path without a symlink (a container's own \
         filesystem: bind-mount the state dir to have it read)"
            .to_owned()
    })?;
    let got = fstat(&again).map_err(|e| e.to_string())?;
    if (got.st_dev, got.st_ino) != (want.st_dev, want.st_ino) {
        return Err("its directory moved while it was read".into());
    }
    Ok(link)
}

/// Opens a database read-only, without following a symlink and without writing any file.
fn connect(dir: &OwnedFd, name: &str) -> Result<rusqlite::Connection, String> {
    use rusqlite::OpenFlags as F;
    let path = real_path(dir)?.join(name);
    let mut uri = b"file:".to_vec();
    for &b in path.as_os_str().as_bytes() {
        // Percent-encode everything a URI path could misread.
        if b.is_ascii_alphanumeric() || b"/-_.~".contains(&b) {
            uri.push(b);
        } else {
            uri.extend(format!("%{b:02X}").as_bytes());
        }
    }
    // A live database has its -wal and -shm: read the WAL through the -shm mapped read-only.
    // Without a -wal (closed cleanly) SQLite would create one even read-only, so the file
    // alone is read as immutable. A -wal without its -shm cannot be read without creating one.
    let wal = regular(dir, &format!("{name}-wal"))?;
    let shm = regular(dir, &format!("{name}-shm"))?;
    match (wal, shm) {
        (true, true) => uri.extend(b"?mode=ro&readonly_shm=1"),
        (false, _) => uri.extend(b"?mode=ro&immutable=1"),
        (true, false) => {
            return Err(format!(
                "{name} has a -wal but no -shm (its gateway is not running): not read, since reading it would create a -shm"
            ));
        }
    }
    let uri = String::from_utf8(uri).expect("ASCII");
    let flags = F::SQLITE_OPEN_READ_ONLY
        | F::SQLITE_OPEN_URI
        | F::SQLITE_OPEN_NO_MUTEX
        | F::SQLITE_OPEN_NOFOLLOW;
    let c = rusqlite::Connection::open_with_flags(&uri, flags).map_err(|e| e.to_string())?;
    c.busy_timeout(Duration::from_millis(200))
        .map_err(|e| e.to_string())?;
    c.execute_batch("PRAGMA query_only = ON; PRAGMA trusted_schema = OFF;")
        .map_err(|e| e.to_string())?;
    Ok(c)
}

/// A claim row: (session id, agent, session key, claim).
type ClaimRow = (String, String, String, Option<Claim>, Option<i64>);

fn read_claims(c: &rusqlite::Connection) -> rusqlite::Result<Vec<ClaimRow>> {
    let mut st = c.prepare(
        "SELECT session_id, agent_id, session_key, turn_claim_owner, turn_claim_id,
                turn_claim_run_id, turn_claim_generation, updated_at_ms
         FROM worker_session_placements WHERE turn_claim_id IS NOT NULL LIMIT ?1",
    )?;
    st.query_map([MAX_ROWS], |r| {
        let claim = match (
            r.get::<_, Option<String>>(4)?,
            r.get::<_, Option<String>>(5)?,
        ) {
            (Some(id), Some(run_id)) => Some(Claim {
                owner: r.get::<_, Option<String>>(3)?.unwrap_or_default(),
                id,
                run_id,
                generation: r.get(6)?,
            }),
            _ => None,
        };
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, claim, r.get(7)?))
    })?
    .collect()
}

/// `(session key, session id, status, activeWriterRunId, updated_at ms)`.
type NodeRow = (
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i64>,
);

fn read_nodes(c: &rusqlite::Connection) -> rusqlite::Result<Vec<NodeRow>> {
    // Only what can matter: running sessions, and those a claim names (read by key below).
    let mut st = c.prepare(
        "SELECT session_key, current_session_id, status,
                CASE WHEN json_valid(entry_json)
                     THEN json_extract(entry_json, '$.activeWriterRunId') END,
                updated_at
         FROM session_nodes WHERE status = 'running' LIMIT ?1",
    )?;
    st.query_map([MAX_ROWS], |r| {
        Ok((
            r.get(0)?,
            r.get(1)?,
            r.get(2)?,
            r.get::<_, Option<String>>(3).unwrap_or(None),
            r.get(4)?,
        ))
    })?
    .collect()
}

fn read_node(c: &rusqlite::Connection, key: &str) -> rusqlite::Result<Option<NodeRow>> {
    let mut st = c.prepare(
        "SELECT session_key, current_session_id, status,
                CASE WHEN json_valid(entry_json)
                     THEN json_extract(entry_json, '$.activeWriterRunId') END,
                updated_at
         FROM session_nodes WHERE session_key = ?1",
    )?;
    let mut rows = st.query_map([key], |r| {
        Ok((
            r.get(0)?,
            r.get(1)?,
            r.get(2)?,
            r.get::<_, Option<String>>(3).unwrap_or(None),
            r.get(4)?,
        ))
    })?;
    rows.next().transpose()
}

/// The raw lease: (pid, starttime, heartbeat_at ms, expires_at ms, created_at ms).
type LeaseRow = (
    Option<u64>,
    Option<u64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
);

fn read_lease(c: &rusqlite::Connection) -> rusqlite::Result<Option<LeaseRow>> {
    let mut st = c.prepare(
        "SELECT CASE WHEN json_valid(payload_json)
                     THEN json_extract(payload_json, '$.owner.pid') END,
                CASE WHEN json_valid(payload_json)
                     THEN json_extract(payload_json, '$.owner.startedAt') END,
                heartbeat_at, expires_at, created_at
         FROM state_leases WHERE scope = 'gateway-owner' ORDER BY updated_at DESC LIMIT 1",
    )?;
    let mut rows = st.query_map([], |r| {
        let num = |i: usize| -> rusqlite::Result<Option<u64>> {
            Ok(r.get::<_, Option<i64>>(i)
                .unwrap_or(None)
                .and_then(|n| u64::try_from(n).ok()))
        };
        Ok((num(0)?, num(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
    })?;
    rows.next().transpose()
}

/// Boots without an outcome, as (pid, started_at ms), newest first.
fn read_open_boots(c: &rusqlite::Connection) -> rusqlite::Result<Vec<(Option<i64>, i64)>> {
    let mut st = c.prepare(
        "SELECT pid, started_at_ms FROM gateway_boot_lifecycle
         WHERE outcome IS NULL ORDER BY started_at_ms DESC LIMIT 1000",
    )?;
    st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect()
}

fn read_version(c: &rusqlite::Connection) -> Option<String> {
    c.query_row(
        "SELECT app_version FROM schema_meta WHERE meta_key = 'primary'",
        [],
        |r| r.get::<_, Option<String>>(0),
    )
    .ok()
    .flatten()
    .map(|v| v.chars().take(40).collect())
}

/// Text from a database is the tenant's: at most 200 characters, control characters replaced,
/// before it reaches a table, a log line or JSON.
fn text(s: String) -> String {
    s.chars()
        .take(200)
        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
        .collect()
}

fn ms(t: i64) -> Option<DateTime<Utc>> {
    Utc.timestamp_millis_opt(t).single()
}

fn age(now: DateTime<Utc>, t: Option<i64>) -> Option<TimeDelta> {
    t.and_then(ms).map(|t| (now - t).max(TimeDelta::zero()))
}

/// Observes owners in each place's PID namespace, once per run.
#[derive(Default)]
struct Owners {
    namespaces: Option<Result<crate::pidns::Namespaces, crate::pidns::Error>>,
}

impl Owners {
    fn observe(&mut self, place: &Place, pid: u64, proc: &HostProc) -> Owner {
        match &place.pids {
            PidView::Local => proc.observe(pid),
            PidView::Unknown(why) => Owner::Unknown(why.clone()),
            PidView::NoProcesses(_) => Owner::Gone,
            PidView::Container { init } => {
                let ns = self
                    .namespaces
                    .get_or_insert_with(|| crate::pidns::Namespaces::scan(Path::new("/proc")));
                match ns {
                    Ok(ns) => match ns.container(Path::new("/proc"), *init) {
                        Ok(m) => m.observe(pid, proc),
                        Err(e) => Owner::Unknown(e.to_string()),
                    },
                    Err(e) => Owner::Unknown(e.to_string()),
                }
            }
        }
    }
}

/// The lease owner judged by the same owner logic as a lock's (pid, starttime, threads).
fn judge_lease(
    place: &Place,
    row: Option<LeaseRow>,
    proc: &HostProc,
    owners: &mut Owners,
    now: DateTime<Utc>,
) -> Option<GatewayLease> {
    let (pid, starttime, heartbeat, expires, created) = row?;
    let owner = match pid {
        Some(p) => owners.observe(place, p, proc),
        None => Owner::Gone,
    };
    let payload = crate::lock::Payload {
        pid,
        created_at: created.and_then(ms),
        starttime,
        ..Default::default()
    };
    let v = Policy {
        // Age alone never makes a gateway gone.
        stale_after: TimeDelta::days(36500),
        ..Policy::default()
    }
    .judge(crate::policy::Facts {
        payload: &payload,
        mtime: now,
        owner: &owner,
        now,
        // A lease is a row, not a file: nobody holds it open, and that is no evidence.
        holders: &[],
        held: false,
        visibility: &crate::holders::Visibility::Incomplete("a lease row, not a file".into()),
    });
    let liveness = match (&place.pids, v.owner_state) {
        (PidView::NoProcesses(_), _) => Liveness::Gone,
        (_, OwnerState::Alive) => Liveness::Alive,
        (_, OwnerState::Unknown) => Liveness::Unknown,
        _ => Liveness::Gone,
    };
    Some(GatewayLease {
        pid,
        starttime,
        heartbeat_age_seconds: age(now, heartbeat).map(|a| a.num_seconds()),
        expired: expires.and_then(ms).is_some_and(|e| e < now),
        owner_state: v.owner_state,
        liveness,
    })
}

/// Reads one place's era and, in the SQLite era, its claims. Never writes.
fn read_place(
    place: &Place,
    proc: &HostProc,
    owners_cache: &mut Owners,
    now: DateTime<Utc>,
) -> PlaceDb {
    let shown = place
        .shown_as
        .as_ref()
        .unwrap_or(&place.state_dir)
        .to_string_lossy()
        .into_owned();
    let mut db = PlaceDb {
        location: place.location.clone(),
        state_dir: shown,
        era: Era::Unknown,
        version: None,
        leftover_sessions_dirs: 0,
        gateway: None,
        unclean_boots: 0,
        sessions: Vec::new(),
        error: None,
    };
    let l = match layout(place) {
        Ok(l) => l,
        Err(e) => {
            db.error = Some(e);
            return db;
        }
    };
    // 2026.7 already has a state database, but its sessions are lock files: sessions
    // databases make the SQLite era (or, before the first session, the placements table).
    let sqlite = !l.agent_dbs.is_empty()
        || (l.sessions_dirs == 0
            && l.state_db.as_ref().is_some_and(|d| {
                connect(d, "openclaw.sqlite").is_ok_and(|c| {
                    c.query_row(
                        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'worker_session_placements'",
                        [],
                        |_| Ok(()),
                    )
                    .is_ok()
                })
            }));
    db.era = match (sqlite, l.sessions_dirs) {
        (true, n) => {
            db.leftover_sessions_dirs = n;
            Era::Sqlite
        }
        (false, 0) => Era::Unknown,
        (false, _) => Era::LockFile,
    };
    if !l.problems.is_empty() {
        db.error = Some(l.problems.join("; "));
    }
    if !sqlite {
        db.version = container_version(place);
        return db;
    }
    if let Err(e) = read_sqlite(place, &l, proc, owners_cache, now, &mut db) {
        let e = format!("cannot read its databases: {e}");
        db.error = Some(match db.error.take() {
            Some(p) => format!("{p}; {e}"),
            None => e,
        });
    }
    if db.version.is_none() {
        db.version = container_version(place);
    }
    db
}

/// The installed OpenClaw of the container that runs this place's gateway, when known.
fn container_version(place: &Place) -> Option<String> {
    match place.pids {
        PidView::Container { init } => crate::era::container_version(init),
        _ => None,
    }
}

fn read_sqlite(
    place: &Place,
    l: &Layout,
    proc: &HostProc,
    owners: &mut Owners,
    now: DateTime<Utc>,
    db: &mut PlaceDb,
) -> Result<(), String> {
    let Some(state_dir) = &l.state_db else {
        return Err("state/openclaw.sqlite is missing".into());
    };
    let state = connect(state_dir, "openclaw.sqlite")?;
    let err = |e: rusqlite::Error| format!("state/openclaw.sqlite: {e}");
    db.version = read_version(&state);
    db.gateway = judge_lease(place, read_lease(&state).map_err(err)?, proc, owners, now);
    let gateway = match (&place.pids, &db.gateway) {
        (PidView::NoProcesses(_), _) => Liveness::Gone,
        (_, Some(g)) => g.liveness,
        (_, None) => Liveness::Unknown,
    };
    let boots = read_open_boots(&state).map_err(err)?;
    // The running gateway's own boot has no outcome yet; every other one ended uncleanly.
    let current = usize::from(
        gateway == Liveness::Alive
            && boots.first().is_some_and(|(pid, _)| {
                db.gateway.as_ref().and_then(|g| g.pid) == pid.and_then(|p| u64::try_from(p).ok())
            }),
    );
    db.unclean_boots = boots.len() - current;

    let before = read_claims(&state).map_err(err)?;
    // Session nodes, agent by agent, read after the claims…
    let mut nodes: Vec<(String, Vec<NodeRow>, Option<rusqlite::Connection>)> = Vec::new();
    for (agent, dir) in &l.agent_dbs {
        match connect(dir, "openclaw-agent.sqlite") {
            Ok(c) => {
                let rows = read_nodes(&c)
                    .map_err(|e| format!("agents/{agent}/agent/openclaw-agent.sqlite: {e}"))?;
                nodes.push((agent.clone(), rows, Some(c)));
            }
            Err(e) => return Err(format!("agents/{agent}/agent/openclaw-agent.sqlite: {e}")),
        }
    }
    // …and the claims again: one that is gone or replaced was a turn ending or starting.
    let after = read_claims(&state).map_err(err)?;

    let mut seen_running: std::collections::HashSet<(String, String)> = Default::default();
    for (sid, agent, key, claim, updated) in &before {
        let Some(claim) = claim else { continue };
        let stable = after
            .iter()
            .any(|(s, _, _, c, _)| s == sid && c.as_ref().is_some_and(|c2| c2.id == claim.id));
        let conn = nodes.iter().find(|(a, _, _)| a == agent);
        let node = conn
            .and_then(|(_, rows, c)| {
                rows.iter()
                    .find(|r| &r.0 == key)
                    .cloned()
                    .or_else(|| c.as_ref().and_then(|c| read_node(c, key).ok().flatten()))
            })
            .filter(|_| conn.is_some());
        let claim_age = age(now, *updated).unwrap_or(TimeDelta::MAX);
        let v = judge(ClaimFacts {
            claim: Some((&claim.id, &claim.run_id)),
            claim_stable: stable,
            claim_age,
            node_status: node.as_ref().and_then(|n| n.2.as_deref()),
            active_writer: node.as_ref().and_then(|n| n.3.as_deref()),
            gateway,
        });
        seen_running.insert((agent.clone(), key.clone()));
        db.sessions.push(SessionTurn {
            agent: agent.clone(),
            session_key: key.clone(),
            session_id: Some(sid.clone()),
            status: node.as_ref().and_then(|n| n.2.clone()),
            active_writer_run_id: node.as_ref().and_then(|n| n.3.clone()),
            turn_age_seconds: node
                .as_ref()
                .and_then(|n| age(now, n.4))
                .map(|a| a.num_seconds()),
            claim: Some(claim.clone()),
            claim_age_seconds: age(now, *updated).map(|a| a.num_seconds()),
            state: v.state,
            reasons: v.reasons,
            note: v.note,
        });
    }
    // Running turns with no claim (or whose claim was not read) are listed too.
    for (agent, rows, _) in &nodes {
        for n in rows {
            if seen_running.contains(&(agent.clone(), n.0.clone())) {
                continue;
            }
            let v = judge(ClaimFacts {
                claim: None,
                claim_stable: true,
                claim_age: TimeDelta::zero(),
                node_status: n.2.as_deref(),
                active_writer: n.3.as_deref(),
                gateway,
            });
            db.sessions.push(SessionTurn {
                agent: agent.clone(),
                session_key: n.0.clone(),
                session_id: n.1.clone(),
                status: n.2.clone(),
                active_writer_run_id: n.3.clone(),
                turn_age_seconds: age(now, n.4).map(|a| a.num_seconds()),
                claim: None,
                claim_age_seconds: None,
                state: v.state,
                reasons: v.reasons,
                note: v.note,
            });
        }
    }
    db.sessions
        .sort_by(|a, b| (&a.agent, &a.session_key).cmp(&(&b.agent, &b.session_key)));
    for t in &mut db.sessions {
        let opt = |o: &mut Option<String>| *o = o.take().map(text);
        t.agent = text(std::mem::take(&mut t.agent));
        t.session_key = text(std::mem::take(&mut t.session_key));
        opt(&mut t.session_id);
        opt(&mut t.status);
        opt(&mut t.active_writer_run_id);
        if let Some(c) = &mut t.claim {
            c.owner = text(std::mem::take(&mut c.owner));
            c.id = text(std::mem::take(&mut c.id));
            c.run_id = text(std::mem::take(&mut c.run_id));
        }
    }
    db.version = db.version.take().map(text);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts<'a>(
        claim: Option<(&'a str, &'a str)>,
        status: Option<&'a str>,
        writer: Option<&'a str>,
        gateway: Liveness,
    ) -> ClaimFacts<'a> {
        ClaimFacts {
            claim,
            claim_stable: true,
            claim_age: TimeDelta::minutes(2),
            node_status: status,
            active_writer: writer,
            gateway,
        }
    }

    #[test]
    fn a_reply_in_flight_is_running() {
        let v = judge(facts(
            Some(("c1", "run1")),
            Some("running"),
            Some("run1"),
            Liveness::Alive,
        ));
        assert_eq!(v.state, TurnState::Running);
        assert!(v.reasons.is_empty());
    }

    #[test]
    fn no_claim_is_idle_or_running() {
        let v = judge(facts(None, Some("done"), Some("r"), Liveness::Alive));
        assert_eq!(v.state, TurnState::Idle);
        let v = judge(facts(None, Some("running"), Some("r"), Liveness::Gone));
        assert_eq!(v.state, TurnState::Running);
    }

    #[test]
    fn orphans() {
        let v = judge(facts(
            Some(("c1", "run1")),
            Some("done"),
            Some("run0"),
            Liveness::Alive,
        ));
        assert_eq!(
            (v.state, v.reasons.as_slice()),
            (TurnState::Orphan, &[OrphanReason::NoRunningTurn][..])
        );
        let v = judge(facts(Some(("c1", "run1")), None, None, Liveness::Unknown));
        assert_eq!(v.state, TurnState::Orphan, "no session node at all");
        let v = judge(facts(
            Some(("c1", "run1")),
            Some("running"),
            Some("run2"),
            Liveness::Alive,
        ));
        assert_eq!(
            (v.state, v.reasons.as_slice()),
            (TurnState::Orphan, &[OrphanReason::RunIdMismatch][..])
        );
        let v = judge(facts(
            Some(("c1", "run1")),
            Some("running"),
            Some("run1"),
            Liveness::Gone,
        ));
        assert_eq!(
            (v.state, v.reasons.as_slice()),
            (TurnState::Orphan, &[OrphanReason::GatewayGone][..])
        );
        assert!(v.note.unwrap().contains("next start"));
    }

    #[test]
    fn database_text_is_bounded_and_inert() {
        assert_eq!(text("run\x1b[31m\n1".into()), "run\u{fffd}[31m\u{fffd}1");
        assert_eq!(text("x".repeat(500)).len(), 200);
    }

    #[test]
    fn fresh_or_moving_claims_wait() {
        let mut f = facts(Some(("c1", "run1")), Some("done"), None, Liveness::Alive);
        f.claim_age = TimeDelta::seconds(1);
        let v = judge(f);
        assert_eq!(v.state, TurnState::Claimed);
        assert!(v.note.unwrap().contains("starting"));
        // A dead gateway's fresh claim cannot be a turn starting.
        f.gateway = Liveness::Gone;
        assert_eq!(judge(f).state, TurnState::Orphan);
        let mut f = facts(Some(("c1", "run1")), Some("done"), None, Liveness::Alive);
        f.claim_stable = false;
        assert_eq!(judge(f).state, TurnState::Claimed);
        // Exactly the grace is judged.
        f.claim_stable = true;
        f.claim_age = CLAIM_GRACE;
        assert_eq!(judge(f).state, TurnState::Orphan);
    }
}
