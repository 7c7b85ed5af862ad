//! What the parent and the confined reader say to each other: one request line (then the
//! copied files' bytes, in order), one reply line. The request is the parent's own; the reply
//! is parsed from a child that may have been subverted by a tenant's database, so the parent
//! bounds it, parses it as data, and passes its text through `model::claims::text`.

use serde::{Deserialize, Serialize};

use crate::model::claims::{ClaimRow, LeaseRow, NodeRow, text};

/// The hidden subcommand that runs the confined reader.
pub const SUBCOMMAND: &str = "__read-sqlite";

/// Longest request line the reader accepts (session keys are bounded by the rows read).
pub const MAX_REQUEST: usize = 4 * 1024 * 1024;

/// Longest reply line the parent accepts.
pub const MAX_REPLY: usize = 64 * 1024 * 1024;

/// One database to read: the lengths of the bytes that follow the line (the database, then its
/// `-wal`, then its `-journal`, each only when present) and what to read from it.
#[derive(Debug, Serialize, Deserialize)]
pub struct Request {
    pub db: u64,
    pub wal: Option<u64>,
    pub journal: Option<u64>,
    pub ask: Ask,
}

/// What to read from a database.
#[derive(Debug, Serialize, Deserialize)]
pub enum Ask {
    /// `state/openclaw.sqlite`: version, placements table, gateway lease, open boots, claims.
    State,
    /// `state/openclaw.sqlite` again: the claims only.
    Claims,
    /// An agent's `openclaw-agent.sqlite`: running session nodes, and those these keys name.
    Nodes { keys: Vec<String> },
}

/// The rows read from one database (what was not asked for stays empty).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Rows {
    pub version: Option<String>,
    pub placements: bool,
    pub lease: Option<LeaseRow>,
    pub boots: Vec<(Option<i64>, i64)>,
    pub claims: Vec<ClaimRow>,
    pub nodes: Vec<NodeRow>,
}

/// Why the reader did not read a database. Its text comes from the child: shown only through
/// `model::claims::text` (bounded, control characters replaced).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Refusal {
    /// The reader could not confine itself, so it wrote and read nothing.
    NotConfined(String),
    /// The copy could not be written into the reader's tmpfs.
    Copy(String),
    /// SQLite could not open or read the copy.
    Sqlite(String),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (what, why) = match self {
            Refusal::NotConfined(why) => ("not read", why),
            Refusal::Copy(why) => ("not read", why),
            Refusal::Sqlite(why) => ("SQLite", why),
        };
        write!(f, "{what}: {}", text(why.clone()))
    }
}

/// The reply: the rows, or why they could not be read.
pub type Reply = Result<Rows, Refusal>;
