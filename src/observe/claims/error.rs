//! Why a place's databases, or a file on the way to them, could not be read.

use std::fmt;
use std::time::Duration;

use nix::errno::Errno;

use super::copy::CopyError;
use super::wire::Refusal;
use crate::model::claims::PlaceErrorReason as Reason;
use crate::sys::confine;
use crate::sys::safefs::OpenError;

/// One failure to read a place's databases. Its text names the file (relative to the state
/// dir) when it is about one, as `state/openclaw.sqlite: a FIFO, not a regular file`.
#[derive(Debug)]
pub enum Error {
    /// A system call failed on an open directory.
    Sys(Errno),
    /// The operator's state dir could not be opened.
    OpenStateDir(Errno),
    /// A symlink, a FIFO, a device, … where a database should be.
    NotRegular,
    /// `state/openclaw.sqlite` is not there.
    StateDbMissing,
    /// `state/openclaw.sqlite` has no placements table, yet agents have session databases.
    NoPlacements,
    /// The database or a side file could not be copied.
    Copy(CopyError),
    /// The place's deadline passed while `path` was read.
    Timeout { path: String, after: Duration },
    /// The confined reader did not answer.
    Reader(confine::Error),
    /// The confined reader answered that it could not read.
    Refused(Refusal),
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

    /// The reason counted in the metrics.
    pub fn reason(&self) -> Reason {
        match self {
            Error::Sys(_)
            | Error::OpenStateDir(_)
            | Error::StateDbMissing
            | Error::NoPlacements => Reason::Unreadable,
            Error::NotRegular => Reason::NotRegular,
            Error::Copy(CopyError::Open { err, .. }) => match err {
                OpenError::NotRegular(_) => Reason::NotRegular,
                OpenError::TooLarge(_) => Reason::TooLarge,
                _ => Reason::Unreadable,
            },
            Error::Copy(CopyError::Leased { .. }) => Reason::Leased,
            Error::Copy(CopyError::Changing) => Reason::Changing,
            Error::Copy(CopyError::Timeout) | Error::Timeout { .. } => Reason::Timeout,
            Error::Reader(confine::Error::Timeout) => Reason::Timeout,
            Error::Reader(confine::Error::Interrupted) => Reason::Interrupted,
            Error::Reader(_) => Reason::ReaderFailed,
            Error::Refused(Refusal::NotConfined(_)) => Reason::NotConfined,
            Error::Refused(_) => Reason::Unreadable,
            Error::WithPath { err, .. } => err.reason(),
        }
    }
}

impl From<Errno> for Error {
    fn from(e: Errno) -> Error {
        Error::Sys(e)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Sys(e) => e.fmt(f),
            Error::OpenStateDir(e) => write!(f, "cannot open: {e}"),
            Error::NotRegular => f.write_str("not a regular file, not opened"),
            Error::StateDbMissing => f.write_str("state/openclaw.sqlite is missing"),
            Error::NoPlacements => f.write_str(
                "state/openclaw.sqlite has no worker_session_placements table, yet agents have \
                 session databases",
            ),
            Error::Copy(e) => e.fmt(f),
            Error::Timeout { path, after } => write!(
                f,
                "timed out reading {path} after {}",
                humantime::format_duration(*after)
            ),
            Error::Reader(e) => e.fmt(f),
            Error::Refused(r) => r.fmt(f),
            Error::WithPath { path, err } => write!(f, "{path}: {err}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Sys(e) | Error::OpenStateDir(e) => Some(e),
            Error::Copy(e) => Some(e),
            Error::Reader(e) => Some(e),
            Error::WithPath { err, .. } => Some(err.as_ref()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_name_the_file_and_reasons_are_counted() {
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
        let t = Error::Timeout {
            path: "state/openclaw.sqlite".into(),
            after: Duration::from_secs(3),
        };
        assert_eq!(
            t.to_string(),
            "timed out reading state/openclaw.sqlite after 3s"
        );
        assert_eq!(t.reason(), Reason::Timeout);
        let fifo = Error::Copy(CopyError::Open {
            file: "openclaw.sqlite-journal".into(),
            err: OpenError::NotRegular("a FIFO"),
        })
        .with_path("state");
        assert_eq!(fifo.reason(), Reason::NotRegular);
        assert_eq!(
            fifo.to_string(),
            "state: openclaw.sqlite-journal: a FIFO, not a regular file: not opened"
        );
    }
}
