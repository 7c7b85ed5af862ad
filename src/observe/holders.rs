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
/// (issue 21); and a pass in batches of places lists it once a run, not once a batch: `known`
/// remembers which of its fds had which lock open, and a later batch only checks those fds
/// (each one `fstatat`), listing the table again when one moved on or a lock is not among them.
/// `None` when its fd table could not be read completely: then none of them is named here,
/// exactly as when each was looked up alone.
pub fn holders_in(
    proc_root: &Path,
    pid: u64,
    wanted: &HashSet<(u64, u64)>,
    containers: &[(String, String)],
    known: &mut FdTables,
) -> Option<HashMap<(u64, u64), Holder>> {
    let process = Process::open(proc_root, pid).ok()?;
    if let Some(fds) = known.by_pid.get(&pid)
        && let Some(named) = confirm(&process, pid, wanted, fds, containers)
    {
        return Some(named);
    }
    let mut s = Search::default();
    let mut fds = HashMap::new();
    scan_process(&process, pid, wanted, containers, &mut s, Some(&mut fds)).ok()?;
    match fds.values().map(Vec::len).sum::<usize>() {
        n if n <= MAX_KNOWN_FDS => known.by_pid.insert(pid, fds),
        _ => known.by_pid.remove(&pid),
    };
    // One process is at most one holder per inode (its fds are merged by pid).
    Some(
        s.by_id
            .into_iter()
            .filter_map(|(id, v)| Some((id, v.into_iter().next()?)))
            .collect(),
    )
}

/// Most lock fds remembered of one process, or of a search of every process: more than that is
/// listed again by each batch that needs it rather than kept (64,000 fds: a few MB).
const MAX_KNOWN_FDS: usize = 64 * 1024;

/// What a run learnt of who has which lock open ([`holders_in`], [`search_known`]): each
/// owner's lock-named fds, by the inode each had open when its table was listed; and every
/// process's, as (pid, fd), from the run's search of `/proc`, with whether it was incomplete.
#[derive(Debug, Default)]
pub struct FdTables {
    by_pid: HashMap<u64, HashMap<(u64, u64), Vec<u32>>>,
    everyone: Option<Everyone>,
}

/// Every process's lock-named fds by inode, and why that search was incomplete.
type Everyone = (FdIndex, Option<String>);

/// Lock-named fds, as (pid, fd), by the inode each has open.
type FdIndex = HashMap<(u64, u64), Vec<(u64, u32)>>;

/// The holder of each of `wanted` in process `pid`, from the fds `fds` says had it open, each
/// checked to have it open still; `None` when a lock is not among them or one of its fds moved
/// on (its table is then listed again).
fn confirm(
    process: &Process,
    pid: u64,
    wanted: &HashSet<(u64, u64)>,
    fds: &HashMap<(u64, u64), Vec<u32>>,
    containers: &[(String, String)],
) -> Option<HashMap<(u64, u64), Holder>> {
    let fd_dir = process.dir("fd").ok()?;
    let mut access = HashMap::with_capacity(wanted.len());
    for id in wanted {
        let mut most: Option<Access> = None;
        for fd in fds.get(id)? {
            let name = std::ffi::CString::new(fd.to_string()).ok()?;
            let st = fstatat(&fd_dir, name.as_c_str(), AtFlags::empty()).ok()?;
            if (st.st_dev, st.st_ino) != *id {
                return None;
            }
            let a = fd_access(&fd_dir, &name);
            most = Some(most.map_or(a, |m| m.max(a)));
        }
        access.insert(*id, most?);
    }
    let h = describe(process, pid, containers);
    Some(
        access
            .into_iter()
            .map(|(id, access)| {
                (
                    id,
                    Holder {
                        access,
                        ..h.clone()
                    },
                )
            })
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
#[cfg(test)]
pub fn search(
    proc_root: &Path,
    wanted: &HashSet<(u64, u64)>,
    containers: &[(String, String)],
) -> Search {
    search_recording(proc_root, wanted, containers, None)
}

/// [`search`], once a run: the first one notes every lock-named fd of every process (`known`),
/// and a later one (the next batch of places) only checks the fds noted for its locks (each
/// one `fstatat`), searching again when a lock is not among them or one of its fds moved on.
/// Holders only ever keep a lock and name who to restart: a process that opened a lock since
/// it was noted may go unnamed (the lease already said the lock is held).
pub fn search_known(
    proc_root: &Path,
    wanted: &HashSet<(u64, u64)>,
    containers: &[(String, String)],
    known: &mut FdTables,
) -> Search {
    if let Some((index, incomplete)) = &known.everyone
        && let Some(mut s) = confirm_everyone(proc_root, wanted, index, containers)
    {
        s.incomplete = incomplete.clone();
        return s;
    }
    let mut index = HashMap::new();
    let s = search_recording(proc_root, wanted, containers, Some(&mut index));
    let n: usize = index.values().map(Vec::len).sum();
    known.everyone = (n <= MAX_KNOWN_FDS).then(|| (index, s.incomplete.clone()));
    s
}

/// Each process's fds that [`search_known`] noted as having one of `wanted` open, checked to
/// have it open still; `None` when a lock is not among them or one moved on.
fn confirm_everyone(
    proc_root: &Path,
    wanted: &HashSet<(u64, u64)>,
    index: &FdIndex,
    containers: &[(String, String)],
) -> Option<Search> {
    let proc_fd = open(proc_root, DIR, Mode::empty()).ok()?;
    let mut s = Search::default();
    // Each process opened once, and described once.
    let mut procs: HashMap<u64, (Process, std::os::fd::OwnedFd, Holder)> = HashMap::new();
    for id in wanted {
        for &(pid, fd) in index.get(id)? {
            let (_, fd_dir, h) = match procs.entry(pid) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => {
                    let p = Process::open_at(&proc_fd, pid).ok()?;
                    let fd_dir = p.dir("fd").ok()?;
                    let h = describe(&p, pid, containers);
                    e.insert((p, fd_dir, h))
                }
            };
            let name = std::ffi::CString::new(fd.to_string()).ok()?;
            let st = fstatat(&*fd_dir, name.as_c_str(), AtFlags::empty()).ok()?;
            if (st.st_dev, st.st_ino) != *id {
                return None;
            }
            let access = fd_access(fd_dir, &name);
            let v = s.by_id.entry(*id).or_default();
            match v.iter_mut().find(|x| x.host_pid == pid) {
                Some(x) => x.access = x.access.max(access),
                None => v.push(Holder {
                    access,
                    ..h.clone()
                }),
            }
        }
    }
    Some(s)
}

/// [`search`], noting in `index` (when given) every lock-named fd of every process, by the
/// inode it has open.
fn search_recording(
    proc_root: &Path,
    wanted: &HashSet<(u64, u64)>,
    containers: &[(String, String)],
    mut index: Option<&mut FdIndex>,
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
        let mut fds = index.is_some().then(HashMap::new);
        let scanned = Process::open_at(&proc_fd, pid)
            .and_then(|p| scan_process(&p, pid, wanted, containers, &mut s, fds.as_mut()));
        match scanned.map_err(|e| e.raw_os_error()) {
            Ok(()) => {
                if let (Some(index), Some(fds)) = (index.as_deref_mut(), fds) {
                    for (id, list) in fds {
                        index
                            .entry(id)
                            .or_default()
                            .extend(list.into_iter().map(|fd| (pid, fd)));
                    }
                }
            }
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

/// One process: its fd table, and its description if it holds a wanted inode. `fds`, when
/// given, gets every lock-named fd by the inode it has open.
fn scan_process(
    process: &Process,
    pid: u64,
    wanted: &HashSet<(u64, u64)>,
    containers: &[(String, String)],
    s: &mut Search,
    mut fds: Option<&mut HashMap<(u64, u64), Vec<u32>>>,
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
        if let (Some(fds), Some(n)) = (fds.as_deref_mut(), fd_number(fd_name)) {
            fds.entry(id).or_default().push(n);
        }
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

/// The number an entry of `/proc/<pid>/fd` names.
fn fd_number(name: &std::ffi::CStr) -> Option<u32> {
    name.to_str().ok()?.parse().ok()
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
        let mut known = FdTables::default();
        let mut named_by_owner = || {
            holders_in(
                Path::new("/proc"),
                child.id() as u64,
                &HashSet::from([id]),
                &[],
                &mut known,
            )
            .and_then(|mut m| m.remove(&id))
        };
        let named = named_by_owner();
        // Named again from what the first listing learnt, the same.
        assert_eq!(named_by_owner(), named);
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

    /// A run's later batches name holders from what its first search noted, and search again
    /// once the noted holder is gone: a new holder of the same lock is named, not the old one.
    #[test]
    fn a_later_search_checks_what_the_first_noted_and_searches_again_when_it_moved_on() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let lock = dir.path().join("x.jsonl.lock");
        fs::write(&lock, "{}").unwrap();
        let meta = fs::metadata(&lock).unwrap();
        let wanted = HashSet::from([(meta.dev(), meta.ino())]);
        let hold = || {
            let child = std::process::Command::new("sh")
                .arg("-c")
                .arg("exec sleep 60 3>>\"$0\"")
                .arg(&lock)
                .spawn()
                .unwrap();
            std::thread::sleep(std::time::Duration::from_millis(200));
            child
        };
        let pids = |s: &Search| -> Vec<u64> {
            let mut v: Vec<u64> = s.by_id.values().flatten().map(|h| h.host_pid).collect();
            v.sort();
            v
        };
        let mut known = FdTables::default();
        let mut first = hold();
        let once = search_known(Path::new("/proc"), &wanted, &[], &mut known);
        assert!(
            known.everyone.is_some(),
            "the first search notes what it saw"
        );
        let again = search_known(Path::new("/proc"), &wanted, &[], &mut known);
        assert_eq!(pids(&once), vec![first.id() as u64]);
        assert_eq!(pids(&again), pids(&once));
        let _ = first.kill();
        let _ = first.wait();
        let mut second = hold();
        let moved = search_known(Path::new("/proc"), &wanted, &[], &mut known);
        let _ = second.kill();
        let _ = second.wait();
        assert_eq!(pids(&moved), vec![second.id() as u64]);
    }
}
