//! Places: where locks are found, and in which PID namespace their owners live.
//!
//! A place is an OpenClaw state dir read from this host: a host gateway's, or a container's
//! bind-mounted one, whose owners live in that container's PID namespace (`PidView`). A
//! container whose state dir this host cannot read is listed by exec instead (`survey`,
//! `container`) and is not a place. Everything downstream (observe, judge, act, report) takes
//! places and the exec listings, and judges both with the same policy.

use std::fmt;
use std::path::PathBuf;

use serde::Serialize;

/// Where a lock was seen, as printed in reports (`host`, `container:<name>`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Location {
    Host,
    Container(String),
    /// A Docker engine itself (for problems reaching it), by its address.
    Docker(String),
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Host => f.write_str("host"),
            Location::Container(name) => write!(f, "container:{name}"),
            Location::Docker(engine) => write!(f, "docker:{engine}"),
        }
    }
}

impl Serialize for Location {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// How the owners of locks in a place can be observed.
#[derive(Debug, Clone, PartialEq)]
pub enum PidView {
    /// This process's own PID namespace (`/proc` here).
    Local,
    /// A running container's namespace, observed from this host's `/proc` through the
    /// processes that share its init's (host pid `init`) namespace.
    Container { init: u64 },
    /// The container that owns this place is not running: no owner can be alive.
    NoProcesses(String),
    /// Owners cannot be judged from here; the text says why.
    Unknown(String),
}

/// An OpenClaw state dir, read from this host's filesystem.
#[derive(Debug, Clone)]
pub struct Place {
    /// Where its locks are reported: `host`, or the container that bind-mounts it.
    pub location: Location,
    /// The state dir (`…/.openclaw`) on this host.
    pub state_dir: PathBuf,
    /// The same dir as the container sees it, when it is a container's.
    pub shown_as: Option<PathBuf>,
    pub pids: PidView,
    /// An open directory that `state_dir` (`/proc/self/fd/<n>`) refers to, for a dir inside a
    /// container's own filesystem: kept open as long as the place is used.
    pub pin: Option<std::sync::Arc<std::os::fd::OwnedFd>>,
}

/// Something that could not be done; each one makes the run exit 1.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Problem {
    pub location: Location,
    #[serde(serialize_with = "lossy_path")]
    pub path: Option<PathBuf>,
    pub message: String,
}

impl Problem {
    pub fn host(path: impl Into<PathBuf>, message: impl Into<String>) -> Problem {
        Problem {
            location: Location::Host,
            path: Some(path.into()),
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Paths, names and messages may hold tenant text: printed escaped, on one line.
        let msg = crate::model::escape::text(&self.message);
        let loc = crate::model::escape::text(&self.location.to_string()).into_owned();
        match &self.path {
            Some(p) if self.location == Location::Host => {
                write!(f, "{}: {msg}", crate::model::escape::path(p))
            }
            Some(p) => write!(f, "{loc}: {}: {msg}", crate::model::escape::path(p)),
            None if matches!(self.location, Location::Host | Location::Docker(_)) => {
                f.write_str(&msg)
            }
            None => write!(f, "{loc}: {msg}"),
        }
    }
}

/// Paths are bytes on Linux; reports carry them as (lossy) UTF-8 text.
fn lossy_path<S: serde::Serializer>(p: &Option<PathBuf>, s: S) -> Result<S::Ok, S::Error> {
    match p {
        Some(p) => s.serialize_str(&p.to_string_lossy()),
        None => s.serialize_none(),
    }
}
