//! Removing a stale lock on the host without ever losing a live one.
//!
//! The race to beat: between judging a lock and unlinking it, the stale lock may be reclaimed by
//! an OpenClaw contender and a new, live lock created under the same name; unlinking by name would
//! then delete the live one. So removal
//! 1. reaches the sessions dir from the state dir one component at a time with `O_NOFOLLOW` and
//!    checks it is the directory that was walked (no symlink or swapped dir is ever followed);
//! 2. re-reads the lock through that dir and requires it to be byte-for-byte the judged snapshot
//!    (device, inode, size, mtime, content);
//! 3. renames it to a private name (atomic, `RENAME_NOREPLACE`), which takes exactly one inode out
//!    of OpenClaw's sight, then checks that this inode is the judged one before unlinking it;
//! 4. if a new lock slipped in between 2 and 3 (microseconds), it is renamed back at once.
//!
//! What remains is the time between 3 and 4: for a few microseconds the slipped-in live lock's
//! name is free, and a third writer would have to create it in exactly that window. That needs
//! three actors on one session inside microseconds, right as its stale lock is being removed; it
//! is reported as an error if it ever happens rather than passed over silently.

use std::ffi::{OsStr, OsString};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path};
use std::sync::atomic::{AtomicU64, Ordering};

use nix::errno::Errno;
use nix::fcntl::{OFlag, RenameFlags, open, renameat2};
use nix::sys::stat::{Mode, fstat};
use nix::unistd::{UnlinkatFlags, unlinkat};

use crate::model::lockfile::{REMOVING_MARKER, ReadError, Snapshot};
use crate::model::observed::Site;
use crate::model::payload::classify_name;
use crate::observe::container;
use crate::sys::docker::Engine;
use crate::sys::safefs::{self, OpenError};
use crate::sys::snapshot::snapshot_at;

/// Where it was before `lockfile` existed; callers and tests name it from here.
pub use crate::model::lockfile::Outcome;

/// Removes the lock at a host `site` only if it is still exactly `judged`. Container sites are
/// removed in batches by [`in_container`]; given one here, nothing is done.
pub fn remove(site: &Site, judged: &Snapshot) -> Outcome {
    let _whole = crate::sys::interrupt::removal();
    match site {
        Site::Host {
            state_dir,
            rel_dir,
            dir_id,
            name,
        } => match remove_host(state_dir, rel_dir, *dir_id, name, judged) {
            Ok(o) => o,
            Err(e) => Outcome::Failed(e.desc().to_owned()),
        },
        Site::Container { .. } => Outcome::Failed("a container's lock is removed by exec".into()),
    }
}

/// One lock to remove inside a container.
#[derive(Clone)]
pub struct ContainerItem<'a> {
    pub state_dir: &'a str,
    pub path: &'a str,
    pub dir_id: (u64, u64),
    pub judged: &'a Snapshot,
}

/// Removes a container's stale locks with one exec of [`container::REMOVE_SCRIPT`], which
/// applies the same checks as the host remover. Outcomes by path; a lock the script did not
/// report on is `Failed`.
pub async fn in_container(
    engine: &Engine,
    container: &str,
    items: &[ContainerItem<'_>],
    timeout: std::time::Duration,
) -> Vec<Outcome> {
    let args: Vec<String> = items
        .iter()
        .flat_map(|i| container::removal_args(i.state_dir, i.path, i.dir_id, i.judged))
        .collect();
    let script = container::REMOVE_SCRIPT;
    batch(engine, container, script, &args, items, timeout).await
}

/// Puts back a container's held leftovers of interrupted removals, each under the name given
/// with it, by one exec of [`container::PUT_BACK_SCRIPT`].
pub async fn put_back_in_container(
    engine: &Engine,
    container: &str,
    items: &[(ContainerItem<'_>, String)],
    timeout: std::time::Duration,
) -> Vec<Outcome> {
    let args: Vec<String> = items
        .iter()
        .flat_map(|(i, orig)| {
            let mut a = container::removal_args(i.state_dir, i.path, i.dir_id, i.judged).to_vec();
            a.push(orig.clone());
            a
        })
        .collect();
    let plain: Vec<ContainerItem<'_>> = items.iter().map(|(i, _)| i.clone()).collect();
    let script = container::PUT_BACK_SCRIPT;
    batch(engine, container, script, &args, &plain, timeout).await
}

async fn batch(
    engine: &Engine,
    name: &str,
    script: &str,
    args: &[String],
    items: &[ContainerItem<'_>],
    timeout: std::time::Duration,
) -> Vec<Outcome> {
    let all_failed = |e: &dyn std::error::Error| {
        let failed = Outcome::Failed(e.to_string());
        vec![failed; items.len()]
    };
    let done = match engine.run_script(name, script, args, timeout).await {
        Ok(out) => match container::parse_removals(&out) {
            Ok(done) => done,
            Err(e) => return all_failed(&e),
        },
        Err(e) => return all_failed(&e),
    };
    items
        .iter()
        .map(|i| {
            done.get(i.path)
                .cloned()
                .unwrap_or_else(|| Outcome::Failed("the remove script did not report on it".into()))
        })
        .collect()
}

/// Reaches the sessions dir from the state dir one component at a time without following a
/// symlink, and checks it is the directory that was walked. `Err(outcome)` when it is not.
fn sessions_dir(
    state_dir: &Path,
    rel_dir: &Path,
    dir_id: (u64, u64),
) -> Result<Result<OwnedFd, Outcome>, Errno> {
    // The state dir itself is the operator's own path and may be a symlink; nothing below is.
    let mut dir = open(state_dir, DIR_FLAGS, Mode::empty())?;
    for comp in rel_dir.components() {
        let Component::Normal(c) = comp else {
            return Ok(Err(Outcome::Changed("unexpected path component".into())));
        };
        dir = match safefs::dir_at(&dir, c) {
            Ok(d) => d,
            Err(OpenError::Gone) => return Ok(Err(Outcome::Gone)),
            Err(OpenError::NotRegular(_)) => {
                return Ok(Err(Outcome::Changed(format!(
                    "{} is no longer a directory (a symlink?): not followed",
                    crate::model::escape::path(&state_dir.join(rel_dir))
                ))));
            }
            Err(OpenError::Io(e)) => {
                return Err(Errno::from_raw(e.raw_os_error().unwrap_or(nix::libc::EIO)));
            }
            Err(OpenError::TooLarge(_)) => return Err(Errno::EIO),
        };
    }
    let st = fstat(&dir)?;
    if (st.st_dev, st.st_ino) != dir_id {
        return Ok(Err(Outcome::Changed(
            "its sessions directory was replaced since it was read".into(),
        )));
    }
    Ok(Ok(dir))
}

const DIR_FLAGS: OFlag = OFlag::O_RDONLY
    .union(OFlag::O_DIRECTORY)
    .union(OFlag::O_CLOEXEC);

fn remove_host(
    state_dir: &Path,
    rel_dir: &Path,
    dir_id: (u64, u64),
    name: &OsStr,
    judged: &Snapshot,
) -> Result<Outcome, Errno> {
    let dir = match sessions_dir(state_dir, rel_dir, dir_id)? {
        Ok(d) => d,
        Err(o) => return Ok(o),
    };

    if let Some(o) = read_at(&dir, name)?.differs_from(judged) {
        return Ok(o);
    }

    let private = private_name(name);
    match renameat2(
        &dir,
        name,
        &dir,
        private.as_os_str(),
        RenameFlags::RENAME_NOREPLACE,
    ) {
        Ok(()) => {}
        Err(Errno::ENOENT) => return Ok(Outcome::Gone),
        Err(e) => return Err(e),
    }
    if read_at(&dir, &private)?.differs_from(judged).is_none() {
        unlinkat(&dir, private.as_os_str(), UnlinkatFlags::NoRemoveDir)?;
        return Ok(Outcome::Removed);
    }
    // Not the judged inode: a live lock slipped in. Put it back where its owner expects it.
    match renameat2(
        &dir,
        private.as_os_str(),
        &dir,
        name,
        RenameFlags::RENAME_NOREPLACE,
    ) {
        Ok(()) => Ok(Outcome::Changed(
            "replaced by a new lock while being removed: put back".into(),
        )),
        Err(e) => Ok(Outcome::Failed(format!(
            "a new lock appeared while being removed and could not be put back ({}); it is at {}",
            e.desc(),
            Path::new(&private).display()
        ))),
    }
}

/// A lock file read again through its directory, just before it is renamed or unlinked.
#[derive(Debug, PartialEq)]
enum Reread {
    Gone,
    /// No longer a regular file: what it is now (never read, never touched).
    NotRegular(&'static str),
    File(Snapshot),
}

impl Reread {
    /// Why the removal stops here, or `None` when the file is still exactly `judged`.
    fn differs_from(self, judged: &Snapshot) -> Option<Outcome> {
        match self {
            Reread::Gone => Some(Outcome::Gone),
            Reread::NotRegular("a symlink") => Some(Outcome::Changed(
                "replaced by a symlink: not followed".into(),
            )),
            Reread::NotRegular(what) => Some(Outcome::Changed(format!("now {what}"))),
            Reread::File(now) if now != *judged => {
                Some(Outcome::Changed("modified since it was judged".into()))
            }
            Reread::File(_) => None,
        }
    }
}

/// Reads `name` in `dir`; an I/O error fails the removal.
fn read_at(dir: &OwnedFd, name: &OsStr) -> Result<Reread, Errno> {
    match snapshot_at(dir, name) {
        Ok(s) => Ok(Reread::File(s)),
        Err(ReadError::NotRegular(what)) => Ok(Reread::NotRegular(what)),
        Err(ReadError::Gone) => Ok(Reread::Gone),
        Err(ReadError::Io(e)) => Err(Errno::from_raw(e.raw_os_error().unwrap_or(nix::libc::EIO))),
    }
}

/// Puts the leftover of an interrupted removal back under its lock's name, if it is still
/// exactly what was judged (live, so not to be removed) and nothing has taken that name since
/// (`RENAME_NOREPLACE`: a newer lock there is never replaced; the leftover then stays and the
/// run reports it).
pub fn put_back(site: &Site, judged: &Snapshot, original: &OsStr) -> Outcome {
    let Site::Host {
        state_dir,
        rel_dir,
        dir_id,
        name,
    } = site
    else {
        return Outcome::Failed("a container's leftovers are not put back by exec".into());
    };
    let run = || -> Result<Outcome, Errno> {
        let dir = match sessions_dir(state_dir, rel_dir, *dir_id)? {
            Ok(d) => d,
            Err(o) => return Ok(o),
        };
        if let Some(o) = read_at(&dir, name)?.differs_from(judged) {
            return Ok(o);
        }
        match renameat2(
            &dir,
            name.as_os_str(),
            &dir,
            original,
            RenameFlags::RENAME_NOREPLACE,
        ) {
            Ok(()) => Ok(Outcome::Changed(format!(
                "left over from an interrupted removal and still held: put back as {}",
                crate::model::escape::bytes(original.as_bytes())
            ))),
            Err(Errno::EEXIST) => Ok(Outcome::Failed(format!(
                "left over from an interrupted removal and still held, but {} exists again: left where it is",
                crate::model::escape::bytes(original.as_bytes())
            ))),
            Err(Errno::ENOENT) => Ok(Outcome::Gone),
            Err(e) => Err(e),
        }
    };
    run().unwrap_or_else(|e| Outcome::Failed(e.desc().to_owned()))
}

/// A name no OpenClaw lock, and no other run, can have: hidden, not ending in `.lock`, unique to
/// this process and removal, and at most 255 bytes. It keeps the lock's name
/// (`.<name>.zaki-locks-removing.<pid>.<n>`) so that a run killed between rename and unlink
/// leaves a file the next run can put back; a name too long for that gets a fixed-length
/// hashed one (`.zaki-locks-removing.h<hash>.<pid>.<n>`), which the next run can still remove.
pub fn private_name(name: &OsStr) -> OsString {
    use std::hash::{Hash, Hasher};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let tail = format!(
        "{}.{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    let mut s = OsString::from(".");
    if 1 + name.len() + REMOVING_MARKER.len() + tail.len() <= 255 {
        s.push(name);
        s.push(REMOVING_MARKER);
    } else {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        name.as_bytes().hash(&mut h);
        s.push(&REMOVING_MARKER[1..]);
        s.push(format!("h{:016x}.", h.finish()));
    }
    s.push(tail);
    debug_assert!(classify_name(s.as_bytes()).is_none());
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::lockfile::{Leftover, leftover_of};

    #[test]
    fn private_names_fit_and_are_recognised() {
        for len in [1, 40, 200, 230, 244] {
            let name = format!("{}.jsonl.lock", "a".repeat(len));
            let p = private_name(OsStr::new(&name));
            assert!(p.len() <= 255, "{len}: {}", p.len());
            assert!(classify_name(p.as_bytes()).is_none());
            match leftover_of(p.as_bytes()) {
                Some(Leftover { original: Some(o) }) => assert_eq!(o, OsStr::new(&name)),
                Some(Leftover { original: None }) => assert!(len > 200, "{len}: name not kept"),
                None => panic!("{len}: {p:?} is not recognised as a leftover"),
            }
        }
        // Of itself (a leftover being removed again).
        let twice = private_name(&private_name(OsStr::new("x.jsonl.lock")));
        assert!(leftover_of(twice.as_bytes()).is_some());
        assert!(leftover_of(b"x.jsonl.lock").is_none());
        assert!(
            leftover_of(b".x.jsonl.zaki-locks-removing.1.2").is_none(),
            "not a lock's name"
        );
    }

    #[test]
    fn rereads_tell_why_a_removal_stops() {
        let snap = |content: &[u8]| Snapshot {
            id: crate::model::lockfile::FileId {
                dev: 1,
                ino: 2,
                size: content.len() as u64,
                mtime: (3, 4),
                nlink: 1,
            },
            content: content.to_vec(),
        };
        let judged = snap(b"{}");
        assert_eq!(Reread::File(snap(b"{}")).differs_from(&judged), None);
        assert_eq!(
            Reread::File(snap(b"{ }")).differs_from(&judged),
            Some(Outcome::Changed("modified since it was judged".into()))
        );
        assert_eq!(Reread::Gone.differs_from(&judged), Some(Outcome::Gone));
        assert_eq!(
            Reread::NotRegular("a symlink").differs_from(&judged),
            Some(Outcome::Changed(
                "replaced by a symlink: not followed".into()
            ))
        );
        assert_eq!(
            Reread::NotRegular("a FIFO").differs_from(&judged),
            Some(Outcome::Changed("now a FIFO".into()))
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 2000, ..Default::default() })]

        /// Any lock name up to the filesystem's limit gets a private name that fits, is never a
        /// lock's name, and is recognised as a leftover (with its name, when that was kept).
        #[test]
        fn private_names_of_any_lock_name(stem in "[a-zA-Z0-9 ._-]{0,120}(\\.zaki-locks-removing\\.[0-9]\\.)?[a-z0-9]{1,120}") {
            let name = format!("{stem}.jsonl.lock");
            let p = private_name(OsStr::new(&name));
            proptest::prop_assert!(p.len() <= 255);
            proptest::prop_assert!(classify_name(p.as_bytes()).is_none());
            let l = leftover_of(p.as_bytes());
            proptest::prop_assert!(l.is_some());
            if let Some(o) = l.unwrap().original {
                proptest::prop_assert_eq!(o, OsStr::new(&name));
            }
        }
    }
}
