//! What was observed of a process: the facts the owner rules read.

use chrono::{DateTime, Utc};

/// What one observation of a pid found.
#[derive(Debug, Clone, PartialEq)]
pub enum Owner {
    /// The pid cannot be judged from here (another PID namespace, `/proc` unreadable, …).
    /// The text says why; such an owner never makes a lock stale.
    Unknown(String),
    /// No process (and no thread) has this pid.
    Gone,
    /// A process or thread with this pid exists.
    Found(ProcFacts),
}

/// The fields of `/proc/<pid>/status` and `/proc/<pid>/stat` the policy needs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProcFacts {
    /// `Tgid`: equals the pid for a process, differs for a thread.
    pub tgid: Option<u64>,
    /// First letter of `State` (`R`, `S`, `Z`, …).
    pub state: Option<char>,
    /// Field 22 of `stat`: start time in clock ticks since boot.
    pub starttime: Option<u64>,
    /// Start time on the wall clock: `btime` + starttime / clock ticks.
    pub started_at: Option<DateTime<Utc>>,
    /// The command name (`Name`, or `comm` from `stat`).
    pub name: Option<String>,
    /// `NSpid`: this pid in every nested PID namespace, outermost first.
    pub nspid: Vec<u64>,
}

/// The kernel keeps 15 bytes of a command's name (`/proc/<pid>/comm`): `openclaw-gatewa`.
pub const COMM_MAX: usize = 15;

/// A process's full name when its kernel name may be cut (15 bytes long): the base name of
/// its command line's first word, when that starts with the kernel's name
/// (`openclaw-gateway`); `None` otherwise.
pub fn full_name(comm: &str, cmdline: &[u8]) -> Option<String> {
    if comm.len() < COMM_MAX {
        return None;
    }
    let argv0 = cmdline.split(|&b| b == 0).next()?;
    // A process title (`process.title`) may be several words in argv[0].
    let first = argv0.split(|&b| b == b' ').next()?;
    let base = std::str::from_utf8(first.rsplit(|&b| b == b'/').next()?).ok()?;
    (base.len() > comm.len() && base.starts_with(comm)).then(|| base.to_owned())
}

#[cfg(test)]
mod tests {
    use super::full_name;

    #[test]
    fn a_cut_name_is_completed_from_the_command_line() {
        let comm = "openclaw-gatewa";
        assert_eq!(
            full_name(comm, b"openclaw-gateway\0").as_deref(),
            Some("openclaw-gateway")
        );
        assert_eq!(
            full_name(comm, b"/usr/bin/openclaw-gateway --port 1\0").as_deref(),
            Some("openclaw-gateway")
        );
        // Not cut, or the command line is another name: the kernel's name stands.
        assert_eq!(full_name("sleep", b"sleep\0x\0"), None);
        assert_eq!(full_name(comm, b"node\0openclaw.mjs\0"), None);
        assert_eq!(full_name(comm, b""), None);
    }
}
