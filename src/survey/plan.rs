//! Which container owns which place, and what must be exec'd: a pure decision on what
//! [`discover`](super::discover) found, in the engines' order.
//!
//! A host place belongs to a container only when one of its bind mounts has exactly that dir
//! as source, both sides with their symlinks resolved. A place reached through a mount of a
//! parent dir, or mounted by several containers, is ambiguous: the report names who can reach
//! it and its pids are not judged.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::docker::Container;
use crate::place::{Location, PidView};

use super::{ContainerReport, ExecTarget};

/// A place as the plan sees and decides it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Spot {
    pub location: Location,
    pub shown_as: Option<PathBuf>,
    pub pids: PidView,
    /// Its dir on this host with every symlink resolved; `None` when that failed (then no
    /// mount can be matched with it).
    pub canonical: Option<PathBuf>,
    /// Why which container it belongs to is a guess (decided by the plan).
    pub ambiguous: Option<String>,
}

/// A bind mount with its source resolved on this host.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Bind {
    pub source: PathBuf,
    pub destination: String,
}

/// How one of a container's state dirs is read (a dir found absent is left out).
#[derive(Debug)]
pub(crate) enum Reach<P> {
    /// From this host, at `path` (a bind mount's source side, or `/proc/self/fd/<n>` of `pin`),
    /// which resolves to `canonical`.
    Host {
        path: PathBuf,
        canonical: PathBuf,
        pin: Option<P>,
    },
    /// Through the container's own root (not a bind mount), pinned at `path`.
    Inside { path: PathBuf, pin: P },
    /// By exec.
    Exec,
}

/// What the engine answered when asked about a container.
#[derive(Debug)]
pub(crate) enum Inspect<P> {
    /// Not asked: it is neither selected nor mounts a known state dir exactly (the plan then
    /// only notes its parent-dir mounts).
    NotAsked,
    Failed(String),
    /// Its init's host pid (`None` when nothing runs), and for a selected running container
    /// its state dirs in order, with how each is read.
    Answered {
        init: Option<u64>,
        dirs: Vec<(String, Reach<P>)>,
    },
}

/// One container an engine listed, with what discover learned about it.
#[derive(Debug)]
pub(crate) struct Listed<P> {
    /// Index of its engine.
    pub engine: usize,
    pub docker_host: String,
    pub container: Container,
    /// Asked for by the command line (and running, when asked for by prefix).
    pub selected: bool,
    /// Its bind mounts, sources resolved (a local engine's only: a remote engine's sources are
    /// not on this machine).
    pub binds: Vec<Bind>,
    pub inspect: Inspect<P>,
}

/// What the plan needs besides containers and places.
pub(crate) struct Scope<'a> {
    /// `--container` names.
    pub names: &'a [String],
    /// Some engine listed its containers (else a named container cannot be said missing).
    pub listed: bool,
    /// Some engine that listed them is on this machine (else a users' place that no
    /// container mounts may just belong to an engine not asked).
    pub local: bool,
}

/// A state dir found in a container and read from this host: a new place.
#[derive(Debug)]
pub(crate) struct Found<P> {
    pub state_dir: PathBuf,
    pub pin: Option<P>,
    pub spot: Spot,
}

/// The plan's decision.
#[derive(Debug)]
pub(crate) struct Bindings<P> {
    /// The given places, in their order, as decided.
    pub given: Vec<Spot>,
    /// New places, in the order found.
    pub found: Vec<Found<P>>,
    pub reports: Vec<ContainerReport>,
    pub exec: Vec<ExecTarget>,
    /// `--container` names no engine listed.
    pub missing: Vec<String>,
}

/// How a container reaches a host dir through its bind mounts.
#[derive(Debug, PartialEq)]
pub(crate) enum Mounted {
    /// Its mount's source is exactly this dir; seen inside at this path.
    Exactly(PathBuf),
    /// A mount of a parent dir covers it.
    Within { source: PathBuf },
}

/// How a (canonical) host dir is reached through these bind mounts: the longest covering
/// one wins, as in the kernel.
pub(crate) fn mounted_at(binds: &[Bind], host: &Path) -> Option<Mounted> {
    binds
        .iter()
        .filter_map(|b| {
            let rel = host.strip_prefix(&b.source).ok()?;
            Some((b, rel, Path::new(&b.destination).join(rel)))
        })
        .max_by_key(|(b, ..)| b.source.as_os_str().len())
        .map(|(b, rel, inside)| match rel.as_os_str().is_empty() {
            true => Mounted::Exactly(inside),
            false => Mounted::Within {
                source: b.source.clone(),
            },
        })
}

/// Decides, container after container, which places they own, which state dirs they add,
/// and what must be exec'd; then marks the ambiguous places and the users' places whose
/// container is gone.
pub(crate) fn plan<P>(containers: Vec<Listed<P>>, places: Vec<Spot>, scope: &Scope) -> Bindings<P> {
    let mut planner = Planner {
        slots: places.into_iter().map(Slot::given).collect(),
        reports: Vec::new(),
        exec: Vec::new(),
        seen: HashSet::new(),
    };
    for l in containers {
        planner.container(l);
    }
    planner.finish(scope)
}

/// A place while the plan is made.
struct Slot<P> {
    spot: Spot,
    /// In the zaki users' layout, its container not known yet (given with unknown pids).
    users: bool,
    /// A container owns it now (mounts it, or it was found in one).
    bound: bool,
    /// Other containers that reach it, as the ambiguity note names them.
    others: Vec<String>,
    /// Found in a container: its host path and pin.
    found: Option<(PathBuf, Option<P>)>,
}

impl<P> Slot<P> {
    fn given(spot: Spot) -> Slot<P> {
        Slot {
            users: matches!(spot.pids, PidView::Unknown(_)),
            spot,
            bound: false,
            others: Vec::new(),
            found: None,
        }
    }

    fn claim(&mut self, container: &str, inside: PathBuf, view: &PidView) {
        self.spot.location = Location::Container(container.to_owned());
        self.spot.shown_as = Some(inside);
        self.spot.pids = view.clone();
        self.bound = true;
    }
}

struct Planner<P> {
    slots: Vec<Slot<P>>,
    reports: Vec<ContainerReport>,
    exec: Vec<ExecTarget>,
    /// Containers looked at (for `--container` names not found).
    seen: HashSet<String>,
}

impl<P> Planner<P> {
    fn container(&mut self, l: Listed<P>) {
        let c = &l.container;
        let mounted = self.mounts(&l);
        if !l.selected && mounted.is_empty() {
            return;
        }
        let (init, dirs) = match l.inspect {
            // Discover asks every container that is selected or mounts a known place.
            Inspect::NotAsked => return,
            Inspect::Failed(e) => {
                self.seen.insert(c.name.clone());
                let mut report = report(&l.docker_host, c);
                report.error = Some(e);
                self.reports.push(report);
                return;
            }
            Inspect::Answered { init, dirs } => (init, dirs),
        };
        self.seen.insert(c.name.clone());
        let mut report = report(&l.docker_host, c);
        let view = pid_view(c, init);
        let mut via_host = false;
        for (i, inside) in mounted {
            via_host |= self.bind_mount(i, inside, c, &view, &mut report);
        }
        let mut exec_dirs = Vec::new();
        if l.selected && c.running() {
            for (dir, reach) in dirs {
                match reach {
                    Reach::Host {
                        path,
                        canonical,
                        pin,
                    } => {
                        self.host_dir(c, &dir, path, canonical, pin, &view);
                        via_host = true;
                        if !report.state_dirs.contains(&dir) {
                            report.state_dirs.push(dir);
                        }
                    }
                    Reach::Inside { path, pin } => {
                        self.add(c, &dir, path, None, Some(pin), &view);
                        via_host = true;
                        report.state_dirs.push(dir);
                    }
                    Reach::Exec => exec_dirs.push(dir),
                }
            }
        } else if l.selected && !via_host {
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
            self.exec.push(ExecTarget {
                engine: l.engine,
                container: c.name.clone(),
                report: self.reports.len(),
                dirs: exec_dirs.clone(),
                shared,
            });
            report.state_dirs.extend(exec_dirs);
        }
        self.reports.push(report);
    }

    /// The places this container mounts exactly, with where it sees them; one it reaches
    /// through a parent dir's mount is only noted.
    fn mounts(&mut self, l: &Listed<P>) -> Vec<(usize, PathBuf)> {
        let mut exact = Vec::new();
        for (i, slot) in self.slots.iter_mut().enumerate() {
            let Some(canon) = &slot.spot.canonical else {
                continue;
            };
            match mounted_at(&l.binds, canon) {
                Some(Mounted::Exactly(inside)) => exact.push((i, inside)),
                Some(Mounted::Within { source }) => slot.others.push(format!(
                    "{} ({}, mounts the parent dir {})",
                    l.container.name,
                    l.container.state,
                    source.display()
                )),
                None => {}
            }
        }
        exact
    }

    /// Binds a place the container mounts; whether it took it. A running container wins over
    /// a stopped one mounting the same dir; either way the place is ambiguous.
    fn bind_mount(
        &mut self,
        i: usize,
        inside: PathBuf,
        c: &Container,
        view: &PidView,
        report: &mut ContainerReport,
    ) -> bool {
        let slot = &mut self.slots[i];
        if slot.bound && !has_processes(c) {
            slot.others
                .push(format!("{} ({}, mounts it too)", c.name, c.state));
            return false;
        }
        if slot.bound {
            slot.others
                .push(format!("{} (mounts it too)", slot.spot.location));
        }
        report
            .state_dirs
            .push(inside.to_string_lossy().into_owned());
        slot.claim(&c.name, inside, view);
        true
    }

    /// A state dir read from the host: a place already (rebound unless another container has
    /// it), or a new one.
    fn host_dir(
        &mut self,
        c: &Container,
        dir: &str,
        path: PathBuf,
        canonical: PathBuf,
        pin: Option<P>,
        view: &PidView,
    ) {
        let name = Location::Container(c.name.clone());
        match self
            .slots
            .iter_mut()
            .find(|s| s.spot.canonical.as_ref() == Some(&canonical))
        {
            Some(slot) if !slot.bound => slot.claim(&c.name, PathBuf::from(dir), view),
            Some(slot) => {
                if slot.spot.location != name {
                    slot.others.push(format!("{} (uses it too)", c.name));
                }
            }
            None => self.add(c, dir, path, Some(canonical), pin, view),
        }
    }

    fn add(
        &mut self,
        c: &Container,
        dir: &str,
        path: PathBuf,
        canonical: Option<PathBuf>,
        pin: Option<P>,
        view: &PidView,
    ) {
        self.slots.push(Slot {
            spot: Spot {
                location: Location::Container(c.name.clone()),
                shown_as: Some(PathBuf::from(dir)),
                pids: view.clone(),
                canonical,
                ambiguous: None,
            },
            users: false,
            bound: true,
            others: Vec::new(),
            found: Some((path, pin)),
        });
    }

    fn finish(self, scope: &Scope) -> Bindings<P> {
        let missing = match scope.listed {
            true => scope
                .names
                .iter()
                .filter(|n| !self.seen.contains(*n))
                .cloned()
                .collect(),
            false => Vec::new(),
        };
        // Users' dirs that no container mounts: their container is gone, and with it every
        // owner. Only trusted when this engine does run the users' containers (it mounts
        // another user's dir); an engine that mounts none of them may simply be the wrong one.
        let serves_users = scope.local && self.slots.iter().any(|s| s.users && s.bound);
        let mut given = Vec::new();
        let mut found = Vec::new();
        for mut slot in self.slots {
            if slot.users && !slot.bound && serves_users {
                slot.spot.pids =
                    PidView::NoProcesses("no container mounts it: its gateway is gone".into());
            }
            if !slot.others.is_empty() {
                let owner = match &slot.spot.location {
                    Location::Container(c) => format!("mounted by {c}; also "),
                    _ => String::new(),
                };
                let why = format!(
                    "ambiguous place: {owner}reachable from {}",
                    slot.others.join(", ")
                );
                // Whose pid namespace the payload's pid belongs to is a guess now.
                slot.spot.pids = PidView::Unknown(why.clone());
                slot.spot.ambiguous = Some(why);
            }
            match slot.found {
                None => given.push(slot.spot),
                Some((state_dir, pin)) => found.push(Found {
                    state_dir,
                    pin,
                    spot: slot.spot,
                }),
            }
        }
        Bindings {
            given,
            found,
            reports: self.reports,
            exec: self.exec,
            missing,
        }
    }
}

fn report(docker_host: &str, c: &Container) -> ContainerReport {
    ContainerReport {
        name: c.name.clone(),
        docker_host: docker_host.to_owned(),
        id: c.id.chars().take(12).collect(),
        state: c.state.clone(),
        observed: "none",
        state_dirs: Vec::new(),
        error: None,
    }
}

/// A paused container's processes still exist (and hold their locks).
pub(crate) fn has_processes(c: &Container) -> bool {
    c.running() || c.state == "paused"
}

/// Whose pids the locks in a container's places carry.
fn pid_view(c: &Container, init: Option<u64>) -> PidView {
    match (has_processes(c), init) {
        (true, Some(init)) => PidView::Container { init },
        (true, None) => PidView::Unknown(format!("container {} shows no process", c.name)),
        (false, _) => PidView::NoProcesses(format!(
            "container {} is {}: nothing in it runs",
            c.name, c.state
        )),
    }
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
