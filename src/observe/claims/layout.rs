//! Where a place's databases are, found before any of them is opened: every directory opened
//! with `O_NOFOLLOW` from the state dir, every database and side file checked to be a regular
//! file without being opened for reading.

use std::os::fd::OwnedFd;

use nix::errno::Errno;
use nix::fcntl::{OFlag, open, openat};
use nix::sys::stat::{Mode, fstat};

use super::Error;
use crate::model::claims::text;
use crate::model::place::Place;

use crate::model::claims::MAX_AGENTS_READ as MAX_AGENTS;

/// What the directories say, before any database is opened.
pub(super) struct Layout {
    /// The `state/` dir fd when `state/openclaw.sqlite` is a regular file.
    pub state_db: Option<OwnedFd>,
    /// Each agent's `agent/` dir fd holding `openclaw-agent.sqlite`.
    pub agent_dbs: Vec<(String, OwnedFd)>,
    /// `agents/*/sessions/` dirs: the lock-file era's.
    pub sessions_dirs: usize,
    /// What was passed over, and why (symlinks, odd files, too many agents).
    pub problems: Vec<String>,
}

const DIR: OFlag = OFlag::O_RDONLY
    .union(OFlag::O_DIRECTORY)
    .union(OFlag::O_NOFOLLOW)
    .union(OFlag::O_CLOEXEC);

fn open_dir(at: &OwnedFd, name: &str) -> Option<OwnedFd> {
    openat(at, name, DIR, Mode::empty()).ok()
}

/// A directory below a checked one; a symlink (or a non-directory) there is a problem to report.
fn open_sub(at: &OwnedFd, name: &str, problems: &mut Vec<String>) -> Option<OwnedFd> {
    match openat(at, name, DIR, Mode::empty()) {
        Ok(fd) => Some(fd),
        Err(Errno::ELOOP | Errno::ENOTDIR) => {
            problems.push(format!(
                "{name}: a symlink or not a directory, not followed"
            ));
            None
        }
        Err(_) => None,
    }
}

/// `Ok(true)` for a regular file, `Ok(false)` when absent, `Err` for anything else (a
/// symlink, a FIFO, …), without following or opening it for reading.
fn regular(dir: &OwnedFd, name: &str) -> Result<bool, Error> {
    let at = |e: Error| e.with_path(name);
    match openat(
        dir,
        name,
        OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    ) {
        Err(Errno::ENOENT) => Ok(false),
        Err(e) => Err(at(Error::Sys(e))),
        Ok(fd) => match fstat(&fd) {
            Ok(st) if st.st_mode & nix::libc::S_IFMT == nix::libc::S_IFREG => Ok(true),
            Ok(_) => Err(at(Error::NotRegular)),
            Err(e) => Err(at(Error::Sys(e))),
        },
    }
}

/// Whether a database is there (its side files are checked when it is copied; a `-shm` is never
/// opened at all).
fn database(dir: &OwnedFd, name: &str) -> Result<bool, Error> {
    regular(dir, name)
}

/// Finds a place's databases: `state/openclaw.sqlite` and each agent's
/// `agent/openclaw-agent.sqlite`, and counts the lock-file era's `sessions/` dirs.
pub(super) fn layout(place: &Place) -> Result<Layout, Error> {
    let state_dir = match &place.pin {
        Some(pin) => nix::unistd::dup(pin.as_ref())?,
        // The operator's own path may be a symlink (as for the walk); nothing below it.
        None => open(
            &place.state_dir,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(Error::OpenStateDir)?,
    };
    let mut l = Layout {
        state_db: None,
        agent_dbs: Vec::new(),
        sessions_dirs: 0,
        problems: Vec::new(),
    };
    if let Some(state) = open_sub(&state_dir, "state", &mut l.problems) {
        match database(&state, "openclaw.sqlite") {
            Ok(true) => l.state_db = Some(state),
            Ok(false) => {}
            Err(e) => l.problems.push(format!("state/{e}")),
        }
    }
    let Some(agents) = open_sub(&state_dir, "agents", &mut l.problems) else {
        return Ok(l);
    };
    for name in agent_names(&agents, &mut l.problems)? {
        let Some(agent) = open_dir(&agents, &name) else {
            continue;
        };
        if open_dir(&agent, "sessions").is_some() {
            l.sessions_dirs += 1;
        }
        let mut problems = Vec::new();
        let adir = open_sub(&agent, "agent", &mut problems);
        l.problems
            .extend(problems.into_iter().map(|p| format!("agents/{name}/{p}")));
        if let Some(adir) = adir {
            match database(&adir, "openclaw-agent.sqlite") {
                Ok(true) => l.agent_dbs.push((name, adir)),
                Ok(false) => {}
                Err(e) => l.problems.push(format!("agents/{name}/agent/{e}")),
            }
        }
    }
    Ok(l)
}

/// The first [`MAX_AGENTS`] UTF-8 names in `agents/`, sorted (more are reported).
fn agent_names(agents: &OwnedFd, problems: &mut Vec<String>) -> Result<Vec<String>, Error> {
    let dir = nix::dir::Dir::from_fd(nix::unistd::dup(agents)?)?;
    let mut names: Vec<String> = Vec::new();
    for entry in dir.into_iter().flatten() {
        let name = entry.file_name().to_bytes();
        if name == b"." || name == b".." {
            continue;
        }
        if names.len() >= MAX_AGENTS {
            problems.push(format!(
                "more than {MAX_AGENTS} agents: only the first {MAX_AGENTS} were read"
            ));
            break;
        }
        if let Ok(n) = std::str::from_utf8(name) {
            names.push(text(n.to_owned()));
        }
    }
    names.sort();
    Ok(names)
}
