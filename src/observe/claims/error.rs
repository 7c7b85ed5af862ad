//! Why a place's databases, or a file on the way to them, could not be read.

use std::fmt;

use nix::errno::Errno;

/// One failure to read a place's databases. Its text names the file (relative to the state
/// dir) when it is about one, as `state/openclaw.sqlite: database is locked`.
#[derive(Debug)]
pub enum Error {
    /// A system call failed on an open directory.
    Sys(Errno),
    /// A directory's path could not be read back from `/proc/self/fd`.
    Io(std::io::Error),
    /// SQLite refused to open or to read.
    Sqlite(rusqlite::Error),
    /// The operator's state dir could not be opened.
    OpenStateDir(Errno),
    /// A symlink, a FIFO, a device, … where a database or its side file should be.
    NotRegular,
    /// The directory is only in a container's own filesystem.
    NoHostPath,
    /// The directory's path goes through a symlink.
    NotReachable,
    /// The directory was replaced between the two looks.
    Moved,
    /// A `-wal` without its `-shm`: reading it would create a `-shm`.
    WalWithoutShm { name: String },
    /// `state/openclaw.sqlite` is not there.
    StateDbMissing,
    /// The file, relative to the state dir, the inner error is about.
    WithPath { path: String, err: Box<Error> },
}

impl Error {
    /// Names the file this error is about.
    pub fn with_path(self, path: impl Into<String>) -> Error {
        Error::WithPath {
            path: path.into(),
            err: Box::new(self),
        }
    }
}

impl From<Errno> for Error {
    fn from(e: Errno) -> Error {
        Error::Sys(e)
    }
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Error {
        Error::Sqlite(e)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Sys(e) => e.fmt(f),
            Error::Io(e) => e.fmt(f),
            Error::Sqlite(e) => e.fmt(f),
            Error::OpenStateDir(e) => write!(f, "cannot open: {e}"),
            Error::NotRegular => f.write_str("not a regular file, not opened"),
            Error::NoHostPath => f.write_str(
                "its directory has no path on this host (a container's own filesystem: \
                 bind-mount the state dir to have it read)",
            ),
            Error::NotReachable => f.write_str(
                "its directory is not reachable by its path without a symlink (a container's \
                 own filesystem: bind-mount the state dir to have it read)",
            ),
            Error::Moved => f.write_str("its directory moved while it was read"),
            Error::WalWithoutShm { name } => write!(
                f,
                "{name} has a -wal but no -shm (its gateway is not running): not read, since \
                 reading it would create a -shm"
            ),
            Error::StateDbMissing => f.write_str("state/openclaw.sqlite is missing"),
            Error::WithPath { path, err } => write!(f, "{path}: {err}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Sys(e) | Error::OpenStateDir(e) => Some(e),
            Error::Io(e) => Some(e),
            Error::Sqlite(e) => Some(e),
            Error::WithPath { err, .. } => Some(err.as_ref()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_name_the_file() {
        let e = Error::Sys(Errno::ELOOP).with_path("openclaw.sqlite-wal");
        assert_eq!(
            e.to_string(),
            "openclaw.sqlite-wal: ELOOP: Too many symbolic links encountered"
        );
        assert!(std::error::Error::source(&e).is_some());
        assert_eq!(
            Error::NotRegular.with_path("x.sqlite").to_string(),
            "x.sqlite: not a regular file, not opened"
        );
        assert_eq!(
            Error::OpenStateDir(Errno::ENOENT).to_string(),
            "cannot open: ENOENT: No such file or directory"
        );
        assert_eq!(
            Error::WalWithoutShm {
                name: "openclaw.sqlite".into()
            }
            .to_string(),
            "openclaw.sqlite has a -wal but no -shm (its gateway is not running): not read, \
             since reading it would create a -shm"
        );
    }
}
