//! `--inject-lock`: a lock on the probe's own session, written and held exactly as OpenClaw
//! does, owned by a process of the probe's own in the container ([`docker::Holder`]: alive in
//! the gateway's PID namespace, not the gateway, its starttime recorded, an OpenClaw command
//! line, so that every lock-file release waits on it), and released once: by its timer or when
//! the probe ends, whichever comes first. The owner ends with the lock.
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

use crate::act::remove::{self, Outcome as Removal};
use crate::model::escape;
use crate::model::lockfile::Snapshot;
use crate::model::observed::Site;
use crate::model::place::{Location, PidView, Place};
use crate::model::sessions::SessionIndex;
use crate::sys::docker::{self, Engine};
use crate::sys::safefs::{self, OpenError};

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
    /// No process could be started in the container to own the lock.
    Owner {
        container: String,
        error: docker::DockerError,
    },
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
                write!(
                    f,
                    "cannot open {}: {error}: no lock injected",
                    escape::path(dir)
                )
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
            Owner { container, error } => write!(
                f,
                "cannot start a process in {container} to own the lock: {error}: no lock injected"
            ),
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
    pub fn open(
        places: &[Place],
        container: &str,
        agent: &str,
    ) -> Result<SessionsDir, InjectError> {
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
            crate::model::sessions::MAX_STORE_BYTES,
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
    /// not record one), naming `owner` as OpenClaw names its gateway, and holds it open.
    pub fn lock(
        &self,
        key: &str,
        sid: Option<&str>,
        owner: Owner,
    ) -> Result<Injected, InjectError> {
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
        let payload = owner.payload(Utc::now());
        // Held open until released, as OpenClaw holds its own: to the holder rule (and to a
        // `clean` that runs meanwhile) the injected lock is a live one.
        let handle = self.create(&name, &path)?;
        let mut file = std::fs::File::from(handle);
        file.write_all(payload.as_bytes())
            .map_err(InjectError::Write)?;
        let snapshot = crate::observe::locks::snapshot_at(&self.fd, OsStr::new(&name))
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
            owner: None,
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

/// The process an injected lock names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    /// In the container's PID namespace.
    pub pid: u64,
    /// Field 22 of its stat, recorded as OpenClaw 2026.3+ records its own (older releases
    /// ignore it).
    pub starttime: u64,
}

impl Owner {
    /// The payload OpenClaw 2026.3 – 2026.7 writes (pretty JSON, two spaces), `createdAt` now.
    fn payload(self, now: chrono::DateTime<Utc>) -> String {
        format!(
            "{{\n  \"pid\": {},\n  \"createdAt\": \"{}\",\n  \"starttime\": {}\n}}\n",
            self.pid,
            crate::report::record::rfc3339(now),
            self.starttime
        )
    }
}

/// The lock `--inject-lock` placed, held open until [`Injected::release`].
pub struct Injected {
    pub path: PathBuf,
    site: Site,
    snapshot: Snapshot,
    /// The handle that holds it; `None` once released.
    hold: Option<std::fs::File>,
    /// The process in the container that it names, ended with it.
    owner: Option<(Engine, docker::Holder)>,
}

impl Injected {
    /// The lock's owner, ended by [`Injected::end_owner`].
    pub fn owned_by(mut self, engine: Engine, holder: docker::Holder) -> Injected {
        self.owner = Some((engine, holder));
        self
    }

    /// Ends the owner (after the lock is released: to OpenClaw a dead owner is a stale lock).
    pub async fn end_owner(&mut self) {
        if let Some((engine, holder)) = self.owner.take() {
            holder.release(&engine).await;
        }
    }

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
            injected.end_owner().await;
            work.await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    const KEY: &str = "agent:main:openai-user:zaki-locks-probe";
    const OWNER: Owner = Owner {
        pid: 7,
        starttime: 4242,
    };

    fn place(state_dir: &Path, container: &str) -> Place {
        Place {
            location: Location::Container(container.into()),
            state_dir: state_dir.to_owned(),
            shown_as: None,
            pids: PidView::Container { init: 1 },
            pin: None,
        }
    }

    /// A state dir whose store gives the probe's session the id `sid`.
    fn state(sid: &str) -> (tempfile::TempDir, PathBuf) {
        let tmp = tempfile::tempdir().unwrap();
        let state = tmp.path().join(".openclaw");
        let sessions = state.join("agents/main/sessions");
        std::fs::create_dir_all(&sessions).unwrap();
        let store = serde_json::json!({ KEY: {"sessionId": sid} }).to_string();
        std::fs::write(sessions.join("sessions.json"), store).unwrap();
        (tmp, state)
    }

    #[test]
    fn the_lock_is_placed_held_and_released_once() {
        let (_tmp, state) = state("abc");
        let dir = SessionsDir::open(&[place(&state, "c")], "c", "main").unwrap();
        let sid = dir.session_id(KEY).unwrap();
        assert_eq!(sid.as_deref(), Some("abc"));
        let mut inj = dir.lock(KEY, sid.as_deref(), OWNER).unwrap();
        let lock = state.join("agents/main/sessions/abc.jsonl.lock");
        assert_eq!(inj.path, lock);
        let payload: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&lock).unwrap()).unwrap();
        assert_eq!(payload["pid"], 7);
        assert_eq!(payload["starttime"], 4242);
        assert!(
            crate::model::payload::parse_created_at(payload["createdAt"].as_str().unwrap())
                .is_some()
        );
        // A second probe cannot place it again: created exclusively.
        let e = dir.lock(KEY, Some("abc"), OWNER).err().unwrap();
        assert!(e.to_string().starts_with("cannot create "), "{e}");
        assert_eq!(inj.release(), Some("released"));
        assert!(!lock.exists());
        assert_eq!(inj.release(), None);
    }

    #[test]
    fn the_payload_is_the_one_openclaw_writes() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-12-02T10:00:00.5Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            OWNER.payload(now),
            "{\n  \"pid\": 7,\n  \"createdAt\": \"2026-12-02T10:00:00.500Z\",\n  \"starttime\": 4242\n}\n"
        );
    }

    #[test]
    fn a_lock_replaced_meanwhile_is_left_alone() {
        let (_tmp, state) = state("abc");
        let dir = SessionsDir::open(&[place(&state, "c")], "c", "main").unwrap();
        let mut inj = dir.lock(KEY, Some("abc"), OWNER).unwrap();
        std::fs::remove_file(&inj.path).unwrap();
        std::fs::write(&inj.path, "{\"pid\": 99}").unwrap();
        assert_eq!(
            inj.release(),
            Some("changed since it was placed: left alone")
        );
        assert!(inj.path.exists());
    }

    #[test]
    fn what_cannot_be_locked_says_why() {
        let (_tmp, state) = state("../../evil");
        let places = [place(&state, "c")];
        let e = SessionsDir::open(&places, "other", "main").err().unwrap();
        assert_eq!(
            e.to_string(),
            "--inject-lock needs other's state dir bind-mounted from this host and the container running"
        );
        let mut local = place(&state, "c");
        local.pids = PidView::Local;
        assert!(matches!(
            SessionsDir::open(&[local], "c", "main"),
            Err(InjectError::NotMounted { .. })
        ));
        let e = SessionsDir::open(&places, "c", "../main").err().unwrap();
        assert!(e.to_string().starts_with("--agent "), "{e}");
        let e = SessionsDir::open(&places, "c", "nobody").err().unwrap();
        assert!(e.to_string().ends_with(": no lock injected"), "{e}");
        let dir = SessionsDir::open(&places, "c", "main").unwrap();
        // The tenant's store names a path, not a file: refused, nothing created.
        let sid = dir.session_id(KEY).unwrap();
        let e = dir.lock(KEY, sid.as_deref(), OWNER).err().unwrap();
        assert!(
            e.to_string()
                .starts_with(&format!("the session id of {KEY} in ")),
            "{e}"
        );
        assert!(!state.join("evil.jsonl.lock").exists());
        let e = dir.lock(KEY, None, OWNER).err().unwrap();
        assert!(
            e.to_string()
                .starts_with("the gateway did not record the probe's session in "),
            "{e}"
        );
        // No store yet: no id, not an error.
        std::fs::remove_file(state.join("agents/main/sessions/sessions.json")).unwrap();
        assert_eq!(dir.session_id(KEY).unwrap(), None);
    }

    #[test]
    fn a_symlinked_sessions_dir_is_not_followed() {
        let (tmp, state) = state("abc");
        let elsewhere = tmp.path().join("elsewhere");
        std::fs::create_dir(&elsewhere).unwrap();
        let sessions = state.join("agents/main/sessions");
        std::fs::remove_dir_all(&sessions).unwrap();
        std::os::unix::fs::symlink(&elsewhere, &sessions).unwrap();
        let e = SessionsDir::open(&[place(&state, "c")], "c", "main")
            .err()
            .unwrap();
        assert!(matches!(e, InjectError::OpenDir { .. }), "{e}");
    }

    #[test]
    fn the_timer_releases_the_lock_while_the_attempts_still_run() {
        let (_tmp, state) = state("abc");
        let dir = SessionsDir::open(&[place(&state, "c")], "c", "main").unwrap();
        let mut inj = dir.lock(KEY, Some("abc"), OWNER).unwrap();
        let path = inj.path.clone();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let seen_during = rt.block_on(released_after(
            async {
                tokio::time::sleep(Duration::from_millis(300)).await;
                path.exists()
            },
            Some(&mut inj),
            Duration::from_millis(50),
        ));
        assert!(!seen_during, "the lock outlived its hold");
        assert_eq!(inj.release(), None, "released twice");
        // Work that ends first leaves the release to the caller.
        let mut inj = dir.lock(KEY, Some("abc"), OWNER).unwrap();
        rt.block_on(released_after(
            async {},
            Some(&mut inj),
            Duration::from_secs(60),
        ));
        assert!(inj.path.exists());
        assert_eq!(inj.release(), Some("released"));
    }
}
