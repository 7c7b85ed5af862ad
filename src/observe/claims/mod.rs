//! OpenClaw 2026.8+ keeps sessions in SQLite, not in lock files: a turn in flight is a *turn
//! claim* on the session's placement (`state/openclaw.sqlite`, `worker_session_placements`)
//! plus a `running` session node whose `activeWriterRunId` is the claim's run id
//! (`agents/<agent>/agent/openclaw-agent.sqlite`, `session_nodes`).
//!
//! This module reads those databases into a [`PlaceReading`] (what they mean is
//! `judge::claims`'s) without SQLite ever running in this process or touching a tenant's file:
//!
//! - `layout` finds the databases: every directory opened with `O_NOFOLLOW` from the place's
//!   state dir, each database checked to be a regular file without being opened;
//! - `copy` copies a database with its `-wal` and `-journal` the way every tenant file is read
//!   (relative to its directory, regular files only, `O_NONBLOCK`, bounded), consistently;
//! - the confined `reader` (this binary re-executed as `__read-sqlite`, in private namespaces,
//!   chrooted into an empty tmpfs, unprivileged: `sys::confine`) runs SQLite on the copy and
//!   answers one bounded JSON line (`wire`);
//! - each place has a deadline (`--place-timeout`): past it, its reader is killed and the place
//!   is an error with its reason; the other places go on, on as many threads as there are cores.

mod copy;
mod db;
mod error;
mod layout;
pub mod reader;
mod wire;

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub(crate) use error::Error;
use wire::{Ask, MAX_REPLY, Reply, Request, Rows};

use crate::model::claims::{Databases, PlaceError, PlaceReading, Turns, text};
use crate::model::place::{PidView, Place};
use crate::model::process::Owner;
use crate::sys::confine::Worker;
use crate::sys::proc::HostProc;

/// How places are read.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// Each place's deadline, from its first copy to its last answer.
    pub timeout: Duration,
    /// Places read at once (each with its own confined reader).
    pub threads: usize,
    /// The binary to run as the confined reader.
    pub exe: PathBuf,
}

impl ReadOptions {
    pub fn new(timeout: Duration) -> ReadOptions {
        ReadOptions {
            timeout,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get().min(4)),
            exe: PathBuf::from("/proc/self/exe"),
        }
    }
}

/// What a place's databases said.
struct DbRead {
    version: Option<String>,
    placements: bool,
    lease: Option<crate::model::claims::LeaseRow>,
    boots: Vec<(Option<i64>, i64)>,
    turns: Option<Turns>,
}

/// What a place's directories said, once they are closed again.
struct Shape {
    sessions_dirs: usize,
    agent_dbs: usize,
    problems: Vec<String>,
}

/// One place looked at: its shape and, when its databases were read, what they said.
type Looked = (Result<Shape, Error>, Option<Result<DbRead, Error>>);

/// Reads every place: its layout and, where it has session databases, their rows. `seen` is
/// what the lock-file walk saw of each place's databases (by place): a place it saw none in is
/// not looked at again.
pub fn observe(
    places: &[Place],
    seen: &[Databases],
    proc: &HostProc,
    opts: &ReadOptions,
) -> Vec<PlaceReading> {
    let mut looked: Vec<Option<Looked>> = places.iter().map(|_| None).collect();
    for (i, l) in look_all(places, seen, opts) {
        looked[i] = Some(l);
    }
    let mut owners = Owners::default();
    places
        .iter()
        .zip(looked)
        .map(|(place, l)| {
            let (shape, read) = l.unwrap_or((Err(Error::StateDbMissing), None));
            reading(place, shape, read, proc, &mut owners)
        })
        .collect()
}

/// A place whose databases are read: agents with session databases or, before the first
/// session, a state database that may have the placements table. 2026.7 already has a state
/// database, but its sessions are lock files: its `sessions/` dirs say so.
fn wants_read(l: &layout::Layout) -> bool {
    !l.agent_dbs.is_empty() || (l.sessions_dirs == 0 && l.state_db.is_some())
}

/// Looks at every place on `opts.threads` threads, each with its own confined reader. A
/// place's directories are open only while it is looked at (never all places' at once).
fn look_all(places: &[Place], seen: &[Databases], opts: &ReadOptions) -> Vec<(usize, Looked)> {
    let next = AtomicUsize::new(0);
    let out = Mutex::new(Vec::with_capacity(places.len()));
    let threads = opts.threads.clamp(1, places.len().max(1));
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                let mut worker = None;
                let take = || {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    places.get(i).map(|p| (i, p))
                };
                while let Some((i, place)) = take() {
                    let seen = seen.get(i).copied().unwrap_or_default();
                    let looked = look(place, seen, &mut worker, opts);
                    if let Ok(mut out) = out.lock() {
                        out.push((i, looked));
                    }
                }
            });
        }
    });
    out.into_inner().unwrap_or_default()
}

/// One place: its layout, then its databases when it has them to read. A place the walk saw
/// no database in has nothing to read: its shape is the walk's.
fn look(place: &Place, seen: Databases, worker: &mut Option<Worker>, opts: &ReadOptions) -> Looked {
    if let Databases::None { sessions_dirs } = seen {
        let shape = Shape {
            sessions_dirs,
            agent_dbs: 0,
            problems: Vec::new(),
        };
        return (Ok(shape), None);
    }
    let l = match layout::layout(place) {
        Ok(l) => l,
        Err(e) => return (Err(e), None),
    };
    let read = wants_read(&l).then(|| read_place(&l, worker, opts));
    let shape = Shape {
        sessions_dirs: l.sessions_dirs,
        agent_dbs: l.agent_dbs.len(),
        problems: l.problems,
    };
    (Ok(shape), read)
}

/// The reading of one place from its layout and what its databases said.
fn reading(
    place: &Place,
    l: Result<Shape, Error>,
    read: Option<Result<DbRead, Error>>,
    proc: &HostProc,
    owners: &mut Owners,
) -> PlaceReading {
    let shown = place
        .shown_as
        .as_ref()
        .unwrap_or(&place.state_dir)
        .to_string_lossy()
        .into_owned();
    let mut r = PlaceReading {
        location: place.location.clone(),
        state_dir: shown,
        pids: place.pids.clone(),
        session_dbs: false,
        sessions_dirs: 0,
        version: None,
        lease: None,
        lease_cmdline: None,
        open_boots: Vec::new(),
        turns: None,
        error: None,
    };
    let mut errors: Vec<Error> = Vec::new();
    match l {
        Err(e) => errors.push(e),
        Ok(l) => {
            r.sessions_dirs = l.sessions_dirs;
            r.session_dbs = l.agent_dbs > 0;
            if !l.problems.is_empty() {
                r.error = Some(PlaceError {
                    reason: crate::model::claims::PlaceErrorReason::Unreadable,
                    message: l.problems.join("; "),
                });
            }
        }
    }
    match read {
        Some(Ok(d)) => {
            r.session_dbs |= d.placements;
            r.version = d.version.map(text);
            r.lease = d.lease.map(|row| {
                let owner = match row.0 {
                    Some(pid) => owners.observe(place, pid, proc),
                    None => Owner::Gone,
                };
                (row, owner)
            });
            r.lease_cmdline = r.lease.as_ref().and_then(|(_, o)| owner_cmdline(o));
            r.open_boots = d.boots;
            r.turns = d.turns;
        }
        Some(Err(e)) => {
            // Unread databases of agents: the place is the SQLite era's, its turns unknown.
            r.session_dbs = true;
            errors.push(e);
        }
        None => {}
    }
    for e in errors {
        let message = match &e {
            Error::Timeout { .. } | Error::OpenStateDir(_) => e.to_string(),
            _ => format!("cannot read its databases: {e}"),
        };
        r.error = Some(match r.error.take() {
            Some(p) => PlaceError {
                reason: e.reason(),
                message: format!("{}; {message}", p.message),
            },
            None => PlaceError {
                reason: e.reason(),
                message,
            },
        });
    }
    if r.version.is_none() {
        r.version = container_version(place);
    }
    r
}

/// An observed lease owner's command line: read through the host's `/proc` (its outermost
/// pid), only if it is still the process observed.
fn owner_cmdline(o: &Owner) -> Option<Vec<u8>> {
    let Owner::Found(f) = o else { return None };
    let host_pid = *f.nspid.first()?;
    crate::observe::version::read_cmdline(host_pid, f.starttime)
}

/// The installed OpenClaw of the container that runs this place's gateway, when known.
fn container_version(place: &Place) -> Option<String> {
    match place.pids {
        PidView::Container { init } => crate::observe::version::container_version(init),
        _ => None,
    }
}

const STATE_DB: &str = "openclaw.sqlite";
const AGENT_DB: &str = "openclaw-agent.sqlite";

/// One place's databases, before its deadline: the state database, then (with session
/// databases) each agent's, then, when a claim was seen, the state database again: a claim
/// gone or replaced meanwhile was a turn ending or starting.
fn read_place(
    l: &layout::Layout,
    worker: &mut Option<Worker>,
    opts: &ReadOptions,
) -> Result<DbRead, Error> {
    let deadline = Instant::now() + opts.timeout;
    let mut ask = Asker {
        worker,
        opts,
        deadline,
    };
    let state = l.state_db.as_ref().ok_or(Error::StateDbMissing)?;
    let first = ask.read(state, "state/", STATE_DB, Ask::State)?;
    if !first.placements {
        if l.agent_dbs.is_empty() {
            return Ok(DbRead {
                version: first.version,
                placements: false,
                lease: None,
                boots: Vec::new(),
                turns: None,
            });
        }
        return Err(Error::NoPlacements);
    }
    let claimed: Vec<&crate::model::claims::ClaimRow> =
        first.claims.iter().filter(|c| c.3.is_some()).collect();
    let mut nodes = Vec::new();
    for (agent, dir) in &l.agent_dbs {
        let keys = claimed
            .iter()
            .filter(|c| &c.1 == agent)
            .map(|c| c.2.clone())
            .collect();
        let shown = format!("agents/{agent}/agent/");
        let rows = ask.read(dir, &shown, AGENT_DB, Ask::Nodes { keys })?;
        nodes.push((agent.clone(), rows.nodes));
    }
    // Read again only when a claim is not backed by its running turn (a possible orphan, or a
    // turn starting or ending meanwhile): a claim seen the same twice is stable.
    let backed = |c: &&crate::model::claims::ClaimRow| {
        nodes.iter().flat_map(|(_, rows)| rows).any(|n| {
            n.0 == c.2
                && n.2.as_deref() == Some("running")
                && c.3
                    .as_ref()
                    .is_some_and(|claim| n.3.as_deref() == Some(claim.run_id.as_str()))
        })
    };
    let after = if claimed.iter().all(backed) {
        first.claims.clone()
    } else {
        ask.read(state, "state/", STATE_DB, Ask::Claims)?.claims
    };
    Ok(DbRead {
        version: first.version,
        placements: true,
        lease: first.lease,
        boots: first.boots,
        turns: Some(Turns {
            before: first.claims,
            nodes,
            after,
        }),
    })
}

/// Copies a database and has the confined reader read it, before the place's deadline.
struct Asker<'a> {
    worker: &'a mut Option<Worker>,
    opts: &'a ReadOptions,
    deadline: Instant,
}

impl Asker<'_> {
    fn read(&mut self, dir: &OwnedFd, shown: &str, name: &str, ask: Ask) -> Result<Rows, Error> {
        let path = format!("{shown}{name}");
        let timeout = |path: String| Error::Timeout {
            path,
            after: self.opts.timeout,
        };
        let c = match copy::copy(dir, shown, name, self.deadline) {
            Ok(c) => c,
            Err(copy::CopyError::Timeout) => return Err(timeout(path)),
            Err(e) => return Err(Error::Copy(e)),
        };
        let request = Request {
            db: c.db.len() as u64,
            wal: c.wal.as_ref().map(|w| w.len() as u64),
            journal: c.journal.as_ref().map(|j| j.len() as u64),
            ask,
        };
        let mut line = serde_json::to_vec(&request)
            .map_err(|e| Error::Reader(crate::sys::confine::Error::Io(std::io::Error::other(e))))?;
        line.push(b'\n');
        let mut parts: Vec<&[u8]> = vec![&line, &c.db];
        parts.extend(c.wal.as_deref());
        parts.extend(c.journal.as_deref());
        let worker = match self.worker {
            Some(w) => w,
            None => self
                .worker
                .insert(Worker::spawn(&self.opts.exe, wire::SUBCOMMAND).map_err(Error::Reader)?),
        };
        let answer = worker.exchange(&parts, MAX_REPLY, self.deadline);
        let answer = match answer {
            Ok(a) => a,
            Err(e) => {
                // Killed (or dead): the next place gets a new reader.
                *self.worker = None;
                return Err(match e {
                    crate::sys::confine::Error::Timeout => timeout(path),
                    e => Error::Reader(e).with_path(path),
                });
            }
        };
        let reply: Reply = serde_json::from_slice(&answer).map_err(|e| {
            *self.worker = None;
            Error::Reader(crate::sys::confine::Error::Io(std::io::Error::other(e))).with_path(&path)
        })?;
        reply.map_err(|r| Error::Refused(r).with_path(path))
    }
}

/// Observes owners in each place's PID namespace, once per run.
#[derive(Default)]
struct Owners {
    namespaces: Option<Result<crate::sys::pidns::Namespaces, crate::sys::pidns::Error>>,
}

impl Owners {
    fn observe(&mut self, place: &Place, pid: u64, proc: &HostProc) -> Owner {
        match &place.pids {
            PidView::Local => proc.observe(pid),
            PidView::Unknown(why) => Owner::Unknown(why.clone()),
            PidView::NoProcesses(_) => Owner::Gone,
            PidView::Container { init } => {
                let ns = self
                    .namespaces
                    .get_or_insert_with(|| crate::sys::pidns::Namespaces::scan(Path::new("/proc")));
                match ns {
                    Ok(ns) => match ns.container(Path::new("/proc"), *init) {
                        Ok(m) => m.observe(pid, proc),
                        Err(e) => Owner::Unknown(e.to_string()),
                    },
                    Err(e) => Owner::Unknown(e.to_string()),
                }
            }
        }
    }
}
