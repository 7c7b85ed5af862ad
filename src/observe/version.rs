//! Which OpenClaw a place runs, read where it is cheap: the installed `openclaw` package through
//! the container's root (`/proc/<init>/root`, every component opened without following a
//! symlink, a regular file only, at most 256 KiB), and the command line of a lock's owner. What
//! a release changes about its locks is `judge::version`'s.

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::os::fd::OwnedFd;
use std::path::Path;
use std::sync::Arc;

use nix::fcntl::{OFlag, openat};
use nix::sys::stat::Mode;

use crate::model::observed::{Observed, Site};
use crate::model::process::Owner;
use crate::model::release::parse_version;
use crate::sys::proc::{Process, parse_stat};

/// Reads at most 4 KiB of the command line of host process `pid`, through the same opened
/// `/proc/<pid>` as its `stat`, and only if that is still the process observed with `starttime`
/// (`None`: not known, read anyway): a pid recycled since the observation is not read.
pub fn read_cmdline(pid: u64, starttime: Option<u64>) -> Option<Vec<u8>> {
    let p = Process::open(Path::new("/proc"), pid).ok()?;
    if starttime.is_some() && parse_stat(&p.stat().ok()?).1 != starttime {
        return None;
    }
    p.cmdline().ok()
}

/// A command line as read (`None`: not readable, or another process now).
type Cmdline = Option<Arc<[u8]>>;

/// Reads the command line of each host lock's observed owner, in the places `known` (by state
/// dir: those whose release is known), once per process.
pub fn owner_cmdlines(observed: &mut [Observed], known: &HashSet<&Path>) {
    // By (host pid, starttime): one read per process, whatever the number of its locks.
    let mut read: HashMap<(u64, Option<u64>), Cmdline> = HashMap::new();
    for o in observed.iter_mut() {
        let (Site::Host { state_dir, .. }, Owner::Found(f)) = (&o.site, &o.owner) else {
            continue;
        };
        let Some(&host_pid) = f.nspid.first() else {
            continue;
        };
        if !known.contains(state_dir.as_path()) {
            continue;
        }
        o.owner_cmdline = read
            .entry((host_pid, f.starttime))
            .or_insert_with(|| read_cmdline(host_pid, f.starttime).map(Arc::from))
            .clone();
    }
}

/// Names each host lock's owner in full where the kernel cut its name at 15 bytes
/// (`openclaw-gatewa`): from its command line, read once per process (the one already read
/// for the version rules when there is one).
pub fn full_owner_names(observed: &mut [Observed]) {
    let mut read: HashMap<(u64, Option<u64>), Option<String>> = HashMap::new();
    for o in observed.iter_mut() {
        let (Site::Host { .. }, Owner::Found(f)) = (&o.site, &mut o.owner) else {
            continue;
        };
        let (Some(name), Some(&host_pid)) = (&f.name, f.nspid.first()) else {
            continue;
        };
        if name.len() < crate::model::process::COMM_MAX {
            continue;
        }
        let known = o.owner_cmdline.clone();
        let full = read
            .entry((host_pid, f.starttime))
            .or_insert_with(|| {
                let cmdline = known
                    .map(|c| c.to_vec())
                    .or_else(|| read_cmdline(host_pid, f.starttime));
                crate::model::process::full_name(name, &cmdline?)
            })
            .clone();
        if full.is_some() {
            f.name = full;
        }
    }
}

/// Where the `openclaw` package sits in the usual images: the official image's app dir, a
/// global npm install, and the test suite's read-only mount.
const PACKAGE_PATHS: [&str; 4] = [
    "app/package.json",
    "usr/local/lib/node_modules/openclaw/package.json",
    "usr/lib/node_modules/openclaw/package.json",
    "opt/openclaw/node_modules/openclaw/package.json",
];

/// Largest `package.json` read.
const MAX_PACKAGE_BYTES: u64 = 256 * 1024;

/// The installed OpenClaw's version in the container whose init is host pid `init`: its
/// working directory's `package.json` first, then the usual install paths, each reached from
/// the container's root one component at a time without following a symlink.
pub fn container_version(init: u64) -> Option<String> {
    let init = Process::open(Path::new("/proc"), init).ok()?;
    if let Ok(cwd) = init.cwd()
        && let Some(v) = package_version(&cwd, "package.json")
    {
        return Some(v);
    }
    let root = init.root().ok()?;
    PACKAGE_PATHS.iter().find_map(|p| package_version(&root, p))
}

fn package_version(from: &OwnedFd, rel: &str) -> Option<String> {
    let nofollow = OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let mut comps: Vec<&str> = Path::new(rel)
        .components()
        .filter_map(|c| c.as_os_str().to_str())
        .collect();
    let file = comps.pop()?;
    let mut fd: Option<OwnedFd> = None;
    for c in comps {
        let at = fd.as_ref().unwrap_or(from);
        fd = Some(
            openat(
                at,
                c,
                OFlag::O_RDONLY | OFlag::O_DIRECTORY | nofollow,
                Mode::empty(),
            )
            .ok()?,
        );
    }
    let at = fd.as_ref().unwrap_or(from);
    let f = openat(
        at,
        file,
        OFlag::O_RDONLY | OFlag::O_NONBLOCK | nofollow,
        Mode::empty(),
    )
    .ok()?;
    let f = std::fs::File::from(f);
    let meta = f.metadata().ok()?;
    if !meta.is_file() || meta.len() > MAX_PACKAGE_BYTES {
        return None;
    }
    let mut bytes = Vec::new();
    f.take(MAX_PACKAGE_BYTES).read_to_end(&mut bytes).ok()?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    if v["name"] != "openclaw" {
        return None;
    }
    let version = v["version"].as_str()?;
    parse_version(version)?;
    Some(version.chars().take(40).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cmdline_of_the_observed_process_only() {
        let (mut child, pid, p) = crate::sys::proc::sleeping_child();
        let start = parse_stat(&p.stat().unwrap()).1;
        let read = read_cmdline(pid, start);
        let unknown_start = read_cmdline(pid, None);
        let other_start = read_cmdline(pid, start.map(|s| s + 1));
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(read.as_deref(), Some(&b"sleep\x0060\x00"[..]));
        assert_eq!(unknown_start, read);
        assert_eq!(other_start, None, "another process than the one observed");
        assert_eq!(read_cmdline(pid, start), None, "gone");
    }

    #[test]
    fn own_container_root_is_read_safely() {
        // This process has no openclaw package: nothing is found, nothing panics.
        assert_eq!(container_version(std::process::id() as u64), None);
        assert_eq!(container_version(u64::MAX), None);
    }
}
