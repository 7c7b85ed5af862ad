//! Which container owns which place, and what must be exec'd: a pure decision on what
//! [`discover`](super::discover) found, in the engines' order.
//!
//! A host place belongs to a container only when one of its bind mounts has exactly that dir
//! as source, both sides with their symlinks resolved. A place reached through a mount of a
//! parent dir, or mounted by several containers, is ambiguous: the report names who can reach
//! it and its pids are not judged.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::model::place::{Location, PidView};
use crate::sys::docker::Container;

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
    /// Its init's host pid (`None` when nothing runs), and for a selected container its state
    /// dirs in order, with how each is read (a stopped one's: only those read from this host).
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
            // `join("")` would add a trailing slash: the mount point itself is the dir.
            let inside = match rel.as_os_str().is_empty() {
                true => PathBuf::from(&b.destination),
                false => Path::new(&b.destination).join(rel),
            };
            Some((b, rel, inside))
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
        // A stopped container's dirs are here only when this host can read them.
        if l.selected && (c.running() || !dirs.is_empty()) {
            for (dir, reach) in dirs {
                match self.state_dir(c, dir, reach, &view, &mut report) {
                    Some(dir) => exec_dirs.push(dir),
                    None => via_host = true,
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
            self.exec
                .push(exec_target(l.engine, c, &exec_dirs, self.reports.len()));
            report.state_dirs.extend(exec_dirs);
        }
        self.reports.push(report);
    }

    /// A selected container's state dir: read from the host (a place, found or rebound), or
    /// handed back to be exec'd.
    fn state_dir(
        &mut self,
        c: &Container,
        dir: String,
        reach: Reach<P>,
        view: &PidView,
        report: &mut ContainerReport,
    ) -> Option<String> {
        match reach {
            Reach::Host {
                path,
                canonical,
                pin,
            } => {
                self.host_dir(c, &dir, path, canonical, pin, view);
                if !report.state_dirs.contains(&dir) {
                    report.state_dirs.push(dir);
                }
            }
            Reach::Inside { path, pin } => {
                self.add(c, &dir, path, None, Some(pin), view);
                report.state_dirs.push(dir);
            }
            Reach::Exec => return Some(dir),
        }
        None
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

/// The exec that lists a container's `dirs`, each on a shared mount noted.
fn exec_target(engine: usize, c: &Container, dirs: &[String], report: usize) -> ExecTarget {
    ExecTarget {
        engine,
        container: c.name.clone(),
        report,
        dirs: dirs.to_vec(),
        shared: dirs
            .iter()
            .filter_map(|d| shared_why(c, d).map(|w| (d.clone(), w)))
            .collect(),
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

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::sys::docker::Mount;

    const U1: &str = "/var/zaki-platform/users/user-1/.openclaw";
    const U2: &str = "/var/zaki-platform/users/user-2/.openclaw";
    const INSIDE: &str = "/home/node/.openclaw";

    fn users_place(dir: &str) -> Spot {
        Spot {
            location: Location::Host,
            shown_as: None,
            pids: PidView::Unknown("bind-mounted into a container".into()),
            canonical: Some(PathBuf::from(dir)),
            ambiguous: None,
        }
    }

    fn host_place(canonical: Option<&str>) -> Spot {
        Spot {
            location: Location::Host,
            shown_as: None,
            pids: PidView::Local,
            canonical: canonical.map(PathBuf::from),
            ambiguous: None,
        }
    }

    fn bind(source: &str, destination: &str) -> Bind {
        Bind {
            source: PathBuf::from(source),
            destination: destination.into(),
        }
    }

    /// A container of engine 0 whose mounts are exactly `binds` (already resolved).
    fn listed(
        name: &str,
        state: &str,
        selected: bool,
        binds: Vec<Bind>,
        inspect: Inspect<&'static str>,
    ) -> Listed<&'static str> {
        let mounts = binds
            .iter()
            .map(|b| Mount {
                kind: "bind".into(),
                source: b.source.to_string_lossy().into_owned(),
                destination: b.destination.clone(),
            })
            .collect();
        Listed {
            engine: 0,
            docker_host: "unix:///var/run/docker.sock".into(),
            container: Container {
                id: format!("{:0<64}", name.len()),
                name: name.into(),
                state: state.into(),
                mounts,
            },
            selected,
            binds,
            inspect,
        }
    }

    fn answered(
        init: Option<u64>,
        dirs: Vec<(&str, Reach<&'static str>)>,
    ) -> Inspect<&'static str> {
        Inspect::Answered {
            init,
            dirs: dirs.into_iter().map(|(d, r)| (d.to_owned(), r)).collect(),
        }
    }

    fn from_host(dir: &str) -> Reach<&'static str> {
        Reach::Host {
            path: PathBuf::from(dir),
            canonical: PathBuf::from(dir),
            pin: None,
        }
    }

    /// The platform's container for a user: its dir mounted at the usual place.
    fn user(name: &str, dir: &str, init: u64) -> Listed<&'static str> {
        listed(
            name,
            "running",
            true,
            vec![bind(dir, INSIDE)],
            answered(Some(init), vec![(INSIDE, from_host(dir))]),
        )
    }

    const LOCAL: Scope = Scope {
        names: &[],
        listed: true,
        local: true,
    };

    #[test]
    fn an_exact_bind_mount_owns_the_place() {
        let b = plan(
            vec![user("zaki-user-1", U1, 42)],
            vec![users_place(U1)],
            &LOCAL,
        );
        let p = &b.given[0];
        assert_eq!(p.location, Location::Container("zaki-user-1".into()));
        // Seen through the mount: the mount point itself, listed once.
        assert_eq!(p.shown_as, Some(PathBuf::from(INSIDE)));
        assert_eq!(p.pids, PidView::Container { init: 42 });
        assert_eq!(p.ambiguous, None);
        assert!(b.found.is_empty() && b.exec.is_empty() && b.missing.is_empty());
        assert_eq!(
            b.reports,
            [ContainerReport {
                name: "zaki-user-1".into(),
                docker_host: "unix:///var/run/docker.sock".into(),
                id: "110000000000".into(),
                state: "running".into(),
                observed: "host",
                state_dirs: vec![INSIDE.into()],
                error: None,
            }]
        );
    }

    #[test]
    fn mount_sources_match_places_by_resolved_path() {
        // The place was given through a symlink; discover resolved it, and the mount's source.
        let mut place = users_place("/data/u1/.openclaw");
        place.canonical = Some(PathBuf::from("/data/u1/.openclaw"));
        let unresolved = host_place(None);
        let c = listed(
            "zaki-user-1",
            "running",
            true,
            vec![bind("/data/u1/.openclaw", INSIDE)],
            answered(Some(7), vec![]),
        );
        let b = plan(vec![c], vec![place, unresolved.clone()], &LOCAL);
        assert_eq!(
            b.given[0].location,
            Location::Container("zaki-user-1".into())
        );
        assert_eq!(b.given[0].pids, PidView::Container { init: 7 });
        // A place whose dir could not be resolved matches no mount.
        assert_eq!(b.given[1], unresolved);
        // The same dir by another (unresolved) name is not a match.
        let c = listed(
            "zaki-user-1",
            "running",
            true,
            vec![bind("/srv/link-to-u1", INSIDE)],
            answered(Some(7), vec![]),
        );
        let b = plan(vec![c], vec![users_place("/data/u1/.openclaw")], &LOCAL);
        assert_eq!(b.given[0].location, Location::Host);
    }

    #[test]
    fn longest_covering_mount_decides() {
        let binds = [
            bind("/var/zaki-platform/users", "/users"),
            bind(U1, INSIDE),
            bind("/var/zaki-platform", "/platform"),
        ];
        assert_eq!(
            mounted_at(&binds, Path::new(U1)),
            Some(Mounted::Exactly(PathBuf::from("/home/node/.openclaw/")))
        );
        assert_eq!(
            mounted_at(&binds, Path::new(U2)),
            Some(Mounted::Within {
                source: PathBuf::from("/var/zaki-platform/users")
            })
        );
        assert_eq!(
            mounted_at(&binds, Path::new("/var/zaki-platform/users")),
            Some(Mounted::Exactly(PathBuf::from("/users/")))
        );
        assert_eq!(mounted_at(&binds, Path::new("/var/other")), None);
        // A prefix of a name is not a parent dir.
        assert_eq!(
            mounted_at(&[bind("/var/zaki", "/z")], Path::new("/var/zaki-platform")),
            None
        );
    }

    #[test]
    fn a_parent_dir_mount_makes_the_place_ambiguous() {
        let sidecar = || {
            listed(
                "sidecar",
                "running",
                false,
                vec![bind("/var/zaki-platform/users", "/users")],
                Inspect::NotAsked,
            )
        };
        // Alone: nobody owns it, and who might is named.
        let b = plan(vec![sidecar()], vec![users_place(U1)], &LOCAL);
        let why = "ambiguous place: reachable from sidecar (running, mounts the parent dir /var/zaki-platform/users)";
        assert_eq!(b.given[0].location, Location::Host);
        assert_eq!(b.given[0].ambiguous.as_deref(), Some(why));
        assert_eq!(b.given[0].pids, PidView::Unknown(why.into()));
        // A container not selected and mounting no place exactly is not reported.
        assert!(b.reports.is_empty());
        // With its own container too: owned, but still a guess.
        let b = plan(
            vec![sidecar(), user("zaki-user-1", U1, 42)],
            vec![users_place(U1)],
            &LOCAL,
        );
        let why = "ambiguous place: mounted by zaki-user-1; also reachable from sidecar (running, mounts the parent dir /var/zaki-platform/users)";
        assert_eq!(
            b.given[0].location,
            Location::Container("zaki-user-1".into())
        );
        assert_eq!(b.given[0].ambiguous.as_deref(), Some(why));
        assert_eq!(b.given[0].pids, PidView::Unknown(why.into()));
        assert_eq!(b.reports.len(), 1);
    }

    #[test]
    fn two_running_mounters_the_last_owns_and_both_are_named() {
        let b = plan(
            vec![user("zaki-user-1", U1, 42), user("zaki-user-1b", U1, 43)],
            vec![users_place(U1)],
            &LOCAL,
        );
        let why = "ambiguous place: mounted by zaki-user-1b; also reachable from container:zaki-user-1 (mounts it too)";
        assert_eq!(
            b.given[0].location,
            Location::Container("zaki-user-1b".into())
        );
        assert_eq!(b.given[0].ambiguous.as_deref(), Some(why));
        assert_eq!(b.given[0].pids, PidView::Unknown(why.into()));
        assert_eq!(
            b.reports.iter().map(|r| r.observed).collect::<Vec<_>>(),
            ["host", "host"]
        );
    }

    #[test]
    fn a_running_mounter_wins_over_a_stopped_one() {
        let stopped = || {
            listed(
                "old",
                "exited",
                false,
                vec![bind(U1, INSIDE)],
                answered(None, vec![]),
            )
        };
        // Running first: the stopped one is only named.
        let b = plan(
            vec![user("zaki-user-1", U1, 42), stopped()],
            vec![users_place(U1)],
            &LOCAL,
        );
        assert_eq!(
            b.given[0].location,
            Location::Container("zaki-user-1".into())
        );
        assert_eq!(
            b.given[0].ambiguous.as_deref(),
            Some(
                "ambiguous place: mounted by zaki-user-1; also reachable from old (exited, mounts it too)"
            )
        );
        // Not selected, took nothing: reported, observed nowhere, no error.
        assert_eq!(b.reports[1].name, "old");
        assert_eq!(b.reports[1].observed, "none");
        assert!(b.reports[1].state_dirs.is_empty() && b.reports[1].error.is_none());
        // Stopped first: the running one takes it over.
        let b = plan(
            vec![stopped(), user("zaki-user-1", U1, 42)],
            vec![users_place(U1)],
            &LOCAL,
        );
        assert_eq!(
            b.given[0].location,
            Location::Container("zaki-user-1".into())
        );
        assert_eq!(
            b.given[0].ambiguous.as_deref(),
            Some(
                "ambiguous place: mounted by zaki-user-1; also reachable from container:old (mounts it too)"
            )
        );
        assert_eq!(b.reports[0].observed, "host");
    }

    #[test]
    fn pids_follow_the_owners_state() {
        let one = |state: &str, init: Option<u64>| {
            let c = listed(
                "c",
                state,
                false,
                vec![bind(U1, INSIDE)],
                answered(init, vec![]),
            );
            let b = plan(vec![c], vec![users_place(U1)], &LOCAL);
            assert_eq!(b.given[0].location, Location::Container("c".into()));
            assert_eq!(b.reports[0].observed, "host");
            b.given[0].pids.clone()
        };
        assert_eq!(
            one("exited", None),
            PidView::NoProcesses("container c is exited: nothing in it runs".into())
        );
        assert_eq!(
            one("created", Some(5)),
            PidView::NoProcesses("container c is created: nothing in it runs".into())
        );
        assert_eq!(one("paused", Some(5)), PidView::Container { init: 5 });
        assert_eq!(
            one("running", None),
            PidView::Unknown("container c shows no process".into())
        );
    }

    #[test]
    fn a_users_place_no_container_mounts_has_lost_its_gateway() {
        let places = || {
            vec![
                users_place(U1),
                users_place(U2),
                host_place(Some("/root/.openclaw")),
            ]
        };
        let b = plan(vec![user("zaki-user-1", U1, 42)], places(), &LOCAL);
        assert_eq!(b.given[1].location, Location::Host);
        assert_eq!(
            b.given[1].pids,
            PidView::NoProcesses("no container mounts it: its gateway is gone".into())
        );
        assert_eq!(b.given[1].ambiguous, None);
        // Not a users' place: untouched.
        assert_eq!(b.given[2], places()[2]);
        // Only trusted from an engine on this machine that mounts some user's dir.
        let remote = Scope {
            local: false,
            ..LOCAL
        };
        let b = plan(vec![user("zaki-user-1", U1, 42)], places(), &remote);
        assert_eq!(b.given[1], places()[1]);
        let b: Bindings<&str> = plan(Vec::new(), places(), &LOCAL);
        assert_eq!(b.given, places());
    }

    #[test]
    fn dirs_not_read_from_here_are_exec_targets() {
        let mut c = listed(
            "zaki-user-3",
            "running",
            true,
            vec![],
            answered(
                Some(9),
                vec![(INSIDE, Reach::Exec), ("/root/.openclaw", Reach::Exec)],
            ),
        );
        c.engine = 1;
        c.container.mounts.push(Mount {
            kind: "volume".into(),
            source: "/var/lib/docker/volumes/v/_data".into(),
            destination: INSIDE.into(),
        });
        let b = plan(
            vec![user("zaki-user-1", U1, 42), c],
            vec![users_place(U1)],
            &LOCAL,
        );
        let shared = HashMap::from([(
            INSIDE.to_owned(),
            "/home/node/.openclaw is on a volume mount (/var/lib/docker/volumes/v/_data) that other containers or the host may use: holders outside this container are not seen".to_owned(),
        )]);
        assert_eq!(
            b.exec,
            [ExecTarget {
                engine: 1,
                container: "zaki-user-3".into(),
                report: 1,
                dirs: vec![INSIDE.into(), "/root/.openclaw".into()],
                shared,
            }]
        );
        assert_eq!(b.reports[1].observed, "exec");
        assert_eq!(b.reports[1].state_dirs, [INSIDE, "/root/.openclaw"]);
        assert!(b.found.is_empty());
    }

    #[test]
    fn dirs_read_from_here_become_places() {
        let c = listed(
            "zaki-user-4",
            "running",
            true,
            vec![bind("/srv/u4", "/data")],
            answered(
                Some(11),
                vec![
                    (
                        "/data/.openclaw",
                        Reach::Host {
                            path: PathBuf::from("/proc/self/fd/7"),
                            canonical: PathBuf::from("/srv/u4/.openclaw"),
                            pin: Some("fd7"),
                        },
                    ),
                    (
                        "/root/.openclaw",
                        Reach::Inside {
                            path: PathBuf::from("/proc/self/fd/8"),
                            pin: "fd8",
                        },
                    ),
                    ("/home/node/.openclaw", Reach::Exec),
                ],
            ),
        );
        let b = plan(vec![c], Vec::new(), &LOCAL);
        let view = PidView::Container { init: 11 };
        let owner = Location::Container("zaki-user-4".into());
        assert_eq!(b.found.len(), 2);
        assert_eq!(b.found[0].state_dir, PathBuf::from("/proc/self/fd/7"));
        assert_eq!(b.found[0].pin, Some("fd7"));
        assert_eq!(
            b.found[0].spot,
            Spot {
                location: owner.clone(),
                shown_as: Some(PathBuf::from("/data/.openclaw")),
                pids: view.clone(),
                canonical: Some(PathBuf::from("/srv/u4/.openclaw")),
                ambiguous: None,
            }
        );
        assert_eq!(b.found[1].state_dir, PathBuf::from("/proc/self/fd/8"));
        assert_eq!(b.found[1].pin, Some("fd8"));
        assert_eq!(b.found[1].spot.canonical, None);
        assert_eq!(b.found[1].spot.location, owner);
        assert_eq!(b.reports[0].observed, "both");
        assert_eq!(
            b.reports[0].state_dirs,
            ["/data/.openclaw", "/root/.openclaw", "/home/node/.openclaw"]
        );
        assert_eq!(b.exec[0].dirs, ["/home/node/.openclaw"]);
        assert!(b.exec[0].shared.is_empty());
    }

    #[test]
    fn a_found_dir_another_container_reaches_is_ambiguous() {
        // Two containers mount the same host dir as their state dir: the first finds it, the
        // second mounts a place by then.
        let b = plan(
            vec![
                user("zaki-user-1", "/srv/shared", 1),
                user("zaki-user-2", "/srv/shared", 2),
            ],
            Vec::new(),
            &LOCAL,
        );
        assert_eq!(b.found.len(), 1);
        assert_eq!(
            b.found[0].spot.location,
            Location::Container("zaki-user-2".into())
        );
        assert_eq!(
            b.found[0].spot.ambiguous.as_deref(),
            Some(
                "ambiguous place: mounted by zaki-user-2; also reachable from container:zaki-user-1 (mounts it too)"
            )
        );
        // One mounting its parent and reaching it from there uses it too.
        let other = listed(
            "zaki-user-2",
            "running",
            true,
            vec![bind("/srv", "/all")],
            answered(Some(2), vec![("/all/shared", from_host("/srv/shared"))]),
        );
        let b = plan(
            vec![user("zaki-user-1", "/srv/shared", 1), other],
            Vec::new(),
            &LOCAL,
        );
        assert_eq!(
            b.found[0].spot.ambiguous.as_deref(),
            Some(
                "ambiguous place: mounted by zaki-user-1; also reachable from zaki-user-2 (running, mounts the parent dir /srv), zaki-user-2 (uses it too)"
            )
        );
        assert_eq!(b.reports[1].state_dirs, ["/all/shared"]);
        assert_eq!(b.reports[1].observed, "host");
    }

    #[test]
    fn a_dir_read_from_here_rebinds_a_place_nobody_owns() {
        // Reached without an exact mount match (e.g. its mount was not resolved): rebound.
        let c = listed(
            "zaki-user-1",
            "running",
            true,
            vec![],
            answered(Some(3), vec![(INSIDE, from_host(U1))]),
        );
        let b = plan(vec![c], vec![users_place(U1)], &LOCAL);
        assert_eq!(
            b.given[0].location,
            Location::Container("zaki-user-1".into())
        );
        assert_eq!(b.given[0].shown_as, Some(PathBuf::from(INSIDE)));
        assert_eq!(b.given[0].pids, PidView::Container { init: 3 });
        assert!(b.found.is_empty());
        assert_eq!(b.reports[0].state_dirs, [INSIDE]);
    }

    /// `scan --container` on a stopped container whose state dir is a bind mount: read from
    /// the host, its owners gone with the container (issue 22: `0 locks in 0 places`).
    #[test]
    fn a_stopped_containers_mounted_dir_is_read_from_the_host() {
        let stopped = listed(
            "zaki-user-6",
            "exited",
            true,
            vec![bind("/srv/u6/.openclaw", INSIDE)],
            answered(None, vec![(INSIDE, from_host("/srv/u6/.openclaw"))]),
        );
        let b = plan(vec![stopped], Vec::new(), &LOCAL);
        assert_eq!(b.found.len(), 1);
        assert_eq!(
            b.found[0].spot.location,
            Location::Container("zaki-user-6".into())
        );
        assert_eq!(
            b.found[0].spot.pids,
            PidView::NoProcesses("container zaki-user-6 is exited: nothing in it runs".into())
        );
        assert_eq!(b.reports[0].observed, "host");
        assert_eq!(b.reports[0].error, None);
        assert!(b.exec.is_empty());
    }

    #[test]
    fn selected_containers_that_cannot_be_looked_at_say_why() {
        let names = ["zaki-user-5".to_owned(), "zaki-user-9".to_owned()];
        let named = Scope {
            names: &names,
            ..LOCAL
        };
        let stopped = listed(
            "zaki-user-5",
            "exited",
            true,
            vec![],
            answered(None, vec![]),
        );
        let b = plan(vec![stopped], Vec::new(), &named);
        assert_eq!(
            b.reports[0].error.as_deref(),
            Some("not running (exited): nothing to look at inside")
        );
        assert_eq!(b.reports[0].observed, "none");
        assert_eq!(b.missing, ["zaki-user-9"]);
        // No engine listed anything: nothing can be said missing.
        let unlisted = Scope {
            listed: false,
            ..named
        };
        let b: Bindings<&str> = plan(Vec::new(), Vec::new(), &unlisted);
        assert!(b.missing.is_empty());
        // Inspect failed: reported, and the place it mounts stays unowned.
        let failed = listed(
            "zaki-user-5",
            "running",
            true,
            vec![bind(U1, INSIDE)],
            Inspect::Failed("Docker API error: gone".into()),
        );
        let b = plan(vec![failed], vec![users_place(U1)], &named);
        assert_eq!(
            b.reports[0].error.as_deref(),
            Some("Docker API error: gone")
        );
        assert_eq!(b.reports[0].observed, "none");
        assert_eq!(b.given[0], users_place(U1));
        assert_eq!(b.missing, ["zaki-user-9"]);
    }

    #[test]
    fn containers_neither_selected_nor_mounting_are_left_out() {
        let idle = listed(
            "web",
            "running",
            false,
            vec![bind("/srv/www", "/www")],
            Inspect::NotAsked,
        );
        let mounting = listed(
            "backup",
            "running",
            false,
            vec![bind(U1, "/backup")],
            answered(Some(4), vec![]),
        );
        let b = plan(vec![idle, mounting], vec![users_place(U1)], &LOCAL);
        assert_eq!(
            b.reports
                .iter()
                .map(|r| r.name.as_str())
                .collect::<Vec<_>>(),
            ["backup"]
        );
        // Not selected but mounting it exactly: it owns the place, without exec.
        assert_eq!(b.given[0].location, Location::Container("backup".into()));
        assert_eq!(b.given[0].shown_as, Some(PathBuf::from("/backup")));
        assert_eq!(b.reports[0].observed, "host");
        assert!(b.exec.is_empty());
    }
}
