//! Finding places in Docker: which containers to look at, where their state dirs are, and
//! which host places are really a container's bind mounts (so their pids are the container's).
//!
//! A state dir that is a bind mount from this machine is read from the host (no exec needed)
//! and judged in the container's PID namespace; any other state dir is listed by one exec.

use std::collections::HashSet;
use std::fs;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use crate::docker::{self, Container, Details, Engine};
use crate::place::{Location, PidView, Place, Problem};

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

/// One container looked at, as the JSON report's `containers` lists it.
#[derive(Debug, Clone, Serialize)]
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

/// A container to list with one exec.
#[derive(Debug, Clone)]
pub struct ExecTarget {
    pub engine: usize,
    pub container: String,
    /// Index into [`Survey::reports`].
    pub report: usize,
    pub dirs: Vec<String>,
    /// Dirs on a mount (bind or volume) that others may use too, with why: there, the holders
    /// seen inside this container are not every possible holder.
    pub shared: std::collections::HashMap<String, String>,
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
    pub engines_up: Vec<crate::report::EngineStatus>,
}

/// Why a container's state dir could not be pinned from the host.
enum Pin {
    /// It does not exist in the container: nothing to look at.
    Absent,
    /// A symlink on the way, the process gone or not the container's, no permission: the
    /// container is asked by exec instead, which resolves its own paths.
    Unsafe,
}

/// Opens a state dir inside a running container through its init's root (`/proc/<pid>/root`),
/// one component at a time without following a symlink (an absolute one would resolve on the
/// host), and checks that the process is still that container's (its cgroup names the id).
/// The fd pins the directory: reading and removal then go through `/proc/self/fd/<fd>`, so a
/// later swap of a path component inside the container cannot redirect them.
fn pin_inside(init: u64, id: &str, dir: &str) -> Result<std::os::fd::OwnedFd, Pin> {
    use nix::errno::Errno;
    use nix::fcntl::{OFlag, open, openat};
    use nix::sys::stat::Mode;
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
    let procfd =
        open(format!("/proc/{init}").as_str(), flags, Mode::empty()).map_err(|_| Pin::Unsafe)?;
    let cgroup = openat(
        &procfd,
        "cgroup",
        OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .ok()
    .and_then(|fd| std::io::read_to_string(std::fs::File::from(fd)).ok())
    .unwrap_or_default();
    if id.len() < 12 || !cgroup.contains(id) {
        return Err(Pin::Unsafe);
    }
    let mut fd = openat(&procfd, "root", flags, Mode::empty()).map_err(|_| Pin::Unsafe)?;
    for comp in Path::new(dir).components() {
        match comp {
            std::path::Component::RootDir => {}
            std::path::Component::Normal(c) => {
                fd = match openat(&fd, c, flags | OFlag::O_NOFOLLOW, Mode::empty()) {
                    Ok(f) => f,
                    Err(Errno::ENOENT) => return Err(Pin::Absent),
                    Err(_) => return Err(Pin::Unsafe),
                }
            }
            _ => return Err(Pin::Unsafe),
        }
    }
    Ok(fd)
}

/// Opens the part of a container's state dir below the bind mount that covers it, from the
/// mount's source on this host, one component at a time without following a symlink (the
/// tenant may have made any of them a symlink to a host path). `Ok(None)`: the mount is the
/// state dir itself, nothing below to check.
fn pin_below_mount(c: &Container, dir: &str) -> Result<Option<std::os::fd::OwnedFd>, Pin> {
    let Some(m) = c
        .mounts
        .iter()
        .filter(|m| m.kind == "bind" && Path::new(dir).starts_with(&m.destination))
        .max_by_key(|m| m.destination.len())
    else {
        return Err(Pin::Unsafe);
    };
    let rel = Path::new(dir)
        .strip_prefix(&m.destination)
        .map_err(|_| Pin::Unsafe)?;
    if rel.as_os_str().is_empty() {
        return Ok(None);
    }
    let mut fd = crate::safefs::operator_dir(Path::new(&m.source)).map_err(|_| Pin::Unsafe)?;
    for comp in rel.components() {
        let std::path::Component::Normal(name) = comp else {
            return Err(Pin::Unsafe);
        };
        fd = match crate::safefs::dir_at(&fd, name) {
            Ok(f) => f,
            Err(crate::safefs::OpenError::Gone) => return Err(Pin::Absent),
            Err(_) => return Err(Pin::Unsafe),
        };
    }
    Ok(Some(fd))
}

/// A state dir must be an absolute path without `.` or `..`: through a bind mount, `..` would
/// map to a host path outside it.
fn plain_state_dir(dir: &str) -> Result<(), String> {
    use std::path::Component;
    if !dir.starts_with('/') {
        return Err("is not an absolute path".into());
    }
    if Path::new(dir)
        .components()
        .any(|c| matches!(c, Component::ParentDir | Component::CurDir))
        || dir.split('/').any(|c| c == "." || c == "..")
    {
        return Err("contains `.` or `..`: not looked at (give the path without them)".into());
    }
    Ok(())
}

/// Where OpenClaw keeps its state in the platform's and the usual images.
const USUAL_STATE_DIRS: [&str; 2] = ["/home/node/.openclaw", "/root/.openclaw"];

/// Surveys every engine: binds `places` to the containers that mount them, adds the host side
/// of containers' bind-mounted state dirs to `places`, and returns what must be exec'd.
pub async fn survey(
    search: &ContainerSearch,
    places: &mut Vec<Place>,
    problems: &mut Vec<Problem>,
) -> Survey {
    let mut s = Survey::default();
    for dir in &search.state_dirs {
        if let Err(e) = plain_state_dir(dir) {
            problems.push(Problem {
                location: Location::Host,
                path: None,
                message: format!("--container-state-dir {dir:?} {e}"),
            });
        }
    }
    let urls: Vec<Option<&str>> = if search.docker_hosts.is_empty() {
        vec![None]
    } else {
        search
            .docker_hosts
            .iter()
            .map(|h| Some(h.as_str()))
            .collect()
    };
    let mut listed: Vec<(usize, Vec<Container>)> = Vec::new();
    for url in urls {
        let label = docker::label(url);
        let engine = match docker::connect(url, search.timeout).await {
            Ok(e) => e,
            Err(e) => {
                unreachable(&label, &e.to_string(), problems, &mut s);
                continue;
            }
        };
        match engine.containers().await {
            Ok(list) => {
                listed.push((s.engines.len(), list));
                s.engines.push(engine);
                s.engines_up.push(crate::report::EngineStatus {
                    docker_host: label,
                    up: true,
                    error: None,
                });
            }
            Err(e) => unreachable(&label, &e.to_string(), problems, &mut s),
        }
    }
    let any_local = listed.iter().any(|(e, _)| s.engines[*e].local);

    let mut canonical: Vec<Option<PathBuf>> = places
        .iter()
        .map(|p| fs::canonicalize(&p.state_dir).ok())
        .collect();
    let mut bound = vec![false; places.len()];
    // Places in the zaki users' layout (their pids are a container's, so far unknown).
    let users_places: Vec<bool> = places
        .iter()
        .map(|p| matches!(p.pids, PidView::Unknown(_)))
        .collect();
    let mut seen_names = HashSet::new();
    // Other containers that reach each place (exactly, or through a parent dir's mount).
    let mut others: Vec<Vec<String>> = vec![Vec::new(); places.len()];
    let mut canon_sources: std::collections::HashMap<String, Option<PathBuf>> =
        std::collections::HashMap::new();

    for (ei, containers) in &listed {
        let engine = &s.engines[*ei];
        for c in containers {
            let selected = if search.names.is_empty() {
                c.running() && c.name.starts_with(&search.prefix)
            } else {
                search.names.contains(&c.name)
            };
            // Host places this container bind-mounts exactly (only meaningful for a local
            // engine); one reached through a parent dir's mount is only noted (ambiguous).
            let mut binds: Vec<usize> = Vec::new();
            if engine.local {
                for (i, canon) in canonical.iter().enumerate() {
                    let Some(canon) = canon else { continue };
                    match mounted_at(c, canon, &mut canon_sources) {
                        Some(Mounted::Exactly(_)) => binds.push(i),
                        Some(Mounted::Within { source }) => others[i].push(format!(
                            "{} ({}, mounts the parent dir {})",
                            c.name,
                            c.state,
                            source.display()
                        )),
                        None => {}
                    }
                }
            }
            if !selected && binds.is_empty() {
                continue;
            }
            seen_names.insert(c.name.clone());
            // A paused container's processes still exist (and hold their locks).
            let details = if c.running() || c.state == "paused" {
                engine.details(&c.id).await
            } else {
                Ok(Details::default())
            };
            let mut report = ContainerReport {
                name: c.name.clone(),
                docker_host: engine.label.clone(),
                id: c.id.chars().take(12).collect(),
                state: c.state.clone(),
                observed: "none",
                state_dirs: Vec::new(),
                error: None,
            };
            let details = match details {
                Ok(d) => d,
                Err(e) => {
                    report.error = Some(e.to_string());
                    s.reports.push(report);
                    continue;
                }
            };
            let has_processes = c.running() || c.state == "paused";
            let view = match (has_processes, details.pid) {
                (true, Some(init)) => PidView::Container { init },
                (true, None) => PidView::Unknown(format!("container {} shows no process", c.name)),
                (false, _) => PidView::NoProcesses(format!(
                    "container {} is {}: nothing in it runs",
                    c.name, c.state
                )),
            };
            let mut via_host = false;
            for &i in &binds {
                // A running container wins over a stopped one mounting the same dir; either
                // way the place is ambiguous.
                if bound[i] && !has_processes {
                    others[i].push(format!("{} ({}, mounts it too)", c.name, c.state));
                    continue;
                }
                if bound[i] {
                    others[i].push(format!("{} (mounts it too)", places[i].location));
                }
                let canon = canonical[i].as_ref().expect("bound places are canonical");
                let Some(Mounted::Exactly(inside)) = mounted_at(c, canon, &mut canon_sources)
                else {
                    unreachable!("filtered above")
                };
                places[i].location = Location::Container(c.name.clone());
                places[i].shown_as = Some(inside.clone());
                places[i].pids = view.clone();
                bound[i] = true;
                via_host = true;
                report
                    .state_dirs
                    .push(inside.to_string_lossy().into_owned());
            }

            let mut exec_dirs = Vec::new();
            if selected && c.running() {
                for dir in state_dirs(search, c, &details, problems) {
                    let host_side = if engine.local && !search.via_exec {
                        host_path(c, Path::new(&dir))
                    } else {
                        None
                    };
                    // Below the mount's source every component is the tenant's: it is opened
                    // without following a symlink and pinned, else looked at from inside.
                    let host_side = match host_side.map(|h| (pin_below_mount(c, &dir), h)) {
                        Some((Ok(None), h)) => Some((h, None)),
                        Some((Ok(Some(fd)), _)) => Some((
                            PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd())),
                            Some(std::sync::Arc::new(fd)),
                        )),
                        Some((Err(Pin::Absent), _)) => continue,
                        Some((Err(Pin::Unsafe), _)) | None => None,
                    };
                    match host_side {
                        Some((h, pin)) => {
                            // Read from the host; absent there means absent in the container.
                            let Ok(canon) = fs::canonicalize(&h) else {
                                continue;
                            };
                            if !canon.is_dir() {
                                continue;
                            }
                            match canonical.iter().position(|p| p.as_ref() == Some(&canon)) {
                                // Already a place: rebind it unless another container has it.
                                Some(k) if !bound[k] => {
                                    places[k].location = Location::Container(c.name.clone());
                                    places[k].shown_as = Some(PathBuf::from(&dir));
                                    places[k].pids = view.clone();
                                    bound[k] = true;
                                }
                                Some(k) => {
                                    if places[k].location != Location::Container(c.name.clone()) {
                                        others[k].push(format!("{} (uses it too)", c.name));
                                    }
                                }
                                None => {
                                    places.push(Place {
                                        location: Location::Container(c.name.clone()),
                                        state_dir: h,
                                        shown_as: Some(PathBuf::from(&dir)),
                                        pids: view.clone(),
                                        pin,
                                    });
                                    canonical.push(Some(canon));
                                    bound.push(true);
                                    others.push(Vec::new());
                                }
                            }
                            via_host = true;
                            if !report.state_dirs.contains(&dir) {
                                report.state_dirs.push(dir);
                            }
                        }
                        // Not a bind mount: read it through the container's own root when
                        // this host can (no exec, no process in the container), else exec.
                        None => match (engine.local && !search.via_exec, details.pid) {
                            (true, Some(init)) => match pin_inside(init, &c.id, &dir) {
                                Ok(fd) => {
                                    places.push(Place {
                                        location: Location::Container(c.name.clone()),
                                        state_dir: PathBuf::from(format!(
                                            "/proc/self/fd/{}",
                                            fd.as_raw_fd()
                                        )),
                                        shown_as: Some(PathBuf::from(&dir)),
                                        pids: view.clone(),
                                        pin: Some(std::sync::Arc::new(fd)),
                                    });
                                    canonical.push(None);
                                    bound.push(true);
                                    others.push(Vec::new());
                                    via_host = true;
                                    report.state_dirs.push(dir);
                                }
                                Err(Pin::Absent) => {}
                                Err(Pin::Unsafe) => exec_dirs.push(dir),
                            },
                            _ => exec_dirs.push(dir),
                        },
                    }
                }
            } else if selected && !via_host {
                report.error = Some(format!(
                    "not running ({}): nothing to look at inside",
                    c.state
                ));
            }
            report.observed = match (via_host, exec_dirs.is_empty()) {
                (true, true) => "host",
                (true, false) => "both",
                (false, false) => "exec",
                (false, true) => "none",
            };
            if !exec_dirs.is_empty() {
                let shared = exec_dirs
                    .iter()
                    .filter_map(|d| shared_why(c, d).map(|w| (d.clone(), w)))
                    .collect();
                s.exec.push(ExecTarget {
                    engine: *ei,
                    container: c.name.clone(),
                    report: s.reports.len(),
                    dirs: exec_dirs.clone(),
                    shared,
                });
                report.state_dirs.extend(exec_dirs);
            }
            s.reports.push(report);
        }
    }

    for name in &search.names {
        if !seen_names.contains(name) && !listed.is_empty() {
            problems.push(Problem {
                location: Location::Container(name.clone()),
                path: None,
                message: "no such container (check `docker ps -a`, or drop --container)".into(),
            });
        }
    }
    // Users' dirs that no container mounts: their container is gone, and with it every owner.
    // Only trusted when this engine does run the users' containers (it mounts another user's
    // dir); an engine that mounts none of them may simply be the wrong one.
    let serves_users = any_local && (0..users_places.len()).any(|i| users_places[i] && bound[i]);
    for (i, p) in places.iter_mut().enumerate().take(users_places.len()) {
        if users_places[i] && !bound[i] && serves_users {
            p.pids = PidView::NoProcesses("no container mounts it: its gateway is gone".into());
        }
    }
    for (p, who) in places.iter_mut().zip(&others) {
        if who.is_empty() {
            continue;
        }
        let owner = match &p.location {
            Location::Container(c) => format!("mounted by {c}; also "),
            _ => String::new(),
        };
        let why = format!("ambiguous place: {owner}reachable from {}", who.join(", "));
        // Whose pid namespace the payload's pid belongs to is a guess now.
        p.pids = PidView::Unknown(why.clone());
        s.ambiguous.push((p.state_dir.clone(), why));
    }
    s
}

/// Why a container's state dir may be used by others too (it sits on a mount).
fn shared_why(c: &Container, dir: &str) -> Option<String> {
    c.mounts
        .iter()
        .filter(|m| Path::new(dir).starts_with(&m.destination))
        .max_by_key(|m| m.destination.len())
        .map(|m| {
            format!(
                "{dir} is on a {} mount ({}) that other containers or the host may use: holders outside this container are not seen",
                m.kind, m.source
            )
        })
}

/// An engine that cannot be asked is a place not looked at: an error (exit 1), whether it was
/// named or is the default, where the platform's containers run. The operator who has no
/// Docker says so with --no-containers.
fn unreachable(label: &str, err: &str, problems: &mut Vec<Problem>, s: &mut Survey) {
    problems.push(Problem {
        location: Location::Docker(label.to_owned()),
        path: None,
        message: format!(
            "{err}: its containers were not looked at (pass --no-containers to look at the host only)"
        ),
    });
    s.engines_up.push(crate::report::EngineStatus {
        docker_host: label.to_owned(),
        up: false,
        error: Some(err.to_owned()),
    });
}

/// How a container reaches a host dir through its bind mounts.
enum Mounted {
    /// Its mount's source is exactly this dir; seen inside at this path.
    Exactly(PathBuf),
    /// A mount of a parent dir covers it.
    Within { source: PathBuf },
}

/// How a (canonical) host dir is reached by the container: the longest covering bind mount
/// wins, as in the kernel; mount sources are compared after resolving their symlinks.
fn mounted_at(
    c: &Container,
    host: &Path,
    canon: &mut std::collections::HashMap<String, Option<PathBuf>>,
) -> Option<Mounted> {
    c.mounts
        .iter()
        .filter(|m| m.kind == "bind")
        .filter_map(|m| {
            let src = canon
                .entry(m.source.clone())
                .or_insert_with(|| fs::canonicalize(&m.source).ok())
                .clone()?;
            let rel = host.strip_prefix(&src).ok()?;
            let n = src.as_os_str().len();
            Some((
                n,
                rel.as_os_str().is_empty(),
                src,
                Path::new(&m.destination).join(rel),
            ))
        })
        .max_by_key(|(n, ..)| *n)
        .map(|(_, exact, source, inside)| match exact {
            true => Mounted::Exactly(inside),
            false => Mounted::Within { source },
        })
}

/// The host path behind a path inside the container, when a bind mount covers it.
fn host_path(c: &Container, inside: &Path) -> Option<PathBuf> {
    through_binds(c, inside, |m| (&m.destination, &m.source))
}

/// Maps `path` from one side of the container's bind mounts to the other (`sides` gives the
/// (from, to) of a mount); the longest covering mount wins, as in the kernel.
fn through_binds(
    c: &Container,
    path: &Path,
    sides: impl Fn(&docker::Mount) -> (&String, &String),
) -> Option<PathBuf> {
    c.mounts
        .iter()
        .filter(|m| m.kind == "bind")
        .filter_map(|m| {
            let (from, to) = sides(m);
            let rel = path.strip_prefix(from).ok()?;
            Some((from.len(), Path::new(to).join(rel)))
        })
        .max_by_key(|(n, _)| *n)
        .map(|(_, p)| p)
}

/// The container's candidate state dirs: the override; else `$OPENCLAW_STATE_DIR` and every
/// mount ending in `.openclaw`; else `$HOME/.openclaw` and the usual places.
fn state_dirs(
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
