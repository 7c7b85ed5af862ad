//! A lock as observed: where it is, how it can be acted upon, what was read of it, its owner and
//! its holders. What the judge reads and what removal checks against.

use std::path::PathBuf;

use crate::model::holder::{Holder, Lease, Visibility};
use crate::model::lockfile::{Leftover, Snapshot, Unread};
use crate::model::payload::{LockKind, Payload};
use crate::model::place::Location;
use crate::model::process::Owner;

/// How a lock can be acted upon where it lives.
#[derive(Debug, Clone)]
pub enum Site {
    /// On this host's filesystem: the sessions dir is reached from the state dir one component
    /// at a time.
    Host {
        state_dir: PathBuf,
        /// The sessions dir relative to `state_dir` (`agents/<agent>/sessions`).
        rel_dir: PathBuf,
        /// (dev, ino) of the sessions dir when it was walked.
        dir_id: (u64, u64),
        name: std::ffi::OsString,
    },
    /// Inside a container, through an exec.
    Container {
        engine: usize,
        container: String,
        state_dir: String,
        dir_id: (u64, u64),
    },
}

/// A lock file and the facts about it, ready to be judged.
#[derive(Debug, Clone)]
pub struct Observed {
    pub location: Location,
    /// The path where it is reported (inside the container for a container's lock).
    pub path: PathBuf,
    pub host_path: Option<PathBuf>,
    pub agent: String,
    pub kind: LockKind,
    pub session_id: Option<String>,
    pub session_key: Option<String>,
    /// The file as read, or why it was not read (then it is never judged nor touched).
    pub file: Result<Snapshot, Unread>,
    pub payload: Payload,
    pub owner: Owner,
    /// Context for the verdict that the owner alone does not carry (e.g. container stopped).
    pub note: Option<String>,
    pub site: Site,
    /// The leftover of an interrupted removal: removed if stale, else put back under its name.
    pub leftover: Option<Leftover>,
    /// Processes found holding it open (filled in by the holder search, after every read).
    pub holders: Vec<Holder>,
    /// Whether that search could see every possible holder.
    pub visibility: Visibility,
    /// Whether some process has it open (`None`: could not be told).
    pub held_open: Option<bool>,
    /// `holders` names every process that has it open (a complete search of `/proc`).
    pub holders_all_named: bool,
    /// The owner's command line, when it was read (a live host owner in a place whose release
    /// is known).
    pub owner_cmdline: Option<std::sync::Arc<[u8]>>,
    /// When this same file was seen with no writer holding it on an earlier look of this run.
    pub unheld_since: Option<chrono::DateTime<chrono::Utc>>,
    /// The kernel's answer for a host lock, asked by the walk as it read it (`None` for locks
    /// listed by exec, or not read); `pipeline` turns it into `held_open` and `visibility`.
    pub lease: Option<Lease>,
}
