//! Which OpenClaw a place runs, and what that changes about its lock files.
//!
//! The version comes from the SQLite era's own databases (`schema_meta.app_version`, see
//! `claims`) or, where it is cheap, from the installed `openclaw` package read through the
//! container's root (`/proc/<init>/root`, every component opened without following a symlink,
//! a regular file only, at most 256 KiB). Two rules depend on it (both pure, in [`judge`]):
//!
//! - **`non-openclaw-owner`** (OpenClaw 2026.5.12+): a lock whose live owner's command line is
//!   not an OpenClaw process is no valid owner; that OpenClaw reclaims it itself, so it is stale
//!   here too. Applied only when the gateway is known to be 2026.5.12 or later: an older one
//!   (and an unknown one) waits on such an owner, and so does this tool.
//! - **legacy lock under a newer gateway**: a lock without `starttime` (written by 2026.2 or
//!   older) whose pid exists, in a place whose gateway is 2026.3 or later, was left by the old
//!   gateway before an upgrade; the new one takes the pid for its owner and never removes it.

use std::io::Read;
use std::os::fd::OwnedFd;
use std::path::Path;

use nix::fcntl::{OFlag, openat};
use nix::sys::stat::Mode;

use crate::policy::OwnerState;
use crate::proc::{Process, parse_stat};

/// A release, as `(year, month, patch)`: `2026.7.35` → `(2026, 7, 35)`.
pub type Release = (u32, u32, u32);

/// Parses `2026.7.35` (anything after a `-` or `+` ignored); `None` for anything else.
pub fn parse_version(v: &str) -> Option<Release> {
    let core = v.trim().split(['-', '+']).next()?;
    let mut it = core.split('.').map(|p| p.parse::<u32>().ok());
    let r = (it.next()??, it.next()??, it.next().flatten().unwrap_or(0));
    it.next().is_none().then_some(r)
}

/// The first release whose lock check rejects owners that are not OpenClaw processes.
pub const NON_OPENCLAW_OWNER_SINCE: Release = (2026, 5, 12);
/// The first release that writes (and compares) `starttime`.
pub const STARTTIME_SINCE: Release = (2026, 3, 2);

/// Everything [`judge`] looks at for one lock.
#[derive(Debug, Clone, Copy)]
pub struct VersionFacts<'a> {
    /// The place's gateway release, when known.
    pub version: Option<Release>,
    pub version_text: Option<&'a str>,
    pub owner_state: OwnerState,
    /// The payload has a `starttime`.
    pub has_starttime: bool,
    /// Whether the live owner's command line names OpenClaw (`None`: not read).
    pub owner_is_openclaw: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct VersionVerdict {
    /// OpenClaw 2026.5.12+'s `non-openclaw-owner`: stale.
    pub non_openclaw_owner: bool,
    pub note: Option<String>,
}

/// The version-dependent rules. Pure.
pub fn judge(f: VersionFacts<'_>) -> VersionVerdict {
    let Some(v) = f.version else {
        return VersionVerdict::default();
    };
    let name = f.version_text.unwrap_or("this gateway");
    let mut out = VersionVerdict::default();
    if f.owner_state == OwnerState::Alive
        && f.owner_is_openclaw == Some(false)
        && v >= NON_OPENCLAW_OWNER_SINCE
    {
        out.non_openclaw_owner = true;
        out.note = Some(format!(
            "the owner is not an OpenClaw process: OpenClaw {name} reclaims such a lock itself"
        ));
    }
    let pid_exists = matches!(
        f.owner_state,
        OwnerState::Alive | OwnerState::Thread | OwnerState::Recycled
    );
    if !f.has_starttime && pid_exists && v >= STARTTIME_SINCE {
        let legacy = format!(
            "left by an older OpenClaw (no starttime); OpenClaw {name} takes its pid for the owner and will never remove it"
        );
        out.note = Some(match out.note {
            Some(n) => format!("{legacy}; {n}"),
            None => legacy,
        });
    }
    out
}

/// Whether a `/proc/<pid>/cmdline` is an OpenClaw process: some argument's last path
/// component names it (`openclaw`, `openclaw-gateway`, `…/openclaw/openclaw.mjs`, or a path
/// inside an `openclaw` package). `None` when empty (a kernel thread, an exited process).
pub fn cmdline_is_openclaw(cmdline: &[u8]) -> Option<bool> {
    let args: Vec<&[u8]> = cmdline
        .split(|&b| b == 0)
        .filter(|a| !a.is_empty())
        .collect();
    if args.is_empty() {
        return None;
    }
    Some(args.iter().any(|a| {
        let lower = a.to_ascii_lowercase();
        lower.windows(8).any(|w| w == b"openclaw")
    }))
}

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

    fn facts(
        version: Option<&str>,
        owner: OwnerState,
        starttime: bool,
        oc: Option<bool>,
    ) -> VersionVerdict {
        judge(VersionFacts {
            version: version.and_then(parse_version),
            version_text: version,
            owner_state: owner,
            has_starttime: starttime,
            owner_is_openclaw: oc,
        })
    }

    #[test]
    fn versions() {
        assert_eq!(parse_version("2026.7.35"), Some((2026, 7, 35)));
        assert_eq!(parse_version("2026.9.6-beta.1"), Some((2026, 9, 6)));
        assert_eq!(parse_version("2026.2"), Some((2026, 2, 0)));
        assert_eq!(parse_version("x.1.2"), None);
        assert_eq!(parse_version("1.2.3.4"), None);
        assert!(parse_version("2026.5.28").unwrap() >= NON_OPENCLAW_OWNER_SINCE);
        assert!(parse_version("2026.5.2").unwrap() < NON_OPENCLAW_OWNER_SINCE);
    }

    #[test]
    fn non_openclaw_owner_only_where_openclaw_says_so() {
        let v = facts(Some("2026.7.35"), OwnerState::Alive, true, Some(false));
        assert!(v.non_openclaw_owner);
        assert!(v.note.unwrap().contains("not an OpenClaw process"));
        // An OpenClaw owner, an older or unknown gateway, an unread command line: kept.
        assert!(!facts(Some("2026.7.35"), OwnerState::Alive, true, Some(true)).non_openclaw_owner);
        assert!(!facts(Some("2026.5.2"), OwnerState::Alive, true, Some(false)).non_openclaw_owner);
        assert!(!facts(None, OwnerState::Alive, true, Some(false)).non_openclaw_owner);
        assert!(!facts(Some("2026.7.35"), OwnerState::Alive, true, None).non_openclaw_owner);
        // A dead owner is stale anyway; the rule does not add to it.
        assert!(!facts(Some("2026.7.35"), OwnerState::Dead, true, Some(false)).non_openclaw_owner);
    }

    #[test]
    fn legacy_lock_under_a_newer_gateway() {
        let v = facts(Some("2026.7.35"), OwnerState::Thread, false, None);
        assert!(v.note.unwrap().contains("left by an older OpenClaw"));
        assert!(
            facts(Some("2026.2.26"), OwnerState::Thread, false, None)
                .note
                .is_none()
        );
        assert!(
            facts(Some("2026.7.35"), OwnerState::Thread, true, None)
                .note
                .is_none()
        );
        assert!(
            facts(Some("2026.7.35"), OwnerState::Dead, false, None)
                .note
                .is_none()
        );
        assert!(facts(None, OwnerState::Alive, false, None).note.is_none());
    }

    #[test]
    fn cmdlines() {
        assert_eq!(cmdline_is_openclaw(b"openclaw-gateway\0"), Some(true));
        assert_eq!(
            cmdline_is_openclaw(
                b"/opt/node/bin/node\0/opt/openclaw/node_modules/openclaw/openclaw.mjs\0gateway\0"
            ),
            Some(true)
        );
        assert_eq!(cmdline_is_openclaw(b"sleep\x00600\x00"), Some(false));
        assert_eq!(cmdline_is_openclaw(b""), None);
        assert_eq!(cmdline_is_openclaw(b"\0\0"), None);
    }

    #[test]
    fn cmdline_of_the_observed_process_only() {
        let (mut child, pid, p) = crate::proc::sleeping_child();
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
