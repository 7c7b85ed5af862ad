//! Who holds a lock open, and whether that can be known: the evidence the holder rule reads.

use serde::Serialize;

use crate::model::names::named;

named! {
    /// How a process has a lock open. OpenClaw opens its locks write-only (`"wx"`): a process
    /// that has one open read-only (`tail -f`, a backup agent) is a reader, not a holder.
    pub enum Access {
        Read => "read-only",
        Write => "write",
        /// Its open flags could not be read (a container's listing): counted as a writer.
        Unknown => "unknown",
    }
}

impl Access {
    /// The stronger of two accesses to one inode by one process (a writer is a writer).
    pub fn max(self, other: Access) -> Access {
        match (self, other) {
            (Access::Write, _) | (_, Access::Write) => Access::Write,
            (Access::Unknown, _) | (_, Access::Unknown) => Access::Unknown,
            _ => Access::Read,
        }
    }

    /// From the mode of the `/proc/<pid>/fd/<fd>` link itself (`lstat`): the kernel gives it
    /// the owner's write bit when the file is open for writing (`FMODE_WRITE`: `O_WRONLY` or
    /// `O_RDWR`), its read bit when open for reading. One `lstat`, where `fdinfo` is an open,
    /// a read and a close (issue 21).
    pub fn of_fd_link_mode(mode: u32) -> Access {
        const S_IWUSR: u32 = 0o200;
        if mode & S_IWUSR != 0 {
            Access::Write
        } else {
            Access::Read
        }
    }
}

/// A process that has a lock's inode open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Holder {
    /// Its pid in this host's `/proc` (the exec'd container's for an exec listing).
    pub host_pid: u64,
    /// Its pid in its own PID namespace (last `NSpid` entry).
    pub ns_pid: u64,
    /// Its command name (`Name` from `status`).
    pub comm: String,
    /// The container it runs in, if any (name when looked at, else the id from its cgroup).
    pub container: Option<String>,
    /// How it has the lock open.
    pub access: Access,
}

impl Holder {
    /// `openclaw-gatewa (pid 13 in zaki-user-1, host pid 3946)`, `tail (pid 88, read-only)`.
    pub fn describe(&self) -> String {
        let ro = if self.access == Access::Read {
            ", read-only"
        } else {
            ""
        };
        match &self.container {
            Some(c) => format!(
                "{} (pid {} in {c}, host pid {}{ro})",
                self.comm, self.ns_pid, self.host_pid
            ),
            None => format!("{} (pid {}{ro})", self.comm, self.host_pid),
        }
    }

    /// A process that may write it: it holds the lock (an unknown access counts as a writer).
    pub fn writes(&self) -> bool {
        self.access != Access::Read
    }
}

/// Whether "no holder found" can be trusted for a lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Visibility {
    /// Every process that could hold it was looked at.
    Complete,
    /// Some could not be; the text says why. Then "no holder" is not evidence.
    Incomplete(String),
    /// The kernel refused to answer for want of privilege (a lease on another uid's file needs
    /// `CAP_LEASE`): the run cannot judge this lock and says so loudly.
    Refused(String),
}

impl Visibility {
    pub fn is_complete(&self) -> bool {
        matches!(self, Visibility::Complete)
    }
    pub fn as_str(&self) -> &'static str {
        match self {
            Visibility::Complete => "complete",
            Visibility::Incomplete(_) | Visibility::Refused(_) => "incomplete",
        }
    }
    pub fn why(&self) -> Option<&str> {
        match self {
            Visibility::Complete => None,
            Visibility::Incomplete(w) | Visibility::Refused(w) => Some(w),
        }
    }
}

/// Whether "nobody has it open" can be trusted for a lock: the lease was conclusive and the
/// filesystem is local (on a network or FUSE filesystem another machine may hold it).
pub fn file_visibility(lease: &Lease, fs_why: Option<&str>) -> Visibility {
    if let Some(w) = fs_why {
        return Visibility::Incomplete(w.to_owned());
    }
    match lease {
        Lease::Unknown(w) => Visibility::Incomplete(w.clone()),
        Lease::Refused(w) => Visibility::Refused(w.clone()),
        Lease::Free | Lease::Held => Visibility::Complete,
    }
}

/// What the kernel says about other open files on a lock's inode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lease {
    /// No other open file refers to it.
    Free,
    /// Some process has it open.
    Held,
    /// Could not be asked; the text says why.
    Unknown(String),
    /// The kernel refused for want of privilege (`EACCES`/`EPERM`: no `CAP_LEASE` on another
    /// uid's file); the text says so.
    Refused(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visibility_of_a_file() {
        assert!(file_visibility(&Lease::Free, None).is_complete());
        assert!(file_visibility(&Lease::Held, None).is_complete());
        assert!(!file_visibility(&Lease::Unknown("x".into()), None).is_complete());
        assert!(!file_visibility(&Lease::Free, Some("NFS")).is_complete());
        assert!(matches!(
            file_visibility(&Lease::Refused("x".into()), None),
            Visibility::Refused(_)
        ));
    }

    #[test]
    fn access_from_the_fd_links_mode() {
        // lr-x------, l-wx------, lrwx------ and an O_PATH fd's l---------.
        assert_eq!(Access::of_fd_link_mode(0o120500), Access::Read);
        assert_eq!(Access::of_fd_link_mode(0o120300), Access::Write);
        assert_eq!(Access::of_fd_link_mode(0o120700), Access::Write);
        assert_eq!(Access::of_fd_link_mode(0o120000), Access::Read);
        assert_eq!(Access::Read.max(Access::Write), Access::Write);
        assert_eq!(Access::Read.max(Access::Unknown), Access::Unknown);
        assert_eq!(Access::Read.max(Access::Read), Access::Read);
    }
}
