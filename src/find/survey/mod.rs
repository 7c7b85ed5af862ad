//! Finding places in Docker: which containers to look at, where their state dirs are, and
//! which host places are really a container's bind mounts (so their pids are the container's).
//!
//! A state dir that is a bind mount from this machine is read from the host (no exec needed)
//! and judged in the container's PID namespace; any other state dir is listed by one exec.
//!
//! Two steps: [`discover`] asks the engines, resolves mount sources and pins state dirs (all
//! the I/O), then [`plan`] decides, without touching anything, which container owns which
//! place and what must be exec'd. [`survey`] runs both and writes the decision into the places.

mod dirs;
mod discover;
mod pin;
mod plan;

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use crate::model::place::{Location, Place, Problem};
use crate::sys::docker::Engine;

/// Which containers to look at, as the command line said.
#[derive(Debug, Clone)]
pub struct ContainerSearch {
    /// Engines to ask; empty means `DOCKER_HOST` or the local socket.
    pub docker_hosts: Vec<String>,
    pub prefix: String,
    /// Exactly these containers (instead of the prefix).
    pub names: Vec<String>,
    /// State dirs inside the containers (instead of finding them).
    pub state_dirs: Vec<String>,
    pub timeout: Duration,
    /// Always list inside containers by exec, even where this host can read their files.
    pub via_exec: bool,
}

/// Whether a container is one the command line asks for: named with `--container`, or (when
/// none is named) its name starts with `--prefix`. Whether it runs is the caller's concern.
pub fn selected(name: &str, prefix: &str, names: &[String]) -> bool {
    if names.is_empty() {
        name.starts_with(prefix)
    } else {
        names.iter().any(|n| n == name)
    }
}

/// One container looked at, as the JSON report's `containers` lists it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ContainerReport {
    pub name: String,
    pub docker_host: String,
    pub id: String,
    pub state: String,
    /// `exec` (listed from inside), `host` (its bind mounts read from this host), `both`, or
    /// `none`.
    pub observed: &'static str,
    pub state_dirs: Vec<String>,
    pub error: Option<String>,
}

/// One Docker engine, as the JSON report's `docker` lists it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct EngineStatus {
    pub docker_host: String,
    pub up: bool,
    pub error: Option<String>,
}

/// A container to list with one exec.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecTarget {
    pub engine: usize,
    pub container: String,
    /// Index into [`Survey::reports`].
    pub report: usize,
    pub dirs: Vec<String>,
    /// Dirs on a mount (bind or volume) that others may use too, with why: there, the holders
    /// seen inside this container are not every possible holder.
    pub shared: HashMap<String, String>,
}

#[derive(Default)]
pub struct Survey {
    pub engines: Vec<Engine>,
    pub reports: Vec<ContainerReport>,
    pub exec: Vec<ExecTarget>,
    pub warnings: Vec<String>,
    /// Host state dirs that more than one container can reach, or that a container reaches
    /// through a mount of a parent dir, with who: which container a lock belongs to is then
    /// a guess, so it only names owners, never decides.
    pub ambiguous: Vec<(PathBuf, String)>,
    /// Every engine asked, and whether it answered.
    pub engines_up: Vec<EngineStatus>,
}

/// Surveys every engine: binds `places` to the containers that mount them, adds the host side
/// of containers' bind-mounted state dirs to `places`, and returns what must be exec'd.
pub async fn survey(
    search: &ContainerSearch,
    places: &mut Vec<Place>,
    problems: &mut Vec<Problem>,
) -> Survey {
    let found = discover::discover(search, places, problems).await;
    let scope = plan::Scope {
        names: &search.names,
        listed: found.listed,
        local: found.local,
    };
    let bindings = plan::plan(found.containers, found.spots, &scope);
    for name in bindings.missing {
        problems.push(Problem {
            location: Location::Container(name),
            path: None,
            message: "no such container (check `docker ps -a`, or drop --container)".into(),
        });
    }
    let mut ambiguous = Vec::new();
    for (place, spot) in places.iter_mut().zip(bindings.given) {
        place.location = spot.location;
        place.shown_as = spot.shown_as;
        place.pids = spot.pids;
        if let Some(why) = spot.ambiguous {
            ambiguous.push((place.state_dir.clone(), why));
        }
    }
    for f in bindings.found {
        if let Some(why) = f.spot.ambiguous {
            ambiguous.push((f.state_dir.clone(), why));
        }
        places.push(Place {
            location: f.spot.location,
            state_dir: f.state_dir,
            shown_as: f.spot.shown_as,
            pids: f.spot.pids,
            pin: f.pin,
        });
    }
    Survey {
        engines: found.engines,
        reports: bindings.reports,
        exec: bindings.exec,
        warnings: Vec::new(),
        ambiguous,
        engines_up: found.engines_up,
    }
}

#[cfg(test)]
mod tests {
    use super::selected;

    #[test]
    fn selection_by_prefix_or_by_name() {
        let none: Vec<String> = Vec::new();
        assert!(selected("zaki-user-1", "zaki-user-", &none));
        assert!(!selected("other", "zaki-user-", &none));
        assert!(selected("anything", "", &none));
        // Named containers replace the prefix: a prefix match alone is not enough.
        let names = vec!["web".to_owned(), "zaki-user-2".to_owned()];
        assert!(selected("web", "zaki-user-", &names));
        assert!(selected("zaki-user-2", "zaki-user-", &names));
        assert!(!selected("zaki-user-1", "zaki-user-", &names));
        assert!(!selected("we", "zaki-user-", &names));
    }
}
