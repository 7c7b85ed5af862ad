//! Who holds a lock open, and whether that can be known: the evidence the holder rule reads.

use serde::Serialize;

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
}

impl Holder {
    /// `openclaw-gatewa (pid 13 in zaki-user-1, host pid 3946)`.
    pub fn describe(&self) -> String {
        match &self.container {
            Some(c) => format!(
                "{} (pid {} in {c}, host pid {})",
                self.comm, self.ns_pid, self.host_pid
            ),
            None => format!("{} (pid {})", self.comm, self.host_pid),
        }
    }
}

/// Whether "no holder found" can be trusted for a lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Visibility {
    /// Every process that could hold it was looked at.
    Complete,
    /// Some could not be; the text says why. Then "no holder" is not evidence.
    Incomplete(String),
}

impl Visibility {
    pub fn is_complete(&self) -> bool {
        matches!(self, Visibility::Complete)
    }
    pub fn as_str(&self) -> &'static str {
        match self {
            Visibility::Complete => "complete",
            Visibility::Incomplete(_) => "incomplete",
        }
    }
    pub fn why(&self) -> Option<&str> {
        match self {
            Visibility::Complete => None,
            Visibility::Incomplete(w) => Some(w),
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
    }
}
