//! What was observed of a process: the facts the owner rules read.

use chrono::{DateTime, Utc};

/// What one observation of a pid found.
#[derive(Debug, Clone, PartialEq)]
pub enum Owner {
    /// The pid cannot be judged from here (another PID namespace, `/proc` unreadable, …).
    /// The text says why; such an owner never makes a lock stale.
    Unknown(String),
    /// No process (and no thread) has this pid.
    Gone,
    /// A process or thread with this pid exists.
    Found(ProcFacts),
}

/// The fields of `/proc/<pid>/status` and `/proc/<pid>/stat` the policy needs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProcFacts {
    /// `Tgid`: equals the pid for a process, differs for a thread.
    pub tgid: Option<u64>,
    /// First letter of `State` (`R`, `S`, `Z`, …).
    pub state: Option<char>,
    /// Field 22 of `stat`: start time in clock ticks since boot.
    pub starttime: Option<u64>,
    /// Start time on the wall clock: `btime` + starttime / clock ticks.
    pub started_at: Option<DateTime<Utc>>,
    /// The command name (`Name`, or `comm` from `stat`).
    pub name: Option<String>,
    /// `NSpid`: this pid in every nested PID namespace, outermost first.
    pub nspid: Vec<u64>,
}
