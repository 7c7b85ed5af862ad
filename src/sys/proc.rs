//! What is known about the process a lock names, read from a `/proc` in the right PID namespace.
//!
//! The text parsers here serve every place: the host reads `/proc` directly, a container's
//! `/proc` arrives as text through one exec, and both end up as an [`Owner`] for the policy.
//! On the host, every fact of one process is read through one opened `/proc/<pid>`
//! ([`Process`]), so that they all describe the same process even if its pid is reused.

use std::fs::{self, File};
use std::io::{self, ErrorKind, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use chrono::{DateTime, TimeZone, Utc};

use crate::model::process::{Owner, ProcFacts};
use nix::fcntl::{OFlag, open, openat, readlinkat};
use nix::sys::stat::Mode;

/// Fields read from `/proc/<pid>/status`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Status {
    pub name: Option<String>,
    pub state: Option<char>,
    pub tgid: Option<u64>,
    pub nspid: Vec<u64>,
}

/// Parses the fields of `/proc/<pid>/status` that matter; tolerates missing lines.
pub fn parse_status(text: &str) -> Status {
    let mut st = Status::default();
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match key {
            "Name" => st.name = Some(value.to_owned()),
            "State" => st.state = value.chars().next(),
            "Tgid" => st.tgid = value.parse().ok(),
            "NSpid" => {
                st.nspid = value
                    .split_whitespace()
                    .filter_map(|v| v.parse().ok())
                    .collect()
            }
            _ => {}
        }
    }
    st
}

/// Parses `/proc/<pid>/stat` into (comm, starttime). The comm sits in parentheses and may hold
/// spaces and parentheses itself, so fields are counted from the last `)`, as OpenClaw does.
pub fn parse_stat(text: &str) -> (Option<String>, Option<u64>) {
    let open = text.find('(');
    let close = text.rfind(')');
    let comm = match (open, close) {
        (Some(o), Some(c)) if c > o => Some(text[o + 1..c].to_owned()),
        _ => None,
    };
    // After ")" come fields 3.. ; starttime is field 22.
    let starttime = stat_field(text, 22).and_then(|f| f.parse().ok());
    (comm, starttime)
}

/// The parent pid (field 4) of a `/proc/<pid>/stat` text.
pub fn parse_ppid(text: &str) -> Option<u64> {
    stat_field(text, 4)?.parse().ok()
}

/// Field `n` (1-based, as `proc(5)` numbers them, `n >= 3`) of a `/proc/<pid>/stat` text,
/// counted from the last `)`: the command name before it may hold spaces and parentheses.
fn stat_field(text: &str, n: usize) -> Option<&str> {
    let close = text.rfind(')')?;
    text[close + 1..].split_whitespace().nth(n.checked_sub(3)?)
}

/// Reads `btime` (boot time, seconds since the epoch) from `/proc/stat` text.
fn parse_btime(text: &str) -> Option<i64> {
    text.lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}

/// Boot time and clock tick rate, which turn a starttime into a wall-clock time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Clock {
    pub btime: i64,
    pub ticks_per_second: u64,
}

impl Clock {
    pub fn start_time(&self, starttime: u64) -> Option<DateTime<Utc>> {
        if self.ticks_per_second == 0 {
            return None;
        }
        let secs = starttime / self.ticks_per_second;
        let rem = starttime % self.ticks_per_second;
        let nanos = rem * 1_000_000_000 / self.ticks_per_second;
        let secs = self.btime.checked_add(i64::try_from(secs).ok()?)?;
        Utc.timestamp_opt(secs, nanos as u32).single()
    }
}

/// Builds the facts for one pid from the raw texts, whatever place they came from.
pub fn facts(status: &str, stat: Option<&str>, clock: Option<Clock>) -> ProcFacts {
    let st = parse_status(status);
    let (comm, starttime) = stat.map(parse_stat).unwrap_or((None, None));
    ProcFacts {
        tgid: st.tgid,
        state: st.state,
        starttime,
        started_at: starttime.and_then(|t| clock?.start_time(t)),
        name: st.name.or(comm),
        nspid: st.nspid,
    }
}

/// One process's `/proc/<pid>` directory, opened once (as the procfs crate's `Process`).
///
/// Every fact read through it (relative to the directory fd, `O_NOFOLLOW`, bounded) comes from
/// the process that had the pid when it was opened: once that process is gone, reads fail
/// instead of describing another process that got its pid meanwhile.
#[derive(Debug)]
pub struct Process {
    dir: OwnedFd,
}

/// Largest `status`, `stat` or `cgroup` read (a few hundred bytes in practice).
const MAX_TEXT: u64 = 64 * 1024;
/// Largest command line read: enough to tell an OpenClaw process.
const MAX_CMDLINE: u64 = 4096;

const DIR: OFlag = OFlag::O_RDONLY
    .union(OFlag::O_DIRECTORY)
    .union(OFlag::O_NOFOLLOW)
    .union(OFlag::O_CLOEXEC);

impl Process {
    /// Opens `<proc_root>/<pid>` (a thread id works too).
    pub fn open(proc_root: &Path, pid: u64) -> io::Result<Process> {
        let dir = open(&proc_root.join(pid.to_string()), DIR, Mode::empty())?;
        Ok(Process { dir })
    }

    /// Opens the entry `pid` of an open `/proc` (or `/proc/<pid>/task`) directory.
    pub fn open_at(proc_dir: &impl AsFd, pid: u64) -> io::Result<Process> {
        let dir = openat(proc_dir, pid.to_string().as_str(), DIR, Mode::empty())?;
        Ok(Process { dir })
    }

    /// `status` (Name, State, Tgid, PPid, NSpid, …).
    pub fn status(&self) -> io::Result<String> {
        self.text("status")
    }

    /// `stat` (comm and starttime, see [`parse_stat`]).
    pub fn stat(&self) -> io::Result<String> {
        self.text("stat")
    }

    /// `cgroup`, which names the container a process runs in.
    pub fn cgroup(&self) -> io::Result<String> {
        self.text("cgroup")
    }

    /// The first 4 KiB of `cmdline`: NUL-separated arguments.
    pub fn cmdline(&self) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        self.file("cmdline")?
            .take(MAX_CMDLINE)
            .read_to_end(&mut out)?;
        Ok(out)
    }

    /// Opens a directory of the process (`fd`, `task`).
    pub fn dir(&self, name: &str) -> io::Result<OwnedFd> {
        Ok(openat(&self.dir, name, DIR, Mode::empty())?)
    }

    /// Its root directory (`root`), as the process sees it: a container's filesystem. The
    /// magic link is followed, which is what it is for; what lies below is the tenant's.
    pub fn root(&self) -> io::Result<OwnedFd> {
        self.magic_dir("root")
    }

    /// Its working directory (`cwd`), followed like [`Process::root`].
    pub fn cwd(&self) -> io::Result<OwnedFd> {
        self.magic_dir("cwd")
    }

    fn magic_dir(&self, name: &str) -> io::Result<OwnedFd> {
        let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
        Ok(openat(&self.dir, name, flags, Mode::empty())?)
    }

    /// The text of the `ns/pid` link, which names its PID namespace.
    pub fn pid_namespace(&self) -> io::Result<String> {
        let link = readlinkat(&self.dir, "ns/pid")?;
        Ok(link.to_string_lossy().into_owned())
    }

    fn file(&self, name: &str) -> io::Result<File> {
        let flags = OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
        Ok(File::from(openat(&self.dir, name, flags, Mode::empty())?))
    }

    fn text(&self, name: &str) -> io::Result<String> {
        // A page up front: `status` and `cgroup` fit, read in one `read` and the one that says
        // the end, not the 7 a buffer doubling from 32 bytes takes.
        let mut out = String::with_capacity(4096);
        self.file(name)?.take(MAX_TEXT).read_to_string(&mut out)?;
        Ok(out)
    }
}

/// Reads owners from a `/proc` mounted in this process's PID namespace.
#[derive(Debug, Clone)]
pub struct HostProc {
    root: PathBuf,
    clock: Option<Clock>,
    /// Set when this `/proc` cannot be trusted to show every process; every owner is unknown.
    blind: Option<String>,
}

/// Largest pid Linux can hand out (`PID_MAX_LIMIT` on 64-bit).
const PID_MAX_LIMIT: u64 = 4 * 1024 * 1024;

impl HostProc {
    /// Opens `/proc`, checking once that it can show other users' processes at all.
    pub fn open() -> HostProc {
        let root = PathBuf::from("/proc");
        let stat = fs::read_to_string(root.join("stat"));
        let clock = stat
            .as_ref()
            .ok()
            .and_then(|s| parse_btime(s))
            .map(|btime| Clock {
                btime,
                ticks_per_second: ticks_per_second(),
            });
        let readable = stat
            .as_ref()
            .map(|_| ())
            .map_err(|e| e.to_string())
            .and_then(|_| {
                fs::metadata(root.join("self/status"))
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            });
        let blind = match readable {
            Err(e) => Some(format!("{} is not readable: {e}", root.display())),
            Ok(()) => hidepid_blindness(&root),
        };
        HostProc { root, clock, blind }
    }

    /// Observes one pid: its `status` and `stat` read through one opened `/proc/<pid>`. Only
    /// "no such file" means the pid is gone; any other failure to read is "unknown", because a
    /// lock must never be removed on a guess.
    pub fn observe(&self, pid: u64) -> Owner {
        if let Some(why) = &self.blind {
            return Owner::Unknown(why.clone());
        }
        if pid > PID_MAX_LIMIT {
            return Owner::Gone;
        }
        let status = Process::open(&self.root, pid).and_then(|p| Ok((p.status()?, p)));
        let (status, process) = match status {
            Ok(s) => s,
            Err(e) if e.kind() == ErrorKind::NotFound => return Owner::Gone,
            Err(e) => {
                let dir = self.root.join(pid.to_string());
                return Owner::Unknown(format!("cannot read {}/status: {e}", dir.display()));
            }
        };
        // A `stat` that cannot be read leaves the starttime unknown, nothing more.
        let stat = process.stat().ok();
        Owner::Found(facts(&status, stat.as_deref(), self.clock))
    }
}

fn ticks_per_second() -> u64 {
    match nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK) {
        Ok(Some(t)) if t > 0 => t as u64,
        _ => 100,
    }
}

/// With `hidepid=1|2` (or `invisible`/`noaccess`) a non-root reader does not see other users'
/// processes, so a live owner would look dead. Such a `/proc` cannot judge owners.
fn hidepid_blindness(root: &Path) -> Option<String> {
    if nix::unistd::geteuid().is_root() {
        return None;
    }
    let mounts = fs::read_to_string(root.join("self/mounts")).ok()?;
    let root_str = root.to_str()?;
    mounts.lines().find_map(|line| {
        let mut f = line.split_whitespace();
        let (_src, target, fstype, opts) = (f.next()?, f.next()?, f.next()?, f.next()?);
        let hides = opts.split(',').any(|o| {
            matches!(
                o,
                "hidepid=1" | "hidepid=2" | "hidepid=invisible" | "hidepid=noaccess"
            )
        });
        (fstype == "proc" && target == root_str && hides).then(|| {
            format!(
                "{root_str} is mounted with {opts} and this user is not root, so other users' processes are hidden"
            )
        })
    })
}

/// A `sleep 60` child, its pid, and its opened `/proc/<pid>` once it has run `exec` (before,
/// it is a copy of the test). For the tests of the modules that read processes.
#[cfg(test)]
pub(crate) fn sleeping_child() -> (std::process::Child, u64, Process) {
    let child = std::process::Command::new("sleep")
        .arg("60")
        .spawn()
        .unwrap();
    let pid = u64::from(child.id());
    let p = Process::open(Path::new("/proc"), pid).unwrap();
    for _ in 0..200 {
        if p.cmdline().unwrap().starts_with(b"sleep\0") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    (child, pid, p)
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS: &str = "Name:\topenclaw-gatewa\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t4063\nNgid:\t0\nPid:\t4070\nPPid:\t1\nNSpid:\t91234\t7\n";

    #[test]
    fn status_fields() {
        let st = parse_status(STATUS);
        assert_eq!(st.name.as_deref(), Some("openclaw-gatewa"));
        assert_eq!(st.state, Some('S'));
        assert_eq!(st.tgid, Some(4063));
        assert_eq!(st.nspid, vec![91234, 7]);
    }

    #[test]
    fn stat_with_hostile_comm() {
        let stat = "4063 (a) b (c)) S 1 4063 4063 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 11 0 98765 1000 10 18446744073709551615";
        let (comm, start) = parse_stat(stat);
        assert_eq!(comm.as_deref(), Some("a) b (c)"));
        assert_eq!(start, Some(98765));
        assert_eq!(parse_stat("garbage"), (None, None));
        assert_eq!(parse_stat("1 (x) S 1"), (Some("x".into()), None));
        assert_eq!(parse_ppid(stat), Some(1));
        assert_eq!(parse_ppid("garbage"), None);
    }

    #[test]
    fn clock_converts_ticks() {
        let c = Clock {
            btime: 1_700_000_000,
            ticks_per_second: 100,
        };
        let t = c.start_time(12_345).unwrap();
        assert_eq!(t.timestamp(), 1_700_000_123);
        assert_eq!(t.timestamp_subsec_millis(), 450);
        assert_eq!(
            parse_btime("cpu 1 2\nbtime 1700000000\n"),
            Some(1_700_000_000)
        );
    }

    #[test]
    fn this_process_is_found() {
        let proc = HostProc::open();
        let me = std::process::id() as u64;
        match proc.observe(me) {
            Owner::Found(f) => {
                assert_eq!(f.tgid, Some(me));
                assert!(f.starttime.is_some());
                assert!(f.started_at.unwrap() <= Utc::now());
            }
            other => panic!("expected to find myself, got {other:?}"),
        }
        assert_eq!(proc.observe(PID_MAX_LIMIT + 1), Owner::Gone);
    }

    #[test]
    fn a_process_is_read_through_its_own_directory() {
        let (mut child, pid, p) = sleeping_child();
        let st = parse_status(&p.status().unwrap());
        assert_eq!((st.name.as_deref(), st.tgid), (Some("sleep"), Some(pid)));
        assert!(parse_stat(&p.stat().unwrap()).1.is_some());
        assert_eq!(p.cmdline().unwrap(), b"sleep\x0060\x00");
        assert!(p.pid_namespace().unwrap().starts_with("pid:["));
        assert!(p.dir("fd").is_ok());
        assert!(p.root().is_ok() && p.cwd().is_ok());
        child.kill().unwrap();
        child.wait().unwrap();
        // Gone and reaped: the opened directory reads nothing, whoever gets the pid next.
        assert!(p.status().is_err());
        assert!(p.cmdline().is_err());
        assert_eq!(HostProc::open().observe(pid), Owner::Gone);
        let gone = Process::open(Path::new("/proc"), pid).unwrap_err();
        assert_eq!(gone.kind(), ErrorKind::NotFound);
    }
}
