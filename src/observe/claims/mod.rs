//! OpenClaw 2026.8+ keeps sessions in SQLite, not in lock files: a turn in flight is a *turn
//! claim* on the session's placement (`state/openclaw.sqlite`, `worker_session_placements`)
//! plus a `running` session node whose `activeWriterRunId` is the claim's run id
//! (`agents/<agent>/agent/openclaw-agent.sqlite`, `session_nodes`).
//!
//! This module reads those databases **read-only** into a [`PlaceReading`] (what they mean is
//! `judge::claims`'s), and never writes a byte:
//!
//! - every directory on the way is opened with `O_NOFOLLOW` from the place's state dir, and the
//!   database and its `-wal`/`-shm` must be regular files (checked with `O_PATH|O_NOFOLLOW`);
//! - SQLite resolves symlinks in a path itself, so it is handed the directory's real path (the
//!   one the checked fd points at, re-checked by device and inode) with `SQLITE_OPEN_NOFOLLOW`,
//!   which refuses any symlink in any component, and `O_NOFOLLOW` for the side files;
//! - `mode=ro` plus `readonly_shm=1`: the live `-wal` is read through the gateway's `-shm`
//!   mapped read-only, so a reader never writes read marks nor creates a `-shm`; `immutable=1`
//!   would skip the WAL, where a live gateway's latest claims are;
//! - `PRAGMA query_only`, `trusted_schema=OFF` and a 200 ms busy timeout.
//!
//! `layout` finds the databases, `db` opens them and reads their rows.

mod db;
mod error;
mod layout;

use std::path::Path;

pub(crate) use error::Error;

use crate::model::claims::{PlaceReading, Turns, text};
use crate::model::place::{PidView, Place};
use crate::model::process::Owner;
use crate::sys::proc::HostProc;

/// Reads every place: its layout and, where it has session databases, their rows.
pub fn observe(places: &[Place], proc: &HostProc) -> Vec<PlaceReading> {
    let mut owners = Owners::default();
    places
        .iter()
        .map(|p| read_place(p, proc, &mut owners))
        .collect()
}

/// Reads one place's layout and, with session databases, their rows. Never writes.
fn read_place(place: &Place, proc: &HostProc, owners: &mut Owners) -> PlaceReading {
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
        open_boots: Vec::new(),
        turns: None,
        error: None,
    };
    let l = match layout::layout(place) {
        Ok(l) => l,
        Err(e) => {
            r.error = Some(e.to_string());
            return r;
        }
    };
    // 2026.7 already has a state database, but its sessions are lock files: sessions
    // databases (or, before the first session, the placements table) are what there is to read.
    r.session_dbs = !l.agent_dbs.is_empty() || (l.sessions_dirs == 0 && has_placements(&l));
    r.sessions_dirs = l.sessions_dirs;
    if !l.problems.is_empty() {
        r.error = Some(l.problems.join("; "));
    }
    if r.session_dbs
        && let Err(e) = read_sqlite(place, &l, proc, owners, &mut r)
    {
        let e = format!("cannot read its databases: {e}");
        r.error = Some(match r.error.take() {
            Some(p) => format!("{p}; {e}"),
            None => e,
        });
    }
    if r.version.is_none() {
        r.version = container_version(place);
    }
    r
}

/// Whether the state database has the SQLite era's placements table.
fn has_placements(l: &layout::Layout) -> bool {
    l.state_db.as_ref().is_some_and(|d| {
        db::connect(d, "openclaw.sqlite").is_ok_and(|c| {
            c.query_row(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'worker_session_placements'",
                [],
                |_| Ok(()),
            )
            .is_ok()
        })
    })
}

/// The installed OpenClaw of the container that runs this place's gateway, when known.
fn container_version(place: &Place) -> Option<String> {
    match place.pids {
        PidView::Container { init } => crate::observe::version::container_version(init),
        _ => None,
    }
}

/// The SQLite era's rows of a place: its version, its gateway-owner lease (the pid observed in
/// the place's PID namespace), its open boots, then its turn state read in one pass.
fn read_sqlite(
    place: &Place,
    l: &layout::Layout,
    proc: &HostProc,
    owners: &mut Owners,
    r: &mut PlaceReading,
) -> Result<(), Error> {
    let state_dir = l.state_db.as_ref().ok_or(Error::StateDbMissing)?;
    let state = db::connect(state_dir, "openclaw.sqlite")?;
    let at_state = |e: rusqlite::Error| Error::Sqlite(e).with_path("state/openclaw.sqlite");
    r.version = db::read_version(&state).map(text);
    r.lease = db::read_lease(&state).map_err(at_state)?.map(|row| {
        let owner = match row.0 {
            Some(pid) => owners.observe(place, pid, proc),
            None => Owner::Gone,
        };
        (row, owner)
    });
    r.open_boots = db::read_open_boots(&state).map_err(at_state)?;
    r.turns = Some(read_turns(&state, &l.agent_dbs)?);
    Ok(())
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

/// Reads the claims, then the session nodes agent by agent (the running ones, and each one a
/// claim names), then the claims again: one gone or replaced meanwhile was a turn ending or
/// starting.
fn read_turns(
    state: &rusqlite::Connection,
    agent_dbs: &[(String, std::os::fd::OwnedFd)],
) -> Result<Turns, Error> {
    let at_state = |e: rusqlite::Error| Error::Sqlite(e).with_path("state/openclaw.sqlite");
    let before = db::read_claims(state).map_err(at_state)?;
    let mut nodes = Vec::new();
    for (agent, dir) in agent_dbs {
        let at = |e: Error| e.with_path(format!("agents/{agent}/agent/openclaw-agent.sqlite"));
        let c = db::connect(dir, "openclaw-agent.sqlite").map_err(at)?;
        let mut rows = db::read_nodes(&c).map_err(|e| at(Error::Sqlite(e)))?;
        // A claimed session that does not run: its node, to tell why (unreadable: none).
        for (_, claim_agent, key, claim, _) in &before {
            if claim.is_some()
                && claim_agent == agent
                && !rows.iter().any(|r| &r.0 == key)
                && let Ok(Some(row)) = db::read_node(&c, key)
            {
                rows.push(row);
            }
        }
        nodes.push((agent.clone(), rows));
    }
    let after = db::read_claims(state).map_err(at_state)?;
    Ok(Turns {
        before,
        nodes,
        after,
    })
}
