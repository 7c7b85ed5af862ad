//! Which state dirs to look at in a container, and the ways this host may read one: pure
//! decisions on what the engine said (mounts, environment) and the command line.

use std::fmt;
use std::path::{Component, Path, PathBuf};

use crate::model::place::{Location, Problem};
use crate::sys::docker::{Container, Details};

use super::ContainerSearch;

/// Why a state dir given for a container is not looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StateDirError {
    Relative,
    /// Through a bind mount, `..` would map to a host path outside it.
    Dots,
}

impl fmt::Display for StateDirError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StateDirError::Relative => "is not an absolute path",
            StateDirError::Dots => {
                "contains `.` or `..`: not looked at (give the path without them)"
            }
        })
    }
}

impl std::error::Error for StateDirError {}

/// A state dir must be an absolute path without `.` or `..`.
pub(super) fn plain_state_dir(dir: &str) -> Result<(), StateDirError> {
    if !dir.starts_with('/') {
        return Err(StateDirError::Relative);
    }
    if Path::new(dir)
        .components()
        .any(|c| matches!(c, Component::ParentDir | Component::CurDir))
        || dir.split('/').any(|c| c == "." || c == "..")
    {
        return Err(StateDirError::Dots);
    }
    Ok(())
}

/// Where OpenClaw keeps its state in the platform's and the usual images.
const USUAL_STATE_DIRS: [&str; 2] = ["/home/node/.openclaw", "/root/.openclaw"];

/// The container's candidate state dirs: the override; else `$OPENCLAW_STATE_DIR` and every
/// mount ending in `.openclaw`; else `$HOME/.openclaw` and the usual places.
pub(super) fn state_dirs(
    search: &ContainerSearch,
    c: &Container,
    d: &Details,
    problems: &mut Vec<Problem>,
) -> Vec<String> {
    if !search.state_dirs.is_empty() {
        // Checked once at the start of the survey.
        return search
            .state_dirs
            .iter()
            .filter(|d| plain_state_dir(d).is_ok())
            .cloned()
            .collect();
    }
    let mut dirs: Vec<String> = Vec::new();
    let add = |dirs: &mut Vec<String>, p: String| {
        let p = p.trim_end_matches('/').to_owned();
        if p.starts_with('/') && !dirs.contains(&p) {
            dirs.push(p);
        }
    };
    if let Some(v) = d.env.get("OPENCLAW_STATE_DIR") {
        match plain_state_dir(v) {
            Ok(()) => add(&mut dirs, v.clone()),
            Err(e) if v.starts_with('/') => problems.push(Problem {
                location: Location::Container(c.name.clone()),
                path: Some(PathBuf::from(v)),
                message: format!("OPENCLAW_STATE_DIR {e}"),
            }),
            Err(_) => {}
        }
    }
    for m in &c.mounts {
        if m.destination.trim_end_matches('/').ends_with("/.openclaw") {
            add(&mut dirs, m.destination.clone());
        }
    }
    // Told by the environment or a mount: that is where the state is; otherwise guess.
    if dirs.is_empty() {
        if let Some(h) = d.env.get("HOME") {
            add(&mut dirs, format!("{}/.openclaw", h.trim_end_matches('/')));
        }
        for u in USUAL_STATE_DIRS {
            add(&mut dirs, u.to_owned());
        }
    }
    dirs
}

/// How this host may read a container's state dir without exec, in the order to try them;
/// exec is always possible and comes last.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Ways {
    /// From the source of the bind mount that covers it, at this host path.
    pub host: Option<PathBuf>,
    /// Through the root of the container's init (this host pid).
    pub inside: Option<u64>,
}

/// Only a local engine's containers have their files and processes on this machine, and
/// `--via-exec` asks for exec everywhere.
pub(super) fn ways(
    local: bool,
    via_exec: bool,
    c: &Container,
    dir: &str,
    init: Option<u64>,
) -> Ways {
    if !local || via_exec {
        return Ways::default();
    }
    Ways {
        host: host_path(c, Path::new(dir)),
        inside: init,
    }
}

/// The host path behind a path inside the container, when a bind mount covers it: the
/// longest covering mount wins, as in the kernel.
fn host_path(c: &Container, inside: &Path) -> Option<PathBuf> {
    c.mounts
        .iter()
        .filter(|m| m.kind == "bind")
        .filter_map(|m| {
            let rel = inside.strip_prefix(&m.destination).ok()?;
            Some((m.destination.len(), Path::new(&m.source).join(rel)))
        })
        .max_by_key(|(n, _)| *n)
        .map(|(_, p)| p)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::time::Duration;

    use super::*;
    use crate::sys::docker::Mount;

    fn search(state_dirs: &[&str]) -> ContainerSearch {
        ContainerSearch {
            docker_hosts: Vec::new(),
            prefix: "zaki-user-".into(),
            names: Vec::new(),
            state_dirs: state_dirs.iter().map(|s| s.to_string()).collect(),
            timeout: Duration::from_secs(5),
            via_exec: false,
        }
    }

    fn mount(kind: &str, source: &str, destination: &str) -> Mount {
        Mount {
            kind: kind.into(),
            source: source.into(),
            destination: destination.into(),
        }
    }

    fn container(mounts: Vec<Mount>) -> Container {
        Container {
            id: "0123456789abcdef".into(),
            name: "zaki-user-1".into(),
            state: "running".into(),
            mounts,
        }
    }

    fn details(env: &[(&str, &str)]) -> Details {
        Details {
            pid: Some(7),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<HashMap<_, _>>(),
            started_at: None,
        }
    }

    #[test]
    fn plain_state_dirs_only() {
        assert_eq!(plain_state_dir("/home/node/.openclaw"), Ok(()));
        assert_eq!(plain_state_dir("/a/.openclaw/"), Ok(()));
        assert_eq!(
            plain_state_dir("home/.openclaw"),
            Err(StateDirError::Relative)
        );
        assert_eq!(plain_state_dir("/a/../b"), Err(StateDirError::Dots));
        assert_eq!(plain_state_dir("/a/./b"), Err(StateDirError::Dots));
        assert_eq!(plain_state_dir("/a/b/."), Err(StateDirError::Dots));
        assert_eq!(
            StateDirError::Relative.to_string(),
            "is not an absolute path"
        );
        assert_eq!(
            StateDirError::Dots.to_string(),
            "contains `.` or `..`: not looked at (give the path without them)"
        );
    }

    #[test]
    fn explicit_state_dirs_replace_every_guess() {
        let c = container(vec![mount("bind", "/srv/u1", "/data/.openclaw")]);
        let d = details(&[("OPENCLAW_STATE_DIR", "/env/.openclaw")]);
        let mut problems = Vec::new();
        let dirs = state_dirs(
            &search(&["/x/.openclaw", "rel", "/y/../z"]),
            &c,
            &d,
            &mut problems,
        );
        // The bad ones were reported once, at the start of the survey; here they are left out.
        assert_eq!(dirs, ["/x/.openclaw"]);
        assert!(problems.is_empty());
    }

    #[test]
    fn environment_and_mounts_before_guesses() {
        let c = container(vec![
            mount("bind", "/srv/u1", "/data/.openclaw/"),
            mount("volume", "v", "/env/.openclaw"),
            mount("bind", "/srv/w", "/workspace"),
        ]);
        let d = details(&[("OPENCLAW_STATE_DIR", "/env/.openclaw"), ("HOME", "/h")]);
        let mut problems = Vec::new();
        let dirs = state_dirs(&search(&[]), &c, &d, &mut problems);
        assert_eq!(dirs, ["/env/.openclaw", "/data/.openclaw"]);
        assert!(problems.is_empty());
    }

    #[test]
    fn guesses_from_home_and_the_usual_places() {
        let c = container(Vec::new());
        let mut problems = Vec::new();
        let dirs = state_dirs(
            &search(&[]),
            &c,
            &details(&[("HOME", "/h/")]),
            &mut problems,
        );
        assert_eq!(
            dirs,
            ["/h/.openclaw", "/home/node/.openclaw", "/root/.openclaw"]
        );
        let dirs = state_dirs(
            &search(&[]),
            &c,
            &details(&[("HOME", "/root")]),
            &mut problems,
        );
        assert_eq!(dirs, ["/root/.openclaw", "/home/node/.openclaw"]);
    }

    #[test]
    fn a_bad_openclaw_state_dir_is_a_problem_when_absolute() {
        let c = container(Vec::new());
        let mut problems = Vec::new();
        let dirs = state_dirs(
            &search(&[]),
            &c,
            &details(&[("OPENCLAW_STATE_DIR", "/a/../etc")]),
            &mut problems,
        );
        assert_eq!(dirs, ["/home/node/.openclaw", "/root/.openclaw"]);
        assert_eq!(problems.len(), 1);
        assert_eq!(
            problems[0].to_string(),
            "container:zaki-user-1: /a/../etc: OPENCLAW_STATE_DIR contains `.` or `..`: not looked at (give the path without them)"
        );
        // A relative one is only ignored (OpenClaw resolves it against its own cwd).
        problems.clear();
        state_dirs(
            &search(&[]),
            &c,
            &details(&[("OPENCLAW_STATE_DIR", "state")]),
            &mut problems,
        );
        assert!(problems.is_empty());
    }

    #[test]
    fn ways_to_read_a_state_dir() {
        let c = container(vec![
            mount("bind", "/srv/home", "/home"),
            mount("bind", "/srv/u1", "/home/node/.openclaw"),
            mount("volume", "/var/lib/docker/volumes/v/_data", "/root"),
        ]);
        // The longest covering bind mount gives the host path.
        assert_eq!(
            ways(true, false, &c, "/home/node/.openclaw/agents", Some(9)),
            Ways {
                host: Some(PathBuf::from("/srv/u1/agents")),
                inside: Some(9)
            }
        );
        assert_eq!(
            ways(true, false, &c, "/home/other/.openclaw", Some(9)).host,
            Some(PathBuf::from("/srv/home/other/.openclaw"))
        );
        // A volume is not a bind mount: through the container's root only.
        assert_eq!(
            ways(true, false, &c, "/root/.openclaw", Some(9)),
            Ways {
                host: None,
                inside: Some(9)
            }
        );
        assert_eq!(
            ways(true, false, &c, "/root/.openclaw", None),
            Ways::default()
        );
        // A remote engine, or --via-exec: exec only.
        assert_eq!(
            ways(false, false, &c, "/home/node/.openclaw", Some(9)),
            Ways::default()
        );
        assert_eq!(
            ways(true, true, &c, "/home/node/.openclaw", Some(9)),
            Ways::default()
        );
    }
}
