//! Reading a lock file: its identity and bounded bytes, through `safefs` (regular files only,
//! no symlink followed).

use std::ffi::OsStr;
use std::fs::File;
use std::os::fd::AsFd;
use std::path::Path;

use crate::model::lockfile::{FileId, ReadError, Snapshot};
use crate::model::payload::MAX_PAYLOAD_BYTES;
use crate::sys::safefs::{self, OpenError};

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
        OpenError::Io(e) => ReadError::Io(e),
        e => ReadError::Io(std::io::Error::other(e.to_string())),
    })?;
    snapshot_at(&dir, name)
}

/// Reads the lock file `name` in the directory `dir` through [`safefs`]: nothing that is not a
/// regular file is opened, no symlink followed, never more than the payload bound (+1).
pub fn snapshot_at(dir: &impl AsFd, name: &OsStr) -> Result<Snapshot, ReadError> {
    read_lock_at(dir, name).map(|(snap, _)| snap)
}

/// [`snapshot_at`], also returning the open file that was read: the walk asks its lease on it
/// rather than opening the lock again (see `sys::lease::lease_on`).
pub fn read_lock_at(dir: &impl AsFd, name: &OsStr) -> Result<(Snapshot, File), ReadError> {
    read_lock_in(dir, name, safefs::Mount::MayHoldDevices)
}

/// [`read_lock_at`] in a directory on `mount` (see [`safefs::regular_in`]).
pub fn read_lock_in(
    dir: &impl AsFd,
    name: &OsStr,
    mount: safefs::Mount,
) -> Result<(Snapshot, File), ReadError> {
    let (mut file, st) = safefs::regular_in(dir, name, mount).map_err(|e| match e {
        OpenError::Gone => ReadError::Gone,
        OpenError::NotRegular(what) => ReadError::NotRegular(what),
        OpenError::TooLarge(_) => ReadError::NotRegular("too large"),
        OpenError::Io(e) => ReadError::Io(e),
    })?;
    let content = safefs::read_sized(&mut file, st.st_size as u64, MAX_PAYLOAD_BYTES as u64 + 1)
        .map_err(ReadError::Io)?;
    let snap = Snapshot {
        id: file_id(&st),
        content,
    };
    Ok((snap, file))
}

/// A lock file's identity from its `fstat`.
pub fn file_id(st: &nix::sys::stat::FileStat) -> FileId {
    FileId {
        dev: st.st_dev,
        ino: st.st_ino,
        size: st.st_size as u64,
        mtime: (st.st_mtime, st.st_mtime_nsec),
        #[allow(clippy::useless_conversion)] // nlink_t is u32 on some targets
        nlink: u64::from(st.st_nlink),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::lockfile::Unread;
    use std::sync::Arc;

    #[test]
    fn reads_only_regular_files() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        std::fs::write(d.join("a.jsonl.lock"), b"{\"pid\": 7}").unwrap();
        std::os::unix::fs::symlink(d.join("a.jsonl.lock"), d.join("l.jsonl.lock")).unwrap();
        let s = snapshot(&d.join("a.jsonl.lock")).unwrap();
        assert_eq!(
            (s.content.as_slice(), s.id.size),
            (&b"{\"pid\": 7}"[..], 10)
        );
        let e = snapshot(&d.join("l.jsonl.lock")).unwrap_err();
        assert!(matches!(e, ReadError::NotRegular("a symlink")), "{e}");
        assert_eq!(e.to_string(), "a symlink, not a regular file: not opened");
        assert!(matches!(
            snapshot(&d.join("x.jsonl.lock")),
            Err(ReadError::Gone)
        ));
        let unread = Unread::NotRegular("a symlink");
        assert_eq!(unread.to_string(), "a symlink: not a lock file, left alone");
        let io = Unread::Io(Arc::new(std::io::Error::other("boom")));
        assert_eq!(io.to_string(), "unreadable: boom");
    }
}
