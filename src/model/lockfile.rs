//! A lock file as the tool knows it: its identity and bytes when read ([`Snapshot`]), why it was
//! not read ([`ReadError`], [`Unread`]), the private name a removal renames it to
//! ([`Leftover`]), and what became of a removal ([`Outcome`]).
//!
//! The walk, the container listing, the observer, the judge and the remover all share these;
//! reading one is `sys::snapshot`.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::os::unix::ffi::OsStrExt;
use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};

use crate::model::payload::{LockKind, classify_name};

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

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Gone => f.write_str("no such file"),
            ReadError::NotRegular(what) => write!(f, "{what}, not a regular file: not opened"),
            ReadError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ReadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ReadError::Io(e) => Some(e),
            _ => None,
        }
    }
}

/// Why a lock file that is there was not read: it is never judged nor touched. (A file that
/// vanished before it was read is simply not there: no `Gone` here.)
#[derive(Debug, Clone)]
pub enum Unread {
    /// A symlink, a FIFO, a device, a directory: never opened.
    NotRegular(&'static str),
    /// Reading it failed (shared: a lock and its copies in reports are cloned).
    Io(Arc<std::io::Error>),
}

impl fmt::Display for Unread {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unread::NotRegular(what) => write!(f, "{what}: not a lock file, left alone"),
            Unread::Io(e) => write!(f, "unreadable: {e}"),
        }
    }
}

impl std::error::Error for Unread {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Unread::Io(e) => Some(&**e),
            Unread::NotRegular(_) => None,
        }
    }
}

/// What became of one removal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Removed,
    /// Left in place: it is no longer the lock that was judged (the text says how).
    Changed(String),
    /// Already gone: released or reclaimed by someone else first.
    Gone,
    /// The removal itself failed (permissions, read-only filesystem, …).
    Failed(String),
}

/// The marker in the private name a lock is renamed to while it is removed.
pub const REMOVING_MARKER: &str = ".zaki-locks-removing.";

/// A file left by a removal that was killed between its rename and its unlink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leftover {
    /// The lock's own name, when the private name holds it (`.<name>.zaki-locks-removing.…`);
    /// `None` for the hashed names of locks whose names were too long to keep.
    pub original: Option<OsString>,
}

/// Recognises a removal's private name: `.<name>.zaki-locks-removing.<pid>.<n>`,
/// `.zaki-locks-removing.h<hash>.<pid>.<n>` (names too long for the first form) or
/// `.zaki-locks-removing.<pid>.<inode>` (left by earlier exec removers).
pub fn leftover_of(name: &[u8]) -> Option<Leftover> {
    let rest = name.strip_prefix(b".")?;
    let marker = REMOVING_MARKER.as_bytes();
    if let Some(hashed) = rest.strip_prefix(&marker[1..]) {
        // `h<hash>` for a long name; `<pid>.<inode>` from exec removers before names were kept.
        let ours = hashed.starts_with(b"h") || hashed.first().is_some_and(u8::is_ascii_digit);
        return ours.then_some(Leftover { original: None });
    }
    let at = rest.windows(marker.len()).rposition(|w| w == marker)?;
    let original = &rest[..at];
    if classify_name(original).is_none() {
        // The leftover of removing a leftover again: what counts is the innermost name.
        return leftover_of(original);
    }
    Some(Leftover {
        original: Some(OsStr::from_bytes(original).to_owned()),
    })
}

/// What a directory entry's name makes it: a lock of some kind, or the leftover of an
/// interrupted removal, judged like the lock it was (a hashed leftover, whose name was not
/// kept, like a transcript's). A name that is a lock's is a lock, never a leftover. `None` for
/// everything the tool must never touch. The walk and the container listing both decide here.
pub fn recognise(name: &[u8]) -> Option<(LockKind, Option<Leftover>)> {
    if let Some(kind) = classify_name(name) {
        return Some((kind, None));
    }
    let leftover = leftover_of(name)?;
    let kind = leftover
        .original
        .as_ref()
        .and_then(|o| classify_name(o.as_bytes()))
        .unwrap_or(LockKind::Transcript);
    Some((kind, Some(leftover)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognised_names() {
        assert_eq!(
            recognise(b"a.jsonl.lock"),
            Some((LockKind::Transcript, None))
        );
        assert_eq!(
            recognise(b"sessions.json.lock"),
            Some((LockKind::Store, None))
        );
        let store = b".sessions.json.lock.zaki-locks-removing.1.2";
        let original = Some(OsString::from("sessions.json.lock"));
        assert_eq!(
            recognise(store),
            Some((LockKind::Store, Some(Leftover { original })))
        );
        let hashed = b".zaki-locks-removing.h0123456789abcdef.1.2";
        assert_eq!(
            recognise(hashed),
            Some((LockKind::Transcript, Some(Leftover { original: None })))
        );
        // Named like a lock: a lock, whatever its name holds.
        let both = b".a.jsonl.lock.zaki-locks-removing.1.2.jsonl.lock";
        assert_eq!(recognise(both), Some((LockKind::Transcript, None)));
        for not in [
            &b"a.jsonl"[..],
            b"sessions.json",
            b".x.zaki-locks-removing.1.2",
        ] {
            assert_eq!(recognise(not), None);
        }
    }

    #[test]
    fn leftover_names() {
        let l = leftover_of(b".a.jsonl.lock.zaki-locks-removing.12.3");
        assert_eq!(l.and_then(|l| l.original), Some("a.jsonl.lock".into()));
        // Removed again: the innermost lock's name counts.
        let twice = b"..a.jsonl.lock.zaki-locks-removing.12.3.zaki-locks-removing.12.4";
        let l = leftover_of(twice);
        assert_eq!(l.and_then(|l| l.original), Some("a.jsonl.lock".into()));
        for hashed in [
            &b".zaki-locks-removing.h0123456789abcdef.12.3"[..],
            b".zaki-locks-removing.12.77",
        ] {
            assert_eq!(leftover_of(hashed), Some(Leftover { original: None }));
        }
        for not in [
            &b"a.jsonl.lock"[..],
            b".zaki-locks-removing.x",
            b".notes.zaki-locks-removing.1.2",
            b"a.jsonl.lock.zaki-locks-removing.1.2",
        ] {
            assert_eq!(leftover_of(not), None, "{}", String::from_utf8_lossy(not));
        }
    }
}
