//! A private copy of a live SQLite database, read the way every tenant file is read: relative to
//! an open directory, never through a symlink, only a regular file, without blocking (a leased
//! file is refused at once), bounded in bytes. SQLite itself never sees the tenant's files: it
//! reads this copy in the confined reader, so it never opens a `-journal`, `-wal` or `-shm` by
//! name in the tenant's place, never creates one there, and never waits on one.
//!
//! The copy is consistent: a live gateway appends to the `-wal` and, now and then, checkpoints
//! it into the database and starts it over with new salts. The `-wal`'s header is read before
//! the database and compared with the `-wal` read after it: the same header means every page
//! the checkpoint may have written meanwhile is also in the copied `-wal`, which SQLite applies
//! over the database. A changed header is read again, at most [`ATTEMPTS`] times.

use std::ffi::OsStr;
use std::fmt;
use std::io::Read;
use std::os::fd::OwnedFd;
use std::time::Instant;

use crate::sys::safefs::{self, OpenError};

/// Largest database, `-wal` or `-journal` copied (larger: the place is reported, not read).
pub const MAX_FILE: u64 = 128 * 1024 * 1024;

/// Reads of a database whose `-wal` restarted meanwhile, before the place is reported.
pub const ATTEMPTS: usize = 3;

/// A database's bytes with its side files', as they were at one moment.
pub struct DbCopy {
    pub db: Vec<u8>,
    /// The committed part of the `-wal` (frames of an earlier generation left out).
    pub wal: Option<Vec<u8>>,
    pub journal: Option<Vec<u8>>,
}

/// Why a database was not copied.
#[derive(Debug)]
pub enum CopyError {
    /// A file could not be opened or read (not regular, too large, gone, …).
    Open { file: String, err: OpenError },
    /// A file is leased by a writer: opening it would wait for the lease to break.
    Leased { file: String },
    /// The `-wal` started over on every attempt.
    Changing,
    /// The place's deadline passed.
    Timeout,
}

impl fmt::Display for CopyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CopyError::Open { file, err } => write!(f, "{file}: {err}"),
            CopyError::Leased { file } => write!(
                f,
                "{file}: leased by another process (F_SETLEASE): not read, since opening it \
                 would wait for the lease"
            ),
            CopyError::Changing => write!(
                f,
                "its -wal started over during each of {ATTEMPTS} reads: not read this time"
            ),
            CopyError::Timeout => f.write_str("timed out"),
        }
    }
}

impl std::error::Error for CopyError {}

/// Copies `name` in `dir` with its `-wal` and `-journal` (absent ones are `None`). `shown` is
/// the directory as errors name it (`state/`).
pub fn copy(
    dir: &OwnedFd,
    shown: &str,
    name: &str,
    deadline: Instant,
) -> Result<DbCopy, CopyError> {
    let file = File { dir, shown };
    let wal_name = format!("{name}-wal");
    let journal_name = format!("{name}-journal");
    for _ in 0..ATTEMPTS {
        let before = file.wal_header(&wal_name)?;
        past(deadline)?;
        let db = file.read(name)?.ok_or_else(|| CopyError::Open {
            file: format!("{shown}{name}"),
            err: OpenError::Gone,
        })?;
        let journal = file.read(&journal_name)?;
        let wal = file.read(&wal_name)?;
        past(deadline)?;
        if before.as_deref() == wal.as_deref().map(header) {
            let wal = wal.map(|mut w| {
                w.truncate(committed(&w));
                w
            });
            return Ok(DbCopy { db, wal, journal });
        }
    }
    Err(CopyError::Changing)
}

fn past(deadline: Instant) -> Result<(), CopyError> {
    if Instant::now() >= deadline {
        Err(CopyError::Timeout)
    } else {
        Ok(())
    }
}

/// A file of one directory, named as errors name it.
struct File<'a> {
    dir: &'a OwnedFd,
    shown: &'a str,
}

impl File<'_> {
    /// A regular file's bytes, `None` when there is no such file.
    fn read(&self, name: &str) -> Result<Option<Vec<u8>>, CopyError> {
        match safefs::read_at(self.dir, OsStr::new(name), MAX_FILE) {
            Ok((bytes, _)) => Ok(Some(bytes)),
            Err(e) => self.absent_or(name, e),
        }
    }

    /// The first 32 bytes of a `-wal` (its header, or all of a shorter one).
    fn wal_header(&self, name: &str) -> Result<Option<Vec<u8>>, CopyError> {
        match safefs::regular_at(self.dir, OsStr::new(name)) {
            Ok((f, _)) => {
                let mut head = Vec::with_capacity(32);
                match f.take(32).read_to_end(&mut head) {
                    Ok(_) => Ok(Some(head)),
                    Err(e) => self.absent_or(name, OpenError::Io(e)),
                }
            }
            Err(e) => self.absent_or(name, e),
        }
    }

    fn absent_or<T>(&self, name: &str, err: OpenError) -> Result<Option<T>, CopyError> {
        let file = format!("{}{name}", self.shown);
        match err {
            OpenError::Gone => Ok(None),
            OpenError::Io(e) if e.raw_os_error() == Some(nix::libc::EWOULDBLOCK) => {
                Err(CopyError::Leased { file })
            }
            err => Err(CopyError::Open { file, err }),
        }
    }
}

fn header(wal: &[u8]) -> &[u8] {
    &wal[..wal.len().min(32)]
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// The length of a `-wal`'s committed part: its header and its frames up to the last commit
/// frame of the current generation (frames whose salts match the header's). What follows is an
/// earlier generation's or an unfinished transaction's, which SQLite ignores anyway; an odd
/// header is kept whole for SQLite to judge.
pub fn committed(wal: &[u8]) -> usize {
    let (Some(magic), Some(size), Some(s1), Some(s2)) =
        (be32(wal, 0), be32(wal, 8), be32(wal, 16), be32(wal, 20))
    else {
        return wal.len();
    };
    let page = if size == 1 { 65536 } else { size as usize };
    if magic & !1 != 0x377f_0682 || !(512..=65536).contains(&page) || !page.is_power_of_two() {
        return wal.len();
    }
    let mut end = 32;
    let mut at = 32;
    while at + 24 + page <= wal.len() {
        if be32(wal, at + 8) != Some(s1) || be32(wal, at + 12) != Some(s2) {
            break;
        }
        let commit = be32(wal, at + 4);
        at += 24 + page;
        if commit != Some(0) {
            end = at;
        }
    }
    end
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(page: usize, commit: u32, salts: (u32, u32)) -> Vec<u8> {
        let mut f = vec![0u8; 24 + page];
        f[0..4].copy_from_slice(&1u32.to_be_bytes());
        f[4..8].copy_from_slice(&commit.to_be_bytes());
        f[8..12].copy_from_slice(&salts.0.to_be_bytes());
        f[12..16].copy_from_slice(&salts.1.to_be_bytes());
        f
    }

    fn wal(page: usize, salts: (u32, u32)) -> Vec<u8> {
        let mut h = vec![0u8; 32];
        h[0..4].copy_from_slice(&0x377f_0682u32.to_be_bytes());
        h[8..12].copy_from_slice(&(page as u32).to_be_bytes());
        h[16..20].copy_from_slice(&salts.0.to_be_bytes());
        h[20..24].copy_from_slice(&salts.1.to_be_bytes());
        h
    }

    #[test]
    fn the_committed_part_ends_at_the_last_commit_of_this_generation() {
        let (page, now, old) = (512, (7, 9), (3, 4));
        let mut w = wal(page, now);
        w.extend(frame(page, 0, now));
        w.extend(frame(page, 2, now));
        let after_commit = w.len();
        w.extend(frame(page, 0, now));
        assert_eq!(
            committed(&w),
            after_commit,
            "an unfinished transaction is left out"
        );
        w.extend(frame(page, 5, old));
        assert_eq!(
            committed(&w),
            after_commit,
            "an earlier generation is left out"
        );
        let mut only_uncommitted = wal(page, now);
        only_uncommitted.extend(frame(page, 0, now));
        assert_eq!(committed(&only_uncommitted), 32);
    }

    #[test]
    fn an_odd_wal_is_kept_whole() {
        assert_eq!(committed(b"short"), 5);
        let mut w = wal(512, (1, 2));
        w[0] = 0;
        w.extend([0u8; 600]);
        assert_eq!(committed(&w), w.len());
        let mut w = wal(1000, (1, 2));
        w.extend([0u8; 2048]);
        assert_eq!(
            committed(&w),
            w.len(),
            "a page size that is not a power of two"
        );
    }
}
