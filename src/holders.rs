//! Who holds a lock open: the one fact that settles whether a lock is live.
//!
//! OpenClaw keeps its lock file open for the whole hold (`fs.open(path, "wx")`, closed right
//! before the file is deleted), so a process with an fd on the lock's inode is its holder, in
//! any PID namespace. On this host, as root, that is every process in `/proc`, containers
//! (paused ones too) and host processes alike.
//!
//! The search runs once per run, after every lock was read (the snapshot gives device and
//! inode; a lock created later is a new inode, as OpenClaw creates with `O_EXCL`). It lists
//! `/proc/<pid>/fd` of every process and reads each link's text; only the links whose text ends
//! in `.lock` (or `.lock (deleted)`) are `stat`ed and compared. Threads share their leader's fd
//! table, so only thread-group leaders are listed; a task created with its own fd table (clone
//! without `CLONE_FILES`) is not seen, which OpenClaw (Node) never does.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io::Read;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::dir::Dir;
use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag, open, openat, readlinkat};
use nix::sys::stat::{Mode, fstatat};

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

/// What one search of a `/proc` found.
#[derive(Debug, Default)]
pub struct Search {
    /// Holders by the (device, inode) they have open.
    pub by_id: HashMap<(u64, u64), Vec<Holder>>,
    /// Set when some process's fds could not be listed: the search is not complete.
    pub incomplete: Option<String>,
    /// Processes this run descends from whose fds could not be read (not counted as holes).
    pub unreadable_ancestors: Vec<u64>,
    /// How many processes and fds were looked at (for the benchmarks).
    pub processes: usize,
    pub fds: usize,
}

/// Why a lock's own facts make the search incomplete for it, whatever the search found.
pub fn file_visibility(search_blind: Option<&str>, nlink: u64, fs_why: Option<&str>) -> Visibility {
    if let Some(w) = search_blind {
        return Visibility::Incomplete(w.to_owned());
    }
    if let Some(w) = fs_why {
        return Visibility::Incomplete(w.to_owned());
    }
    if nlink > 1 {
        return Visibility::Incomplete(format!(
            "the lock has {nlink} hard links: a holder may have opened it by another name"
        ));
    }
    Visibility::Complete
}

/// Does a link text name a lock file? (`…/x.jsonl.lock`, `… .lock (deleted)`.)
fn names_a_lock(text: &[u8]) -> bool {
    let t = text.strip_suffix(b" (deleted)").unwrap_or(text);
    t.ends_with(b".lock")
}

/// Searches `proc_root` for processes holding any of `wanted` (device, inode) open.
/// `containers` maps container ids (full or 12 digits) to names, to name a holder's container.
///
/// Every path is resolved relative to an open directory (`/proc`, then `/proc/<pid>`, then its
/// `fd`), so each fd costs one `readlinkat` and only lock-named ones a `fstatat`.
pub fn search(
    proc_root: &Path,
    wanted: &HashSet<(u64, u64)>,
    containers: &[(String, String)],
) -> Search {
    let mut s = Search::default();
    if wanted.is_empty() {
        return s;
    }
    if !nix::unistd::geteuid().is_root() {
        s.incomplete = Some("not running as root: other users' open files cannot be seen".into());
    }
    let proc_fd = match open(proc_root, DIR, Mode::empty()) {
        Ok(fd) => fd,
        Err(e) => {
            s.incomplete = Some(format!("cannot open {}: {}", proc_root.display(), e.desc()));
            return s;
        }
    };
    let entries = match fs::read_dir(proc_root) {
        Ok(e) => e,
        Err(e) => {
            s.incomplete = Some(format!("cannot list {}: {e}", proc_root.display()));
            return s;
        }
    };
    let me = std::process::id() as u64;
    let ancestors = ancestors(proc_root, me);
    let mut unreadable: Vec<u64> = Vec::new();
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.parse::<u64>().ok()) else {
            continue;
        };
        if pid == me {
            continue;
        }
        s.processes += 1;
        match scan_process(&proc_fd, name.as_os_str(), pid, wanted, containers, &mut s) {
            Ok(()) => {}
            // Exited meanwhile: it holds nothing any more.
            Err(Errno::ENOENT | Errno::ESRCH) => {}
            // What started this run (service manager, cron, shell) is not a session's writer;
            // a sandbox's init may refuse even root. Any other unreadable process counts.
            Err(_) if ancestors.contains(&pid) => s.unreadable_ancestors.push(pid),
            Err(_) => unreadable.push(pid),
        }
    }
    if !unreadable.is_empty() && s.incomplete.is_none() {
        s.incomplete = Some(format!(
            "the open files of {} process(es) could not be read (pid {}{})",
            unreadable.len(),
            unreadable[0],
            if unreadable.len() > 1 { ", …" } else { "" }
        ));
    }
    s
}

/// This process's ancestors, by `PPid`.
fn ancestors(proc_root: &Path, me: u64) -> HashSet<u64> {
    let mut out = HashSet::new();
    let mut pid = me;
    while out.len() < 4096 {
        let status = fs::read_to_string(proc_root.join(pid.to_string()).join("status"))
            .unwrap_or_default();
        let ppid = status
            .lines()
            .find_map(|l| l.strip_prefix("PPid:"))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(0);
        if ppid == 0 || !out.insert(ppid) {
            break;
        }
        pid = ppid;
    }
    out
}

const DIR: OFlag = OFlag::O_RDONLY
    .union(OFlag::O_DIRECTORY)
    .union(OFlag::O_CLOEXEC);

/// One process: its fd table, and its description if it holds a wanted inode.
fn scan_process(
    proc_fd: &OwnedFd,
    name: &std::ffi::OsStr,
    pid: u64,
    wanted: &HashSet<(u64, u64)>,
    containers: &[(String, String)],
    s: &mut Search,
) -> Result<(), Errno> {
    let pid_dir = openat(proc_fd, name, DIR | OFlag::O_NOFOLLOW, Mode::empty())?;
    let fd_dir = openat(&pid_dir, "fd", DIR | OFlag::O_NOFOLLOW, Mode::empty())?;
    let mut list = Dir::from_fd(fd_dir.try_clone().map_err(|_| Errno::EMFILE)?)?;
    let mut holder: Option<Holder> = None;
    for entry in list.iter() {
        // A listing or link that cannot be read makes this process unreadable (the search
        // incomplete); only an fd closed meanwhile (ENOENT) is passed over.
        let entry = entry?;
        let fd_name = entry.file_name();
        if fd_name.to_bytes().first() == Some(&b'.') {
            continue;
        }
        s.fds += 1;
        let text = match readlinkat(&fd_dir, fd_name) {
            Ok(t) => t,
            Err(Errno::ENOENT) => continue,
            Err(e) => return Err(e),
        };
        if !names_a_lock(text.as_bytes()) {
            continue;
        }
        // Follows the magic link to the open file itself, whatever its path is now.
        let st = match fstatat(&fd_dir, fd_name, AtFlags::empty()) {
            Ok(st) => st,
            Err(Errno::ENOENT) => continue,
            Err(e) => return Err(e),
        };
        let id = (st.st_dev, st.st_ino);
        if !wanted.contains(&id) {
            continue;
        }
        let h = holder.get_or_insert_with(|| describe(&pid_dir, pid, containers));
        let v = s.by_id.entry(id).or_default();
        if !v.iter().any(|x| x.host_pid == pid) {
            v.push(h.clone());
        }
    }
    Ok(())
}

fn read_at(dir: &OwnedFd, name: &str) -> String {
    openat(dir, name, OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty())
        .ok()
        .and_then(|fd| {
            let mut out = String::new();
            std::fs::File::from(fd)
                .take(64 * 1024)
                .read_to_string(&mut out)
                .ok()?;
            Some(out)
        })
        .unwrap_or_default()
}

/// Names a holder: its `status` (Name, NSpid) and, in a container, which one (cgroup).
fn describe(pid_dir: &OwnedFd, pid: u64, containers: &[(String, String)]) -> Holder {
    let st = crate::proc::parse_status(&read_at(pid_dir, "status"));
    let cgroup = read_at(pid_dir, "cgroup");
    Holder {
        host_pid: pid,
        ns_pid: st.nspid.last().copied().unwrap_or(pid),
        comm: st.name.unwrap_or_else(|| "?".into()),
        container: container_of(&cgroup, st.nspid.len() > 1, containers),
    }
}

/// The container a cgroup text names: a 64-hex-digit id in it, shown by name when known.
pub fn container_of(cgroup: &str, nested_ns: bool, containers: &[(String, String)]) -> Option<String> {
    let id = cgroup
        .split(|c: char| !c.is_ascii_hexdigit())
        .find(|w| w.len() == 64)?;
    if let Some((_, name)) = containers.iter().find(|(cid, _)| cid.starts_with(id) || (cid.len() >= 12 && id.starts_with(cid.as_str()))) {
        return Some(name.clone());
    }
    // A 64-hex id in a process's cgroup that is in its own PID namespace: a container.
    nested_ns.then(|| id[..12].to_owned())
}

/// Filesystems where another machine may hold the file open (network and FUSE filesystems):
/// this host's `/proc` cannot see every holder there.
pub fn remote_fs(dir: &Path) -> Option<String> {
    let st = match nix::sys::statfs::statfs(dir) {
        Ok(s) => s,
        Err(e) => return Some(format!("cannot tell the filesystem of {}: {e}", dir.display())),
    };
    let magic = st.filesystem_type().0 as u64;
    let name = match magic {
        0x6969 => "NFS",
        0x517B => "SMB",
        0xFE53_4D42 => "SMB2",
        0xFF53_4D42 => "CIFS",
        0x6573_5546 => "FUSE",
        0x0102_1997 => "9p",
        0x00C3_6400 => "Ceph",
        0x5346_414F => "AFS",
        0x7375_7245 => "Coda",
        0x7461_636F => "OCFS2",
        0x0116_1970 => "GFS2",
        0x0BD0_0BD0 => "Lustre",
        0x0102_1994 => return None, // tmpfs
        _ => return None,
    };
    Some(format!(
        "{} is on {name}, where another machine may hold it open",
        dir.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_texts() {
        assert!(names_a_lock(b"/a/b/x.jsonl.lock"));
        assert!(names_a_lock(b"/a/b/x.jsonl.lock (deleted)"));
        assert!(!names_a_lock(b"socket:[1234]"));
        assert!(!names_a_lock(b"/a/x.jsonl"));
    }

    #[test]
    fn cgroup_names_a_container() {
        let id = "eb5bdeee4509".to_owned() + &"a".repeat(52);
        let cg = format!("0::/system.slice/docker-{id}.scope\n");
        assert_eq!(
            container_of(&cg, true, &[(id.clone(), "zaki-user-1".into())]).as_deref(),
            Some("zaki-user-1")
        );
        assert_eq!(container_of(&cg, true, &[]).as_deref(), Some("eb5bdeee4509"));
        assert_eq!(container_of(&cg, false, &[]), None);
        assert_eq!(container_of("0::/user.slice\n", true, &[]), None);
    }

    #[test]
    fn visibility_of_a_file() {
        assert!(file_visibility(None, 1, None).is_complete());
        assert!(!file_visibility(None, 2, None).is_complete());
        assert!(!file_visibility(Some("not root"), 1, None).is_complete());
        assert!(!file_visibility(None, 1, Some("NFS")).is_complete());
    }

    #[test]
    fn finds_this_process_child_holding_a_file() {
        use std::os::unix::fs::MetadataExt;
        let dir = std::env::temp_dir().join(format!("zaki-holders-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let lock = dir.join("x.jsonl.lock");
        fs::write(&lock, "{}").unwrap();
        let meta = fs::metadata(&lock).unwrap();
        let id = (meta.dev(), meta.ino());
        let mut child = std::process::Command::new("sh")
            .arg("-c")
            .arg("exec sleep 60 3<\"$0\"")
            .arg(&lock)
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(200));
        let s = search(Path::new("/proc"), &HashSet::from([id]), &[]);
        let _ = child.kill();
        let _ = child.wait();
        let holders = s.by_id.get(&id).cloned().unwrap_or_default();
        assert_eq!(holders.len(), 1, "{s:?}");
        assert_eq!(holders[0].host_pid, child.id() as u64);
        assert_eq!(holders[0].comm, "sleep");
        assert!(s.processes > 1 && s.fds > 0);
        let after = search(Path::new("/proc"), &HashSet::from([id]), &[]);
        assert!(after.by_id.is_empty());
        fs::remove_dir_all(&dir).unwrap();
    }
}
