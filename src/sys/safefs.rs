//! Opening tenant-written files and directories without ever opening anything else.
//!
//! Everything below a state dir is written by a tenant who can race the tool, so:
//! - a file is first opened with `O_PATH | O_NOFOLLOW` (which opens nothing: no device driver,
//!   FIFO or symlink target is touched), checked with `fstat` to be a regular file, and only then
//!   reopened for reading through `/proc/self/fd/<n>`: the same inode, no name looked up again;
//! - a directory is opened relative to its parent's fd with `O_NOFOLLOW | O_DIRECTORY` (a symlink
//!   fails with `ELOOP`, anything not a directory with `ENOTDIR`, before any open happens);
//! - every read is bounded, and a file past its bound is an error naming the bound.
//!
//! On a `nodev` mount (see [`Mount`]) a file is opened for reading in one `openat2` instead:
//! there the kernel itself refuses to open a device node (`EACCES`), a FIFO opened with
//! `O_NONBLOCK` does not wait, a socket cannot be opened, and a symlink is refused by
//! `O_NOFOLLOW`; the `fstat` that follows still rejects anything not regular, unread. Anything
//! that open refuses is looked at the first way, which names what it is.
//!
//! The walk, the observer, the remover, `probe` and the router table all use these.

use std::ffi::OsStr;
use std::fmt;
use std::fs::File;
use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{OFlag, open, openat};
use nix::sys::stat::{FileStat, Mode, SFlag, fstat};

/// Why a file or directory was not opened or read.
#[derive(Debug)]
pub enum OpenError {
    /// Nothing by that name (it vanished, or never was).
    Gone,
    /// Something that is not what was asked for (a symlink, a FIFO, a device, …): not opened.
    NotRegular(&'static str),
    /// Larger than the bound (in bytes) allowed for it.
    TooLarge(u64),
    Io(std::io::Error),
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpenError::Gone => f.write_str("no such file"),
            OpenError::NotRegular(what) => write!(f, "{what}, not a regular file: not opened"),
            OpenError::TooLarge(n) => write!(f, "too large (over the bound of {})", bytes(*n)),
            OpenError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for OpenError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            OpenError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<Errno> for OpenError {
    fn from(e: Errno) -> OpenError {
        match e {
            Errno::ENOENT => OpenError::Gone,
            Errno::ELOOP => OpenError::NotRegular("a symlink"),
            Errno::ENOTDIR => OpenError::NotRegular("not a directory"),
            e => OpenError::Io(std::io::Error::from_raw_os_error(e as i32)),
        }
    }
}

/// `64 MiB`, `4096 bytes`: a bound as people read it.
pub fn bytes(n: u64) -> String {
    if n >= 1024 * 1024 && n.is_multiple_of(1024 * 1024) {
        format!("{} MiB", n / (1024 * 1024))
    } else if n >= 1024 && n.is_multiple_of(1024) {
        format!("{} KiB", n / 1024)
    } else {
        format!("{n} bytes")
    }
}

const DIR: OFlag = OFlag::O_RDONLY
    .union(OFlag::O_DIRECTORY)
    .union(OFlag::O_CLOEXEC);
const PATH_ONLY: OFlag = OFlag::O_PATH.union(OFlag::O_CLOEXEC);
const REOPEN: OFlag = OFlag::O_RDONLY
    .union(OFlag::O_NONBLOCK)
    .union(OFlag::O_NOCTTY)
    .union(OFlag::O_CLOEXEC);

/// What a file type is, in words, for a non-regular one.
pub fn kind_of(st: &FileStat) -> &'static str {
    match SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits()) {
        SFlag::S_IFREG => "a regular file",
        SFlag::S_IFDIR => "a directory",
        SFlag::S_IFLNK => "a symlink",
        SFlag::S_IFIFO => "a FIFO",
        SFlag::S_IFSOCK => "a socket",
        SFlag::S_IFCHR => "a character device",
        SFlag::S_IFBLK => "a block device",
        _ => "not a regular file",
    }
}

fn is_regular(st: &FileStat) -> bool {
    st.st_mode & SFlag::S_IFMT.bits() == SFlag::S_IFREG.bits()
}

/// Opens the directory `name` in `dir`, never through a symlink. For anything that is not a
/// directory, says what it is (by `fstatat` without following: nothing is opened).
pub fn dir_at(dir: &impl AsFd, name: &OsStr) -> Result<OwnedFd, OpenError> {
    match openat(dir, name, DIR | OFlag::O_NOFOLLOW, Mode::empty()) {
        Ok(fd) => Ok(fd),
        Err(e @ (Errno::ENOTDIR | Errno::ELOOP)) => {
            match nix::sys::stat::fstatat(dir, name, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW) {
                Ok(st) => Err(OpenError::NotRegular(kind_of(&st))),
                Err(_) => Err(e.into()),
            }
        }
        Err(e) => Err(e.into()),
    }
}

/// Opens a directory the operator named (its path may hold symlinks: they are the operator's).
pub fn operator_dir(path: &Path) -> Result<OwnedFd, OpenError> {
    Ok(open(path, DIR, Mode::empty())?)
}

/// How a path below an open directory is resolved by `openat2`: no symlink (nor `/proc` magic
/// link) in any component, and never above that directory.
pub const BENEATH: nix::fcntl::ResolveFlag = nix::fcntl::ResolveFlag::RESOLVE_NO_SYMLINKS
    .union(nix::fcntl::ResolveFlag::RESOLVE_NO_MAGICLINKS)
    .union(nix::fcntl::ResolveFlag::RESOLVE_BENEATH);

/// What the mount of a directory allows to be opened below it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Mount {
    /// Device nodes may be opened there (or it is not known): files are opened `O_PATH` first.
    #[default]
    MayHoldDevices,
    /// Mounted `nodev` (`ST_NODEV`): no device node below it can be opened by anyone.
    Nodev,
}

/// [`regular_at`], in one open where `mount` is [`Mount::Nodev`] (issue 21: two syscalls fewer
/// a file). The way `dir` was opened matters: `openat2` stays on its mount (`RESOLVE_NO_XDEV`).
pub fn regular_in(
    dir: &impl AsFd,
    name: &OsStr,
    mount: Mount,
) -> Result<(File, FileStat), OpenError> {
    if mount == Mount::Nodev
        && let Some(opened) = open_on_nodev(dir, name)
    {
        return opened;
    }
    regular_at(dir, name)
}

/// `name` in `dir` opened for reading, `dir` being on a `nodev` mount; `None` when the open
/// was refused for any reason but absence (a symlink, a device node, a socket, a lease being
/// broken, a kernel without `openat2`): the `O_PATH` way then says what it is.
fn open_on_nodev(dir: &impl AsFd, name: &OsStr) -> Option<Result<(File, FileStat), OpenError>> {
    use nix::fcntl::{OpenHow, ResolveFlag, openat2};
    let how = OpenHow::new()
        .flags(REOPEN | OFlag::O_NOFOLLOW)
        .resolve(BENEATH | ResolveFlag::RESOLVE_NO_XDEV);
    let fd = match openat2(dir, Path::new(name), how) {
        Ok(fd) => fd,
        Err(Errno::ENOENT) => return Some(Err(OpenError::Gone)),
        Err(_) => return None,
    };
    Some(match fstat(&fd) {
        Ok(st) if is_regular(&st) => Ok((File::from(fd), st)),
        // A FIFO or a directory, opened without waiting and closed unread.
        Ok(st) => Err(OpenError::NotRegular(kind_of(&st))),
        Err(e) => Err(e.into()),
    })
}

/// Turns an `O_PATH` fd into a readable one if, and only if, it is a regular file.
fn reopen_regular(path_fd: OwnedFd) -> Result<(File, FileStat), OpenError> {
    let st = fstat(&path_fd)?;
    if !is_regular(&st) {
        return Err(OpenError::NotRegular(kind_of(&st)));
    }
    let proc_path = format!("/proc/self/fd/{}", path_fd.as_raw_fd());
    let fd = open(proc_path.as_str(), REOPEN, Mode::empty())?;
    // `/proc/self/fd/<n>` of an `O_PATH` fd reopens that very inode, on a real `/proc`: checked
    // on the first reopen of the run (no tenant can change the host's `/proc` afterwards), not
    // with an `fstat` per file (issue 21: two of a lock's syscalls).
    if !PROC_CHECKED.load(std::sync::atomic::Ordering::Relaxed) {
        let now = fstat(&fd)?;
        if (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino) {
            return Err(OpenError::Io(std::io::Error::other(
                "/proc/self/fd did not reopen the same file (is /proc mounted?)",
            )));
        }
        PROC_CHECKED.store(true, std::sync::atomic::Ordering::Relaxed);
    }
    Ok((File::from(fd), st))
}

/// Whether a reopen through `/proc/self/fd` was seen to give back the same file (see
/// [`reopen_regular`]).
static PROC_CHECKED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Opens `name` in `dir` for reading if it is a regular file; nothing else is ever opened, and
/// a symlink is never followed.
pub fn regular_at(dir: &impl AsFd, name: &OsStr) -> Result<(File, FileStat), OpenError> {
    let fd = openat(dir, name, PATH_ONLY | OFlag::O_NOFOLLOW, Mode::empty())?;
    reopen_regular(fd)
}

/// Opens an operator's file (a symlink in its path is followed: it is theirs) if what it names
/// is a regular file. A FIFO or a device is never opened.
pub fn operator_regular(path: &Path) -> Result<(File, FileStat), OpenError> {
    let fd = open(path, PATH_ONLY, Mode::empty())?;
    reopen_regular(fd)
}

/// Reads at most `limit` bytes; a file longer than that is [`OpenError::TooLarge`]. The size
/// from `fstat` is only a hint (the file may grow while read): the bytes read decide.
pub fn read_bounded(mut file: File, size: u64, limit: u64) -> Result<Vec<u8>, OpenError> {
    let out = read_sized(&mut file, size, limit + 1).map_err(OpenError::Io)?;
    if out.len() as u64 > limit {
        return Err(OpenError::TooLarge(limit));
    }
    Ok(out)
}

/// Reads a regular file's bytes, at most `cap` of them, into a buffer sized from its `fstat`
/// size (`size`) plus one: a file that did not change since is read in one `read`, whose
/// short count is its end (a regular file returns fewer bytes than asked only at its end). A
/// file that grew meanwhile is read on, the buffer doubling, never past `cap`.
pub fn read_sized(file: &mut File, size: u64, cap: u64) -> std::io::Result<Vec<u8>> {
    let cap = usize::try_from(cap).unwrap_or(usize::MAX);
    let first = usize::try_from(size)
        .unwrap_or(usize::MAX)
        .saturating_add(1)
        .min(cap);
    let mut out = vec![0u8; first];
    let mut n = 0;
    while n < cap {
        if n == out.len() {
            out.resize(out.len().saturating_mul(2).clamp(1, cap), 0);
        }
        let asked = out.len() - n;
        match file.read(&mut out[n..]) {
            Ok(0) => break,
            Ok(k) => {
                n += k;
                if k < asked {
                    break;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    out.truncate(n);
    Ok(out)
}

/// [`regular_at`] then [`read_bounded`].
pub fn read_at(
    dir: &impl AsFd,
    name: &OsStr,
    limit: u64,
) -> Result<(Vec<u8>, FileStat), OpenError> {
    read_in(dir, name, limit, Mount::MayHoldDevices)
}

/// [`regular_in`] then [`read_bounded`].
pub fn read_in(
    dir: &impl AsFd,
    name: &OsStr,
    limit: u64,
    mount: Mount,
) -> Result<(Vec<u8>, FileStat), OpenError> {
    let (f, st) = regular_in(dir, name, mount)?;
    if st.st_size as u64 > limit {
        return Err(OpenError::TooLarge(limit));
    }
    Ok((read_bounded(f, st.st_size as u64, limit)?, st))
}

/// [`operator_regular`] then [`read_bounded`].
pub fn read_operator_file(path: &Path, limit: u64) -> Result<Vec<u8>, OpenError> {
    let (f, st) = operator_regular(path)?;
    if st.st_size as u64 > limit {
        return Err(OpenError::TooLarge(limit));
    }
    read_bounded(f, st.st_size as u64, limit)
}

/// The longest name accepted for an agent or a session id taken from a file or a directory.
pub const MAX_NAME: usize = 200;

/// A tenant's name that is not one plain path component, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameError {
    /// Its first 80 characters, escaped for a terminal.
    pub shown: String,
    pub why: &'static str,
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} {}: not a single plain file name",
            self.shown, self.why
        )
    }
}

impl std::error::Error for NameError {}

/// A name from a tenant's file used in a path must be one plain path component: not empty, not
/// `.` or `..`, no `/`, no NUL, at most [`MAX_NAME`] bytes. Returns why not.
pub fn plain_name(name: &str) -> Result<&str, NameError> {
    let why = if name.is_empty() {
        "is empty"
    } else if name == "." || name == ".." {
        "is `.` or `..`"
    } else if name.contains('/') {
        "contains `/`"
    } else if name.contains('\0') {
        "contains a NUL byte"
    } else if name.len() > MAX_NAME {
        "is longer than 200 bytes"
    } else if name.chars().any(char::is_control) {
        "contains a control character"
    } else {
        return Ok(name);
    };
    Err(NameError {
        shown: crate::model::escape::text(&name.chars().take(80).collect::<String>()).into_owned(),
        why,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn opens_only_regular_files() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        std::fs::write(d.join("f"), b"hello").unwrap();
        symlink(d.join("f"), d.join("l")).unwrap();
        nix::unistd::mkfifo(&d.join("p"), Mode::S_IRWXU).unwrap();
        std::fs::create_dir(d.join("d")).unwrap();
        let dir = operator_dir(d).unwrap();
        let (b, _) = read_at(&dir, OsStr::new("f"), 10).unwrap();
        assert_eq!(b, b"hello");
        assert!(matches!(
            read_at(&dir, OsStr::new("f"), 4),
            Err(OpenError::TooLarge(4))
        ));
        assert!(matches!(
            read_at(&dir, OsStr::new("l"), 10),
            Err(OpenError::NotRegular("a symlink"))
        ));
        assert!(matches!(
            read_at(&dir, OsStr::new("p"), 10),
            Err(OpenError::NotRegular("a FIFO"))
        ));
        assert!(matches!(
            read_at(&dir, OsStr::new("d"), 10),
            Err(OpenError::NotRegular("a directory"))
        ));
        assert!(matches!(
            read_at(&dir, OsStr::new("x"), 10),
            Err(OpenError::Gone)
        ));
        assert!(matches!(
            dir_at(&dir, OsStr::new("f")),
            Err(OpenError::NotRegular(_))
        ));
        assert!(matches!(
            read_operator_file(&d.join("p"), 10),
            Err(OpenError::NotRegular("a FIFO"))
        ));
        assert!(matches!(
            read_operator_file(Path::new("/dev/zero"), 10),
            Err(OpenError::NotRegular("a character device"))
        ));
        // The operator's own symlink is followed to a regular file.
        assert_eq!(read_operator_file(&d.join("l"), 10).unwrap(), b"hello");
    }

    #[test]
    fn plain_names() {
        for ok in ["abc", "a.b", "0b1c-uuid", "..a", "a..", "ünï"] {
            assert!(plain_name(ok).is_ok(), "{ok}");
        }
        let long = "x".repeat(201);
        for bad in [
            "",
            ".",
            "..",
            "a/b",
            "../../x",
            "a\0b",
            "a\nb",
            long.as_str(),
        ] {
            assert!(plain_name(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            plain_name("a/b").unwrap_err().to_string(),
            "\"a/b\" contains `/`: not a single plain file name"
        );
    }
}

/// Property tests: the bounded reader returns exactly the file when it fits and `TooLarge`
/// naming the bound when it does not, for any size around the bound.
#[cfg(test)]
mod fuzz {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

        #[test]
        fn bounded_read_is_exact_or_too_large(len in 0usize..9000, limit in 0u64..9000) {
            let tmp = tempfile::tempdir().unwrap();
            let body: Vec<u8> = (0..len).map(|i| (i * 7 % 256) as u8).collect();
            std::fs::write(tmp.path().join("f"), &body).unwrap();
            let dir = operator_dir(tmp.path()).unwrap();
            match read_at(&dir, OsStr::new("f"), limit) {
                Ok((b, st)) => {
                    prop_assert!(len as u64 <= limit);
                    prop_assert_eq!(b, body);
                    prop_assert_eq!(st.st_size as usize, len);
                }
                Err(OpenError::TooLarge(n)) => {
                    prop_assert!(len as u64 > limit);
                    prop_assert_eq!(n, limit);
                }
                Err(e) => prop_assert!(false, "{e}"),
            }
        }

        #[test]
        fn names_accepted_are_one_component(name in "\\PC{0,250}|[./a-z\\x00\\n]{0,6}") {
            if let Ok(n) = plain_name(&name) {
                let p = Path::new(n);
                prop_assert_eq!(p.components().count(), 1);
                prop_assert!(matches!(p.components().next(), Some(std::path::Component::Normal(_))));
                prop_assert!(n.len() <= MAX_NAME);
            }
        }
    }
}
