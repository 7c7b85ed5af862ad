//! Observing host locks: read each file found by the walk (bounded, without following a
//! symlink), look up its session key and observe the owner its payload names.
//!
//! The result, [`Observed`], is what the policy judges and what removal later checks against:
//! a lock is only ever removed if it is still exactly the [`Snapshot`] taken here.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::io::Read;
use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use chrono::{DateTime, TimeZone, Utc};

use crate::holders::{Holder, Visibility};
use crate::lock::{LockKind, MAX_PAYLOAD_BYTES, Payload, session_id};
use crate::pidns::{Namespaces, NsMap};
use crate::place::{Location, PidView, Place, Problem};
use crate::proc::{HostProc, Owner};
use crate::safefs::{self, OpenError};
use crate::walk::{Found, Unread};

/// Identity and state of a lock file when it was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileId {
    pub dev: u64,
    pub ino: u64,
    pub size: u64,
    /// Modification time (seconds, nanoseconds).
    pub mtime: (i64, i64),
    /// Hard links: more than one means a holder may have opened it by another name.
    pub nlink: u64,
}

impl FileId {
    pub fn of(meta: &std::fs::Metadata) -> FileId {
        FileId {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            nlink: meta.nlink(),
        }
    }

    pub fn of_stat(st: &nix::sys::stat::FileStat) -> FileId {
        FileId {
            dev: st.st_dev,
            ino: st.st_ino,
            size: st.st_size as u64,
            mtime: (st.st_mtime, st.st_mtime_nsec),
            #[allow(clippy::useless_conversion)] // nlink_t is u32 on some targets
            nlink: u64::from(st.st_nlink),
        }
    }

    pub fn mtime_utc(&self) -> DateTime<Utc> {
        Utc.timestamp_opt(self.mtime.0, self.mtime.1.clamp(0, 999_999_999) as u32)
            .single()
            .unwrap_or(DateTime::UNIX_EPOCH)
    }
}

/// A lock file as read: its identity and its first [`MAX_PAYLOAD_BYTES`] (+1, to see overflow).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub id: FileId,
    pub content: Vec<u8>,
}

/// Why a lock file could not be read.
#[derive(Debug)]
pub enum ReadError {
    /// It vanished (released) between listing and reading.
    Gone,
    /// It is not a regular file (a symlink, a FIFO, …): never read, never touched.
    NotRegular(&'static str),
    Io(std::io::Error),
}

/// [`snapshot_at`] for a path whose directory is trusted (the caller's own): the file itself is
/// still never followed nor opened unless regular.
pub fn snapshot(path: &Path) -> Result<Snapshot, ReadError> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path.file_name().ok_or(ReadError::Gone)?;
    let dir = safefs::operator_dir(dir).map_err(|e| match e {
        OpenError::Gone => ReadError::Gone,
        e => ReadError::Io(std::io::Error::other(e.to_string())),
    })?;
    snapshot_at(&dir, name)
}

/// Reads the lock file `name` in the directory `dir` through [`safefs`]: nothing that is not a
/// regular file is opened, no symlink followed, never more than the payload bound (+1).
pub fn snapshot_at(dir: &impl AsFd, name: &OsStr) -> Result<Snapshot, ReadError> {
    let (file, st) = safefs::regular_at(dir, name).map_err(|e| match e {
        OpenError::Gone => ReadError::Gone,
        OpenError::NotRegular(what) => ReadError::NotRegular(what),
        OpenError::TooLarge(_) => ReadError::NotRegular("too large"),
        OpenError::Io(e) => ReadError::Io(e),
    })?;
    let mut content = Vec::with_capacity(256);
    file.take(MAX_PAYLOAD_BYTES as u64 + 1)
        .read_to_end(&mut content)
        .map_err(ReadError::Io)?;
    Ok(Snapshot {
        id: FileId::of_stat(&st),
        content,
    })
}

/// How a lock can be acted upon where it lives.
#[derive(Debug, Clone)]
pub enum Site {
    /// On this host's filesystem: the sessions dir is reached from the state dir one component
    /// at a time.
    Host {
        state_dir: PathBuf,
        /// The sessions dir relative to `state_dir` (`agents/<agent>/sessions`).
        rel_dir: PathBuf,
        /// (dev, ino) of the sessions dir when it was walked.
        dir_id: (u64, u64),
        name: std::ffi::OsString,
    },
    /// Inside a container, through an exec.
    Container {
        engine: usize,
        container: String,
        state_dir: String,
        dir_id: (u64, u64),
    },
}

/// A lock file and the facts about it, ready to be judged.
#[derive(Debug, Clone)]
pub struct Observed {
    pub location: Location,
    /// The path where it is reported (inside the container for a container's lock).
    pub path: PathBuf,
    pub host_path: Option<PathBuf>,
    pub agent: String,
    pub kind: LockKind,
    pub session_id: Option<String>,
    pub session_key: Option<String>,
    /// The file as read, or why it was not read (then it is never judged nor touched).
    pub file: Result<Snapshot, String>,
    pub payload: Payload,
    pub owner: Owner,
    /// Context for the verdict that the owner alone does not carry (e.g. container stopped).
    pub note: Option<String>,
    pub site: Site,
    /// The leftover of an interrupted removal: removed if stale, else put back under its name.
    pub leftover: Option<crate::walk::Leftover>,
    /// Processes found holding it open (filled in by the holder search, after every read).
    pub holders: Vec<Holder>,
    /// Whether that search could see every possible holder.
    pub visibility: Visibility,
    /// Whether some process has it open (`None`: could not be told).
    pub held_open: Option<bool>,
}

fn transcript_id(kind: LockKind, name: &str) -> Option<String> {
    match kind {
        LockKind::Transcript => session_id(name).map(str::to_owned),
        LockKind::Store => None,
    }
}

/// Observes every lock found on this host's filesystem: first every file, then every owner, so
/// that no owner is looked up before its lock was read (see `pidns`).
pub fn host_locks(
    places: &[Place],
    found: Vec<Found>,
    proc: &HostProc,
    problems: &mut Vec<Problem>,
) -> Vec<Observed> {
    let mut out = Vec::with_capacity(found.len());
    let mut place_of = Vec::with_capacity(found.len());
    for mut f in found {
        let place = &places[f.place];
        let path = f.path();
        let sid = f.session_id();
        let file = match std::mem::replace(&mut f.file, Err(Unread::NotRegular("taken"))) {
            Ok(s) => Ok(s),
            Err(Unread::NotRegular(what)) => Err(format!("{what}: not a lock file, left alone")),
            Err(Unread::Io(e)) => {
                problems.push(Problem {
                    location: place.location.clone(),
                    path: Some(path.clone()),
                    message: format!("cannot read lock: {e}"),
                });
                Err(format!("unreadable: {e}"))
            }
        };
        let payload = match &file {
            Ok(s) => Payload::parse(&s.content, s.id.size),
            Err(_) => Payload::default(),
        };
        let session_key = f.session_key.take();
        let rel_dir = f
            .dir
            .strip_prefix(&place.state_dir)
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let shown = match &place.shown_as {
            Some(inside) => inside.join(&rel_dir).join(&f.name),
            None => path.clone(),
        };
        place_of.push(f.place);
        out.push(Observed {
            location: place.location.clone(),
            // A pinned dir's path (`/proc/self/fd/…`) means nothing outside this run.
            host_path: place.pin.is_none().then(|| path.clone()),
            path: shown,
            agent: f.agent,
            kind: f.kind,
            session_id: sid,
            session_key,
            file,
            payload,
            owner: Owner::Gone,
            note: f.leftover.as_ref().map(leftover_note),
            holders: Vec::new(),
            visibility: Visibility::Incomplete("not searched".into()),
            held_open: None,
            site: Site::Host {
                state_dir: place.state_dir.clone(),
                rel_dir,
                dir_id: f.dir_id,
                name: f.name,
            },
            leftover: f.leftover,
        });
    }

    // Second pass: owners, now that every lock has been read.
    let mut local: HashMap<u64, Owner> = HashMap::new();
    let mut namespaces: Option<Result<Namespaces, crate::pidns::Error>> = None;
    let mut maps: HashMap<u64, Result<NsMap, crate::pidns::Error>> = HashMap::new();
    for (o, &p) in out.iter_mut().zip(&place_of) {
        let Some(pid) = o.payload.pid else { continue };
        o.owner = match &places[p].pids {
            PidView::Local => local
                .entry(pid)
                .or_insert_with(|| proc.observe(pid))
                .clone(),
            PidView::Unknown(why) => Owner::Unknown(why.clone()),
            // A container's state never decides on its own: a paused container's processes
            // run on, a restarting one takes new locks. Its holders decide (see `holders`).
            PidView::NoProcesses(why) => Owner::Unknown(why.clone()),
            PidView::Container { init } => {
                let ns = namespaces.get_or_insert_with(|| Namespaces::scan(Path::new("/proc")));
                let map = maps.entry(*init).or_insert_with(|| match ns {
                    Ok(ns) => ns.container(Path::new("/proc"), *init),
                    Err(e) => Err(e.clone()),
                });
                match map {
                    Ok(m) => m.observe(pid, proc),
                    Err(e) => Owner::Unknown(e.to_string()),
                }
            }
        };
    }
    out
}

fn leftover_note(l: &crate::walk::Leftover) -> String {
    match &l.original {
        Some(o) => format!(
            "left over from an interrupted removal of {}",
            crate::escape::bytes(o.as_encoded_bytes())
        ),
        None => "left over from an interrupted removal".to_owned(),
    }
}

/// Turns one container's exec listing into observed locks, judged in its own namespace.
pub fn container_locks(
    engine: usize,
    container: &str,
    listing: &crate::container::Listing,
    problems: &mut Vec<Problem>,
) -> Vec<Observed> {
    let location = Location::Container(container.to_owned());
    for (path, what) in &listing.problems {
        problems.push(Problem {
            location: location.clone(),
            path: Some(PathBuf::from(path)),
            message: what.to_string(),
        });
    }
    listing
        .locks
        .iter()
        .map(|raw| {
            let file = raw
                .file
                .as_ref()
                .map(|f| f.snapshot())
                .map_err(|what| format!("{what}: not a lock file, left alone"));
            let payload = match &file {
                Ok(s) => Payload::parse(&s.content, s.id.size),
                Err(_) => Payload::default(),
            };
            let owner = match payload.pid {
                Some(pid) => listing.owner(pid),
                None => Owner::Gone,
            };
            let name = raw.path.rsplit('/').next().unwrap_or_default();
            let session_id = transcript_id(raw.kind, name);
            let session_key = session_id
                .as_deref()
                .and_then(|sid| listing.session_key(&raw.path, sid));
            Observed {
                location: location.clone(),
                path: PathBuf::from(&raw.path),
                host_path: None,
                agent: raw.agent.clone(),
                kind: raw.kind,
                session_id,
                session_key,
                file,
                payload,
                owner,
                note: raw.leftover.as_ref().map(leftover_note),
                holders: listing.holders_of(raw, container),
                visibility: listing.visibility(raw),
                held_open: None,
                site: Site::Container {
                    engine,
                    container: container.to_owned(),
                    state_dir: raw.state_dir.clone(),
                    dir_id: raw.dir_id,
                },
                leftover: raw.leftover.clone(),
            }
        })
        .collect()
}
