//! What was read of a SQLite-era place (OpenClaw 2026.8+), as stored: the rows and the lease
//! owner as observed. `observe::claims` reads them; `judge::claims` decides what they mean.

use serde::{Deserialize, Serialize};

use crate::model::place::{Location, PidView};
use crate::model::process::Owner;

/// A turn claim as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claim {
    pub owner: String,
    pub id: String,
    pub run_id: String,
    pub generation: Option<i64>,
}

/// A claim row: (session id, agent, session key, claim, updated_at ms).
pub type ClaimRow = (String, String, String, Option<Claim>, Option<i64>);

/// `(session key, session id, status, activeWriterRunId, updated_at ms, the rest of the entry)`.
pub type NodeRow = (
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i64>,
    NodeEntry,
);

/// The fields of a session node's `entry_json` that the stuck shapes of OpenClaw 2026.8–2026.9
/// are told by (openclaw/openclaw#125555, #140467); each `None` when absent or malformed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeEntry {
    /// `abortedLastRun`: the last run was aborted (set by start-up after a kill).
    pub aborted_last_run: Option<bool>,
    /// `restartRecoveryDeliveryRunId`: the run that restart recovery was to deliver.
    pub recovery_delivery_run_id: Option<String>,
}

/// The raw gateway-owner lease: (pid, starttime, heartbeat_at ms, expires_at ms, created_at ms).
pub type LeaseRow = (
    Option<u64>,
    Option<u64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
);

/// One read of a place's turn state: the claims, each agent's session nodes, the claims again.
#[derive(Debug)]
pub struct Turns {
    pub before: Vec<ClaimRow>,
    /// Per agent with a database: its running session nodes and those the claims name.
    pub nodes: Vec<(String, Vec<NodeRow>)>,
    pub after: Vec<ClaimRow>,
}

/// Everything read of one place for the SQLite era. Never judged here.
/// Most agents whose databases are read per place; a state dir with more is reported, not read
/// further.
pub const MAX_AGENTS_READ: usize = 64;

/// What the lock-file walk saw of a place's SQLite-era databases on its way to the sessions
/// dirs: the era told by the walk's own opens, with no second pass over every place (issue 21).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Databases {
    /// Not walked, or something on the way needs the full look (`observe::claims`' layout):
    /// a database there, a symlink, an odd file, a problem of the walk.
    #[default]
    Unknown,
    /// No `state/openclaw.sqlite` and no `agents/*/agent/openclaw-agent.sqlite` (each path
    /// simply absent), and the `agents/*/sessions/` dirs of agents with UTF-8 names.
    None { sessions_dirs: usize },
}

#[derive(Debug)]
pub struct PlaceReading {
    pub location: Location,
    /// The state dir where it is seen (inside the container for a container's).
    pub state_dir: String,
    /// How the place's processes are seen (a stopped container has none).
    pub pids: PidView,
    /// Session databases were found (`agents/*/agent/openclaw-agent.sqlite`, or before the
    /// first session a state database with the placements table).
    pub session_dbs: bool,
    /// `agents/*/sessions/` dirs: the lock-file era's.
    pub sessions_dirs: usize,
    /// `schema_meta.app_version`, else the container's installed `openclaw` package.
    pub version: Option<String>,
    /// The gateway-owner lease row, with its pid observed in the place's PID namespace.
    pub lease: Option<(LeaseRow, Owner)>,
    /// That pid's command line (`None`: not read, or not a live pid).
    pub lease_cmdline: Option<Vec<u8>>,
    /// Boots without an outcome, as (pid, started_at ms), newest first.
    pub open_boots: Vec<(Option<i64>, i64)>,
    /// The turn state, when the databases were read.
    pub turns: Option<Turns>,
    /// What could not be read, and why.
    pub error: Option<PlaceError>,
}

/// What this tool remembers of its own restart of one container (in the run-state dir), as
/// `judge::restart` decides with it and `sys::restarts` keeps it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Remembered {
    /// When it was last restarted for an orphan claim (Unix seconds).
    pub restarted_at: i64,
    /// The sessions whose claims that restart was for.
    pub sessions: Vec<String>,
    /// How many times a claim came back after a restart.
    pub survived: u32,
    /// No restart before this (Unix seconds), once a claim survived one.
    pub backoff_until: Option<i64>,
}

/// Why a place's databases could not be read: its sessions were not looked at.
#[derive(Debug, Clone, PartialEq)]
pub struct PlaceError {
    pub reason: PlaceErrorReason,
    pub message: String,
}

/// The kinds of [`PlaceError`], as the metrics count them (a label per reason, none per user).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PlaceErrorReason {
    /// The place's deadline passed (`--place-timeout`).
    Timeout,
    /// A symlink, FIFO, device or socket where a database or its side file should be.
    NotRegular,
    /// A database or side file over the bound.
    TooLarge,
    /// A file leased by another process (`F_SETLEASE`): opening it would wait.
    Leased,
    /// The `-wal` started over during every read.
    Changing,
    /// The confined reader could not confine itself: nothing was read.
    NotConfined,
    /// The confined reader died or answered out of bounds.
    ReaderFailed,
    /// SIGINT or SIGTERM arrived while it was read.
    Interrupted,
    /// Anything else: a missing or malformed database, an odd layout.
    Unreadable,
}

impl PlaceErrorReason {
    pub const ALL: [PlaceErrorReason; 9] = [
        PlaceErrorReason::Timeout,
        PlaceErrorReason::NotRegular,
        PlaceErrorReason::TooLarge,
        PlaceErrorReason::Leased,
        PlaceErrorReason::Changing,
        PlaceErrorReason::NotConfined,
        PlaceErrorReason::ReaderFailed,
        PlaceErrorReason::Interrupted,
        PlaceErrorReason::Unreadable,
    ];

    /// The label value: `timeout`, `not-regular`, …
    pub fn as_str(self) -> &'static str {
        match self {
            PlaceErrorReason::Timeout => "timeout",
            PlaceErrorReason::NotRegular => "not-regular",
            PlaceErrorReason::TooLarge => "too-large",
            PlaceErrorReason::Leased => "leased",
            PlaceErrorReason::Changing => "changing",
            PlaceErrorReason::NotConfined => "not-confined",
            PlaceErrorReason::ReaderFailed => "reader-failed",
            PlaceErrorReason::Interrupted => "interrupted",
            PlaceErrorReason::Unreadable => "unreadable",
        }
    }
}

/// Text from a database is the tenant's: at most 200 characters, control characters replaced,
/// before it reaches a table, a log line or JSON.
pub fn text(s: String) -> String {
    s.chars()
        .take(200)
        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
        .collect()
}
