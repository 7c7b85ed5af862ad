//! What was read of a SQLite-era place (OpenClaw 2026.8+), as stored: the rows and the lease
//! owner as observed. `observe::claims` reads them; `judge::claims` decides what they mean.

use serde::Serialize;

use crate::model::place::{Location, PidView};
use crate::model::process::Owner;

/// A turn claim as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Claim {
    pub owner: String,
    pub id: String,
    pub run_id: String,
    pub generation: Option<i64>,
}

/// A claim row: (session id, agent, session key, claim, updated_at ms).
pub type ClaimRow = (String, String, String, Option<Claim>, Option<i64>);

/// `(session key, session id, status, activeWriterRunId, updated_at ms)`.
pub type NodeRow = (
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i64>,
);

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
    /// Boots without an outcome, as (pid, started_at ms), newest first.
    pub open_boots: Vec<(Option<i64>, i64)>,
    /// The turn state, when the databases were read.
    pub turns: Option<Turns>,
    /// What could not be read, and why.
    pub error: Option<String>,
}

/// Text from a database is the tenant's: at most 200 characters, control characters replaced,
/// before it reaches a table, a log line or JSON.
pub fn text(s: String) -> String {
    s.chars()
        .take(200)
        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
        .collect()
}
