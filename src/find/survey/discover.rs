//! The survey's I/O: asks every engine for its containers, inspects the ones that matter,
//! resolves mount sources and places on this host, and opens (pins) state dirs it can read
//! from here. What it all means is for [`plan`](super::plan).

use std::collections::HashMap;
use std::fs;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::model::place::{Location, Place, Problem};
use crate::sys::docker::{self, Container, Details, Engine};

use super::dirs::{self, Ways};
use super::pin::{Pin, pin_below_mount, pin_inside};
use super::plan::{self, Bind, Inspect, Listed, Mounted, Reach, Spot};
use super::{ContainerSearch, EngineStatus};

/// An open state dir, kept open as long as its place is used.
pub(super) type Pinned = Arc<OwnedFd>;

/// Everything the engines and this host said.
pub(super) struct Discovery {
    pub engines: Vec<Engine>,
    pub engines_up: Vec<EngineStatus>,
    /// Some engine listed its containers.
    pub listed: bool,
    /// Some engine that listed them is on this machine.
    pub local: bool,
    /// Every container listed, engine after engine.
    pub containers: Vec<Listed<Pinned>>,
    /// The given places, in order, with their dirs resolved.
    pub spots: Vec<Spot>,
}

pub(super) async fn discover(
    search: &ContainerSearch,
    places: &[Place],
    problems: &mut Vec<Problem>,
) -> Discovery {
    for dir in &search.state_dirs {
        if let Err(e) = dirs::plain_state_dir(dir) {
            problems.push(Problem {
                location: Location::Host,
                path: None,
                message: format!("--container-state-dir {dir:?} {e}"),
            });
        }
    }
    let (engines, engines_up, lists) = engines(search, problems).await;
    let spots: Vec<Spot> = places
        .iter()
        .map(|p| Spot {
            location: p.location.clone(),
            shown_as: p.shown_as.clone(),
            pids: p.pids.clone(),
            canonical: fs::canonicalize(&p.state_dir).ok(),
            ambiguous: None,
        })
        .collect();
    // Host dirs that are (or will be) places: a container that mounts one exactly is
    // inspected even when not selected.
    let mut known: Vec<PathBuf> = spots.iter().filter_map(|s| s.canonical.clone()).collect();
    let mut sources = HashMap::new();
    let mut containers = Vec::new();
    for (ei, list) in &lists {
        let engine = &engines[*ei];
        for c in list {
            let selected = super::selected(&c.name, &search.prefix, &search.names)
                && (c.running() || !search.names.is_empty());
            let binds = match engine.local && !known.is_empty() {
                true => resolve(c, &mut sources),
                false => Vec::new(),
            };
            let mounts_known = known
                .iter()
                .any(|k| matches!(plan::mounted_at(&binds, k), Some(Mounted::Exactly(_))));
            let inspect = match selected || mounts_known {
                true => inspect(engine, search, c, selected, problems, &mut known).await,
                false => Inspect::NotAsked,
            };
            containers.push(Listed {
                engine: *ei,
                docker_host: engine.label.clone(),
                container: c.clone(),
                selected,
                binds,
                inspect,
            });
        }
    }
    Discovery {
        local: lists.iter().any(|(e, _)| engines[*e].local),
        listed: !lists.is_empty(),
        engines,
        engines_up,
        containers,
        spots,
    }
}

type Lists = Vec<(usize, Vec<Container>)>;

/// Connects to every engine and lists its containers; an engine that cannot be asked is a
/// problem.
async fn engines(
    search: &ContainerSearch,
    problems: &mut Vec<Problem>,
) -> (Vec<Engine>, Vec<EngineStatus>, Lists) {
    let urls: Vec<Option<&str>> = if search.docker_hosts.is_empty() {
        vec![None]
    } else {
        search
            .docker_hosts
            .iter()
            .map(|h| Some(h.as_str()))
            .collect()
    };
    let mut engines = Vec::new();
    let mut up = Vec::new();
    let mut lists = Vec::new();
    for url in urls {
        let label = docker::label(url);
        let engine = match docker::connect(url, search.timeout).await {
            Ok(e) => e,
            Err(e) => {
                up.push(unreachable(&label, &e.to_string(), problems));
                continue;
            }
        };
        match engine.containers().await {
            Ok(list) => {
                lists.push((engines.len(), list));
                engines.push(engine);
                up.push(EngineStatus {
                    docker_host: label,
                    up: true,
                    error: None,
                });
            }
            Err(e) => up.push(unreachable(&label, &e.to_string(), problems)),
        }
    }
    (engines, up, lists)
}

/// An engine that cannot be asked is a place not looked at: an error (exit 1), whether it was
/// named or is the default, where the platform's containers run. The operator who has no
/// Docker says so with --no-containers.
fn unreachable(label: &str, err: &str, problems: &mut Vec<Problem>) -> EngineStatus {
    problems.push(Problem {
        location: Location::Docker(label.to_owned()),
        path: None,
        message: format!(
            "{err}: its containers were not looked at (pass --no-containers to look at the host only)"
        ),
    });
    EngineStatus {
        docker_host: label.to_owned(),
        up: false,
        error: Some(err.to_owned()),
    }
}

/// The container's bind mounts with their sources' symlinks resolved (each source resolved
/// once per survey); a source that cannot be resolved matches nothing.
fn resolve(c: &Container, sources: &mut HashMap<String, Option<PathBuf>>) -> Vec<Bind> {
    c.mounts
        .iter()
        .filter(|m| m.kind == "bind")
        .filter_map(|m| {
            let source = sources
                .entry(m.source.clone())
                .or_insert_with(|| fs::canonicalize(&m.source).ok())
                .clone()?;
            Some(Bind {
                source,
                destination: m.destination.clone(),
            })
        })
        .collect()
}

/// Inspects a container (one with processes: a stopped one has nothing to tell), and for a
/// selected one finds how each of its state dirs can be read: a running one's in every way, a
/// stopped one's only from this host (its bind mounts' sources). Every dir read from the host
/// joins `known`.
async fn inspect(
    engine: &Engine,
    search: &ContainerSearch,
    c: &Container,
    selected: bool,
    problems: &mut Vec<Problem>,
    known: &mut Vec<PathBuf>,
) -> Inspect<Pinned> {
    let details = match plan::has_processes(c) {
        true => match engine.details(&c.id).await {
            Ok(d) => d,
            Err(e) => return Inspect::Failed(e.to_string()),
        },
        false => Details::default(),
    };
    let mut dirs = Vec::new();
    if selected {
        for dir in dirs::state_dirs(search, c, &details, problems) {
            let ways = dirs::ways(engine.local, search.via_exec, c, &dir, details.pid);
            match reach(c, &dir, ways) {
                // Nothing runs in a stopped container to exec in.
                Some(Reach::Exec) if !c.running() => {}
                Some(reach) => {
                    if let Reach::Host { canonical, .. } = &reach {
                        known.push(canonical.clone());
                    }
                    dirs.push((dir, reach));
                }
                None => {}
            }
        }
    }
    Inspect::Answered {
        init: details.pid,
        dirs,
    }
}

/// How a container's state dir is read: from the bind mount's source on this host, else
/// through the container's root, else by exec. `None`: it does not exist.
fn reach(c: &Container, dir: &str, ways: Ways) -> Option<Reach<Pinned>> {
    if let Some(host) = ways.host {
        // Below the mount's source every component is the tenant's: it is opened without
        // following a symlink and pinned, else looked at from inside.
        let pinned = match pin_below_mount(c, dir) {
            Ok(None) => Some((host, None)),
            Ok(Some(fd)) => Some((fd_path(&fd), Some(Arc::new(fd)))),
            Err(Pin::Absent) => return None,
            Err(Pin::Unsafe) => None,
        };
        if let Some((path, pin)) = pinned {
            // Read from the host; absent there means absent in the container.
            let canonical = fs::canonicalize(&path).ok()?;
            if !canonical.is_dir() {
                return None;
            }
            return Some(Reach::Host {
                path,
                canonical,
                pin,
            });
        }
    }
    // Not a bind mount: read it through the container's own root when this host can (no
    // exec, no process in the container), else exec.
    if let Some(init) = ways.inside {
        match pin_inside(init, &c.id, dir) {
            Ok(fd) => {
                return Some(Reach::Inside {
                    path: fd_path(&fd),
                    pin: Arc::new(fd),
                });
            }
            Err(Pin::Absent) => return None,
            Err(Pin::Unsafe) => {}
        }
    }
    Some(Reach::Exec)
}

fn fd_path(fd: &OwnedFd) -> PathBuf {
    Path::new("/proc/self/fd").join(fd.as_raw_fd().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::docker::Mount;

    /// A container bind-mounting `source` at `/data`.
    fn mounting(source: &Path) -> Container {
        Container {
            id: "0123456789abcdef0123".into(),
            name: "zaki-user-1".into(),
            state: "running".into(),
            mounts: vec![Mount {
                kind: "bind".into(),
                source: source.to_string_lossy().into_owned(),
                destination: "/data".into(),
            }],
        }
    }

    fn from_host(c: &Container, dir: &str) -> Option<Reach<Pinned>> {
        reach(c, dir, dirs::ways(true, false, c, dir, None))
    }

    #[test]
    fn a_dir_below_a_bind_mount_is_pinned_on_the_host() {
        let tmp = tempfile::tempdir().unwrap();
        fs::create_dir_all(tmp.path().join("u/.openclaw")).unwrap();
        let c = mounting(&tmp.path().join("u"));
        let Some(Reach::Host {
            path,
            canonical,
            pin,
        }) = from_host(&c, "/data/.openclaw")
        else {
            panic!("read from the host");
        };
        let pin = pin.expect("below the mount: pinned");
        assert_eq!(path, fd_path(&pin));
        assert_eq!(
            canonical,
            tmp.path().canonicalize().unwrap().join("u/.openclaw")
        );
        // The mount itself is the state dir: nothing below to pin, read at its source.
        let Some(Reach::Host { path, pin, .. }) = from_host(&c, "/data") else {
            panic!("read from the host");
        };
        assert_eq!(path, tmp.path().join("u"));
        assert!(pin.is_none());
    }

    #[test]
    fn a_tenants_symlink_below_a_mount_is_not_followed() {
        let tmp = tempfile::tempdir().unwrap();
        fs::create_dir_all(tmp.path().join("u")).unwrap();
        fs::create_dir_all(tmp.path().join("host-secret")).unwrap();
        std::os::unix::fs::symlink(
            tmp.path().join("host-secret"),
            tmp.path().join("u/.openclaw"),
        )
        .unwrap();
        let c = mounting(&tmp.path().join("u"));
        // No init to look through: exec, which resolves the link inside the container.
        assert!(matches!(
            from_host(&c, "/data/.openclaw"),
            Some(Reach::Exec)
        ));
    }

    #[test]
    fn an_absent_dir_is_left_out_and_a_file_is_no_state_dir() {
        let tmp = tempfile::tempdir().unwrap();
        fs::create_dir_all(tmp.path().join("u")).unwrap();
        fs::write(tmp.path().join("u/file"), "x").unwrap();
        let c = mounting(&tmp.path().join("u"));
        assert!(from_host(&c, "/data/.openclaw").is_none());
        // Below the mount, what is not a directory is not opened: asked inside instead.
        assert!(matches!(from_host(&c, "/data/file"), Some(Reach::Exec)));
        // A file mounted as the state dir itself is nothing to look at.
        let file = mounting(&tmp.path().join("u/file"));
        assert!(from_host(&file, "/data").is_none());
        // Not under a bind mount, nothing to look through: exec.
        assert!(matches!(
            from_host(&c, "/root/.openclaw"),
            Some(Reach::Exec)
        ));
        // A remote engine is never read from here.
        let remote = dirs::ways(false, false, &c, "/data", Some(1));
        assert!(matches!(reach(&c, "/data", remote), Some(Reach::Exec)));
    }

    #[test]
    fn mount_sources_are_resolved_once_and_unresolvable_ones_dropped() {
        let tmp = tempfile::tempdir().unwrap();
        fs::create_dir_all(tmp.path().join("real")).unwrap();
        std::os::unix::fs::symlink(tmp.path().join("real"), tmp.path().join("link")).unwrap();
        let mut c = mounting(&tmp.path().join("link"));
        c.mounts.push(Mount {
            kind: "bind".into(),
            source: tmp.path().join("missing").to_string_lossy().into_owned(),
            destination: "/m".into(),
        });
        c.mounts.push(Mount {
            kind: "volume".into(),
            source: tmp.path().join("real").to_string_lossy().into_owned(),
            destination: "/v".into(),
        });
        let mut sources = HashMap::new();
        let binds = resolve(&c, &mut sources);
        assert_eq!(
            binds,
            [Bind {
                source: tmp.path().canonicalize().unwrap().join("real"),
                destination: "/data".into(),
            }]
        );
        assert_eq!(sources.len(), 2);
    }
}
