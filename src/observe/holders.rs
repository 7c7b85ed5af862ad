//! Who holds a lock open: the one fact that settles whether a lock is live.
//!
//! OpenClaw keeps its lock file open for the whole hold (`fs.open(path, "wx")`, closed right
//! before the file is deleted), so a lock some process has open is held, in any PID namespace.
//!
//! Whether anyone has it open is asked of the kernel, per lock, with a write lease
//! (`F_SETLEASE F_WRLCK`): the kernel grants one only when no other open file refers to the
//! inode (hard links, other namespaces, unreadable processes and threads with their own fd
//! table included), and it is given back at once. That costs a few syscalls per lock, whatever
//! the number of processes. Who holds it is then looked up for the report: first the process
//! the payload names (the gateway itself, as measured), and only if that is not it, every
//! process's `/proc/<pid>/fd`, reading each link and `stat`ing only the `.lock` ones.
//!
//! Both run after every lock was read (the snapshot gives device and inode; a lock taken later
//! is a new inode, as OpenClaw creates with `O_EXCL`).

use std::collections::{HashMap, HashSet};
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::dir::Dir;
use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag, open, readlinkat};
use nix::sys::stat::{Mode, fstatat};

use crate::model::holder::{Access, Holder};
use crate::sys::proc::Process;

/// What one search of a `/proc` found.
#[derive(Debug, Default)]
pub struct Search {
    /// Holders by the (device, inode) they have open.
    pub by_id: HashMap<(u64, u64), Vec<Holder>>,
    /// Set when some process's fds could not be listed: the search is not complete.
    pub incomplete: Option<String>,
}

/// Looks for holders of every one of `wanted` among the open files of host process `pid` only
/// (the owner their payloads name): the cheap way to name the holder in the usual case. One
/// listing of its fd table serves all its locks, so a process holding n locks costs n, not n²
/// (issue 21). `None` when its fd table could not be read completely: then none of them is named
/// here, exactly as when each was looked up alone.
pub fn holders_in(
    proc_root: &Path,
    pid: u64,
    wanted: &HashSet<(u64, u64)>,
    containers: &[(String, String)],
) -> Option<HashMap<(u64, u64), Holder>> {
    let process = Process::open(proc_root, pid).ok()?;
    let mut s = Search::default();
    scan_process(&process, pid, wanted, containers, &mut s).ok()?;
    // One process is at most one holder per inode (its fds are merged by pid).
    Some(
        s.by_id
            .into_iter()
            .filter_map(|(id, v)| Some((id, v.into_iter().next()?)))
            .collect(),
    )
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
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u64>().ok()) else {
            continue;
        };
        if pid == me {
            continue;
        }
        let scanned = Process::open_at(&proc_fd, pid)
            .and_then(|p| scan_process(&p, pid, wanted, containers, &mut s));
        match scanned.map_err(|e| e.raw_os_error()) {
            Ok(()) => {}
            // Exited meanwhile: it holds nothing any more.
            Err(Some(nix::libc::ENOENT | nix::libc::ESRCH)) => {}
            // What started this run (service manager, cron, shell) is not a session's writer;
            // a sandbox's init may refuse even root. Any other unreadable process counts.
            Err(_) if ancestors.contains(&pid) => {}
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
        let status = Process::open(proc_root, pid)
            .and_then(|p| p.status())
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
    process: &Process,
    pid: u64,
    wanted: &HashSet<(u64, u64)>,
    containers: &[(String, String)],
    s: &mut Search,
) -> std::io::Result<()> {
    let fd_dir = process.dir("fd")?;
    let mut list = Dir::from_fd(fd_dir.try_clone()?)?;
    let mut holder: Option<Holder> = None;
    for entry in list.iter() {
        // A listing or link that cannot be read makes this process unreadable (the search
        // incomplete); only an fd closed meanwhile (ENOENT) is passed over.
        let entry = entry?;
        let fd_name = entry.file_name();
        if fd_name.to_bytes().first() == Some(&b'.') {
            continue;
        }
        let text = match readlinkat(&fd_dir, fd_name) {
            Ok(t) => t,
            Err(Errno::ENOENT) => continue,
            Err(e) => return Err(e.into()),
        };
        if !names_a_lock(text.as_bytes()) {
            continue;
        }
        // Follows the magic link to the open file itself, whatever its path is now.
        let st = match fstatat(&fd_dir, fd_name, AtFlags::empty()) {
            Ok(st) => st,
            Err(Errno::ENOENT) => continue,
            Err(e) => return Err(e.into()),
        };
        let id = (st.st_dev, st.st_ino);
        if !wanted.contains(&id) {
            continue;
        }
        let h = holder.get_or_insert_with(|| describe(process, pid, containers));
        let access = fd_access(&fd_dir, fd_name);
        let v = s.by_id.entry(id).or_default();
        match v.iter_mut().find(|x| x.host_pid == pid) {
            Some(x) => x.access = x.access.max(access),
            None => v.push(Holder {
                access,
                ..h.clone()
            }),
        }
    }
    Ok(())
}

/// How the process has fd `fd_name` open, from the mode of its link in `fd/` (unreadable:
/// unknown, which counts as a writer).
fn fd_access(fd_dir: &std::os::fd::OwnedFd, fd_name: &std::ffi::CStr) -> Access {
    fstatat(fd_dir, fd_name, AtFlags::AT_SYMLINK_NOFOLLOW)
        .map_or(Access::Unknown, |st| Access::of_fd_link_mode(st.st_mode))
}

/// Names a holder: its `status` (Name, NSpid) and, in a container, which one (cgroup).
fn describe(process: &Process, pid: u64, containers: &[(String, String)]) -> Holder {
    let st = crate::sys::proc::parse_status(&process.status().unwrap_or_default());
    let cgroup = process.cgroup().unwrap_or_default();
    Holder {
        host_pid: pid,
        ns_pid: st.nspid.last().copied().unwrap_or(pid),
        comm: match st.name {
            Some(n) => process
                .cmdline()
                .ok()
                .and_then(|c| crate::model::process::full_name(&n, &c))
                .unwrap_or(n),
            None => "?".into(),
        },
        container: container_of(&cgroup, st.nspid.len() > 1, containers),
        access: Access::Unknown,
    }
}

/// The container a cgroup text names: a 64-hex-digit id in it, shown by name when known.
pub fn container_of(
    cgroup: &str,
    nested_ns: bool,
    containers: &[(String, String)],
) -> Option<String> {
    let id = cgroup
        .split(|c: char| !c.is_ascii_hexdigit())
        .find(|w| w.len() == 64)?;
    if let Some((_, name)) = containers
        .iter()
        .find(|(cid, _)| cid.starts_with(id) || (cid.len() >= 12 && id.starts_with(cid.as_str())))
    {
        return Some(name.clone());
    }
    // A 64-hex id in a process's cgroup that is in its own PID namespace: a container.
    nested_ns.then(|| id[..12].to_owned())
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
        assert_eq!(
            container_of(&cg, true, &[]).as_deref(),
            Some("eb5bdeee4509")
        );
        assert_eq!(container_of(&cg, false, &[]), None);
        assert_eq!(container_of("0::/user.slice\n", true, &[]), None);
    }

    #[test]
    fn finds_this_process_child_holding_a_file() {
        use crate::model::holder::Lease;
        use crate::sys::lease::lease;
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
        let sessions = fs::File::open(&dir).unwrap();
        let by_lease = lease(&sessions, "x.jsonl.lock".as_ref(), id);
        let named = holders_in(
            Path::new("/proc"),
            child.id() as u64,
            &HashSet::from([id]),
            &[],
        )
        .and_then(|mut m| m.remove(&id));
        let _ = child.kill();
        let _ = child.wait();
        let holders = s.by_id.get(&id).cloned().unwrap_or_default();
        assert_eq!(holders.len(), 1, "{s:?}");
        assert_eq!(holders[0].host_pid, child.id() as u64);
        assert_eq!(holders[0].comm, "sleep");
        assert_eq!(by_lease, Lease::Held);
        assert_eq!(named.map(|h| h.host_pid), Some(child.id() as u64));
        let after = search(Path::new("/proc"), &HashSet::from([id]), &[]);
        assert!(after.by_id.is_empty());
        assert_eq!(lease(&sessions, "x.jsonl.lock".as_ref(), id), Lease::Free);
        fs::remove_dir_all(&dir).unwrap();
    }
}
