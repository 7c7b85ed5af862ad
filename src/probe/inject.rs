//! `--inject-lock`: a lock on the probe's own session, written and held exactly as OpenClaw
//! does, owned by the container's pid 1 (alive in the container, so OpenClaw waits on it), and
//! released once: by its timer or when the probe ends, whichever comes first.
//!
//! Everything below the state dir is the tenant's: each component is opened relative to its
//! parent, never through a symlink, and the removal goes through [`remove::remove`], which
//! leaves a lock that changed since it was placed.

use std::ffi::OsStr;
use std::fmt;
use std::future::Future;
use std::io::Write;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::time::Duration;

use chrono::Utc;
use nix::errno::Errno;

use crate::escape;
use crate::observe::{Site, Snapshot};
use crate::place::{Location, PidView, Place};
use crate::remove::{self, Outcome as Removal};
use crate::safefs::{self, OpenError};
use crate::sessions::SessionIndex;

/// Why no lock was injected. Each message says where, and what to do when there is a choice.
#[derive(Debug)]
pub enum InjectError {
    /// The container's state dir is not read from this host, or the container is not running.
    NotMounted { container: String },
    /// `--agent` is not one plain path component.
    Agent(String),
    /// The sessions dir could not be opened.
    OpenDir { dir: PathBuf, error: OpenError },
    /// `sessions.json` could not be read.
    ReadStore { dir: PathBuf, error: OpenError },
    /// The message meant to create the probe's session failed (an HTTP status or an error).
    CreateSession(String),
    /// The gateway answered but did not record the session.
    NotRecorded { dir: PathBuf },
    /// The store's session id is not a plain file name.
    BadSessionId {
        key: String,
        dir: PathBuf,
        why: String,
    },
    /// The lock file could not be created.
    Create { path: PathBuf, error: Errno },
    /// The lock's payload could not be written.
    Write(std::io::Error),
    /// The lock placed could not be read back.
    ReadBack { path: PathBuf },
    /// The sessions dir could not be identified.
    Stat(Errno),
}

impl fmt::Display for InjectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use InjectError::*;
        match self {
            NotMounted { container } => write!(
                f,
                "--inject-lock needs {container}'s state dir bind-mounted from this host and the container running"
            ),
            Agent(why) => write!(f, "--agent {why}"),
            OpenDir { dir, error } => {
                write!(f, "cannot open {}: {error}: no lock injected", escape::path(dir))
            }
            ReadStore { dir, error } => write!(
                f,
                "cannot read {}: {error}: no lock injected",
                escape::path(&dir.join("sessions.json"))
            ),
            CreateSession(what) => {
                write!(f, "cannot create the probe's session to lock it: {what}")
            }
            NotRecorded { dir } => write!(
                f,
                "the gateway did not record the probe's session in {}",
                escape::path(dir)
            ),
            BadSessionId { key, dir, why } => write!(
                f,
                "the session id of {key} in {}/sessions.json {why}: no lock injected",
                escape::path(dir)
            ),
            Create { path, error } => write!(f, "cannot create {}: {error}", escape::path(path)),
            Write(e) => write!(f, "{e}"),
            ReadBack { path } => write!(f, "cannot read back {}", escape::path(path)),
            Stat(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for InjectError {}

/// The sessions dir of an agent in the user's container, opened from this host.
pub struct SessionsDir {
    fd: OwnedFd,
    /// The container's state dir, as bind-mounted on this host.
    state_dir: PathBuf,
    /// `<state_dir>/agents/<agent>/sessions`, for messages and the lock's path.
    dir: PathBuf,
}

impl SessionsDir {
    /// The sessions dir of `agent` in `container`'s bind-mounted state dir, among `places`.
    pub fn open(places: &[Place], container: &str, agent: &str) -> Result<SessionsDir, InjectError> {
        let place = places
            .iter()
            .find(|p| {
                p.location == Location::Container(container.to_owned())
                    && matches!(p.pids, PidView::Container { .. })
            })
            .ok_or_else(|| InjectError::NotMounted {
                container: container.to_owned(),
            })?;
        let agent = safefs::plain_name(agent).map_err(|e| InjectError::Agent(e.to_string()))?;
        let dir = place.state_dir.join("agents").join(agent).join("sessions");
        let open = || -> Result<OwnedFd, OpenError> {
            let state = safefs::operator_dir(&place.state_dir)?;
            let agents = safefs::dir_at(&state, OsStr::new("agents"))?;
            let agent = safefs::dir_at(&agents, OsStr::new(agent))?;
            safefs::dir_at(&agent, OsStr::new("sessions"))
        };
        let fd = open().map_err(|error| InjectError::OpenDir {
            dir: dir.clone(),
            error,
        })?;
        Ok(SessionsDir {
            fd,
            state_dir: place.state_dir.clone(),
            dir,
        })
    }

    /// The session id `sessions.json` gives `key`; `None` before OpenClaw created it.
    pub fn session_id(&self, key: &str) -> Result<Option<String>, InjectError> {
        match safefs::read_at(
            &self.fd,
            OsStr::new("sessions.json"),
            crate::sessions::MAX_STORE_BYTES,
        ) {
            Ok((b, _)) => Ok(SessionIndex::parse_key(&b, key).session_id_for(key)),
            Err(OpenError::Gone) => Ok(None),
            Err(error) => Err(InjectError::ReadStore {
                dir: self.dir.clone(),
                error,
            }),
        }
    }

    /// Places the lock of session `key`, whose id the store gave as `sid` (`None`: it did
    /// not record one), naming the container's pid 1, and holds it open.
    pub fn lock(&self, key: &str, sid: Option<&str>) -> Result<Injected, InjectError> {
        let sid = sid.ok_or_else(|| InjectError::NotRecorded {
            dir: self.dir.clone(),
        })?;
        // The id comes from the tenant's store: it names a file in this dir and nothing else.
        let sid = safefs::plain_name(sid).map_err(|e| InjectError::BadSessionId {
            key: key.to_owned(),
            dir: self.dir.clone(),
            why: e.to_string(),
        })?;
        let name = format!("{sid}.jsonl.lock");
        let path = self.dir.join(&name);
        let payload = format!(
            "{{\n  \"pid\": 1,\n  \"createdAt\": \"{}\"\n}}",
            crate::report::rfc3339(Utc::now())
        );
        // Held open until released, as OpenClaw holds its own: to the holder rule (and to a
        // `clean` that runs meanwhile) the injected lock is a live one.
        let handle = self.create(&name, &path)?;
        let mut file = std::fs::File::from(handle);
        file.write_all(payload.as_bytes())
            .map_err(InjectError::Write)?;
        let snapshot = crate::observe::snapshot_at(&self.fd, OsStr::new(&name))
            .map_err(|_| InjectError::ReadBack { path: path.clone() })?;
        let st = nix::sys::stat::fstat(&self.fd).map_err(InjectError::Stat)?;
        let rel = self
            .dir
            .strip_prefix(&self.state_dir)
            .unwrap_or(&self.dir)
            .to_path_buf();
        Ok(Injected {
            path,
            site: Site::Host {
                state_dir: self.state_dir.clone(),
                rel_dir: rel,
                dir_id: (st.st_dev, st.st_ino),
                name: name.into(),
            },
            snapshot,
            hold: Some(file),
        })
    }

    /// Creates `name` exclusively, never through a symlink.
    fn create(&self, name: &str, path: &std::path::Path) -> Result<OwnedFd, InjectError> {
        use nix::fcntl::{OFlag, openat};
        openat(
            &self.fd,
            name,
            OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::from_bits_truncate(0o644),
        )
        .map_err(|error| InjectError::Create {
            path: path.to_owned(),
            error,
        })
    }
}

/// The lock `--inject-lock` placed, held open until [`Injected::release`].
pub struct Injected {
    pub path: PathBuf,
    site: Site,
    snapshot: Snapshot,
    /// The handle that holds it; `None` once released.
    hold: Option<std::fs::File>,
}

impl Injected {
    /// Closes the handle and removes the lock if it is still the one placed; `None` if it was
    /// already released.
    pub fn release(&mut self) -> Option<&'static str> {
        drop(self.hold.take()?);
        Some(match remove::remove(&self.site, &self.snapshot) {
            Removal::Removed => "released",
            Removal::Gone => "already gone",
            Removal::Changed(_) => "changed since it was placed: left alone",
            Removal::Failed(_) => "could not be removed",
        })
    }
}

/// Runs `work`, releasing `injected` (silently) once `hold` has passed if `work` is still
/// running: the lock is meant to block only the first attempts.
pub async fn released_after<F: Future>(
    work: F,
    injected: Option<&mut Injected>,
    hold: Duration,
) -> F::Output {
    let Some(injected) = injected else {
        return work.await;
    };
    tokio::pin!(work);
    tokio::select! {
        out = &mut work => out,
        () = tokio::time::sleep(hold) => {
            let _ = injected.release();
            work.await
        }
    }
}
