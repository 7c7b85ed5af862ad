//! The probe's evidence: what one pass of the pipeline over the user's container says about a
//! session (its lock, judged by the one policy, or its turn in the SQLite era), and whether
//! the container could be looked at at all.

use std::fmt;

use crate::commands::pass::{Judged, Seen};
use crate::find::survey::ContainerReport;
use crate::judge::claims::{Era, PlaceDb, SessionTurn};
use crate::model::place::{Place, Problem};
use crate::report::record::{Action, LockRecord};

/// Why the user's container's state dirs were not looked at: a "not locked" would be a guess.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotLooked {
    /// The pass reported a problem (Docker unreachable, …); its first, as it says it.
    Problem(String),
    /// Docker does not know the container.
    Missing(String),
    /// The container could not be read (its error).
    Unreadable(String),
    /// The container holds no OpenClaw state dir the pass could find.
    NoStateDir(String),
}

impl fmt::Display for NotLooked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotLooked::Problem(p) | NotLooked::Unreadable(p) => f.write_str(p),
            NotLooked::Missing(c) => write!(f, "container {c} not found"),
            NotLooked::NoStateDir(c) => write!(
                f,
                "no OpenClaw state dir found in {c} (set --container-state-dir)"
            ),
        }
    }
}

impl std::error::Error for NotLooked {}

/// Whether `container`'s state dirs were looked at: Docker answered, the container exists and
/// runs, and its state dir was read (from the host or by exec).
pub fn looked_at(
    problems: &[Problem],
    containers: &[ContainerReport],
    container: &str,
) -> Result<(), NotLooked> {
    if let Some(p) = problems.first() {
        return Err(NotLooked::Problem(p.to_string()));
    }
    match containers.iter().find(|c| c.name == container) {
        None => Err(NotLooked::Missing(container.to_owned())),
        Some(c) => match &c.error {
            Some(e) => Err(NotLooked::Unreadable(e.clone())),
            None if c.observed == "none" => Err(NotLooked::NoStateDir(container.to_owned())),
            None => Ok(()),
        },
    }
}

/// One pass over the user's container.
pub struct Evidence {
    /// Every lock found, judged.
    pub judged: Vec<Judged>,
    /// The state dirs read from this host (the container's bind mounts).
    pub host_places: Vec<Place>,
    pub looked: Result<(), NotLooked>,
    /// Each place's era and, in the SQLite era, its turns and claims.
    pub dbs: Vec<PlaceDb>,
}

impl Evidence {
    pub fn new(seen: Seen, container: &str) -> Evidence {
        let looked = looked_at(&seen.problems, &seen.containers, container);
        Evidence {
            judged: seen.judged,
            host_places: seen.host_places,
            looked,
            dbs: seen.dbs,
        }
    }

    /// The lock of session `key`, as reported (kept: the probe removes nothing by itself).
    pub fn lock(&self, key: &str) -> Option<LockRecord> {
        self.judged
            .iter()
            .find(|j| j.obs.session_key.as_deref() == Some(key))
            .map(|j| LockRecord::new(&j.obs, j.verdict.as_ref(), Action::Kept, None))
    }

    /// The turn of session `key` in a SQLite-era place (OpenClaw 2026.8+), if it has a turn
    /// or a claim.
    pub fn turn(&self, key: &str) -> Option<SessionTurn> {
        self.dbs
            .iter()
            .flat_map(|d| d.sessions.iter())
            .find(|s| s.session_key == key)
            .cloned()
    }

    /// A place of the SQLite era was read.
    pub fn sqlite(&self) -> bool {
        self.dbs.iter().any(|d| d.era == Era::Sqlite)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::place::Location;

    fn container(name: &str, observed: &'static str, error: Option<&str>) -> ContainerReport {
        ContainerReport {
            name: name.into(),
            docker_host: "unix:///var/run/docker.sock".into(),
            id: "abc".into(),
            state: "running".into(),
            observed,
            state_dirs: Vec::new(),
            error: error.map(str::to_owned),
        }
    }

    #[test]
    fn a_container_counts_as_looked_at_only_when_its_state_dir_was_read() {
        let c = "zaki-user-42";
        assert_eq!(looked_at(&[], &[container(c, "host", None)], c), Ok(()));
        assert_eq!(looked_at(&[], &[container(c, "exec", None)], c), Ok(()));
        let e = looked_at(&[], &[container("zaki-user-7", "host", None)], c).unwrap_err();
        assert_eq!(e.to_string(), "container zaki-user-42 not found");
        let e = looked_at(&[], &[container(c, "none", None)], c).unwrap_err();
        assert_eq!(
            e.to_string(),
            "no OpenClaw state dir found in zaki-user-42 (set --container-state-dir)"
        );
        let e = looked_at(&[], &[container(c, "exec", Some("exec failed"))], c).unwrap_err();
        assert_eq!(e, NotLooked::Unreadable("exec failed".into()));
        // A problem of the pass (Docker unreachable) wins: the listing cannot be trusted.
        let p = Problem {
            location: Location::Docker("unix:///x".into()),
            path: None,
            message: "Docker is not reachable: refused".into(),
        };
        let e = looked_at(&[p], &[container(c, "host", None)], c).unwrap_err();
        assert_eq!(e.to_string(), "Docker is not reachable: refused");
    }
}
