//! What a place's OpenClaw release changes about its lock files, pure. Two rules depend on it:
//!
//! - **`non-openclaw-owner`** (OpenClaw 2026.5.12+): a lock whose live owner's command line is
//!   not an OpenClaw process is no valid owner; that OpenClaw reclaims it itself, so it is stale
//!   here too. Applied only when the gateway is known to be 2026.5.12 or later: an older one
//!   (and an unknown one) waits on such an owner, and so does this tool.
//! - **legacy lock under a newer gateway**: a lock without `starttime` (written by 2026.2 or
//!   older) whose pid exists, in a place whose gateway is 2026.3 or later, was left by the old
//!   gateway before an upgrade; the new one takes the pid for its owner and never removes it.

use crate::model::release::Release;

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
    /// The payload's pid is a live process, its owner.
    pub owner_alive: bool,
    /// Some process or thread has the payload's pid (alive, a thread, or recycled).
    pub pid_exists: bool,
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
    if f.owner_alive && f.owner_is_openclaw == Some(false) && v >= NON_OPENCLAW_OWNER_SINCE {
        out.non_openclaw_owner = true;
        out.note = Some(format!(
            "the owner is not an OpenClaw process: OpenClaw {name} reclaims such a lock itself"
        ));
    }
    if !f.has_starttime && f.pid_exists && v >= STARTTIME_SINCE {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::judge::lock::OwnerState;
    use crate::model::release::parse_version;

    fn facts(
        version: Option<&str>,
        owner: OwnerState,
        starttime: bool,
        oc: Option<bool>,
    ) -> VersionVerdict {
        judge(VersionFacts {
            version: version.and_then(parse_version),
            version_text: version,
            owner_alive: owner == OwnerState::Alive,
            pid_exists: matches!(
                owner,
                OwnerState::Alive | OwnerState::Thread | OwnerState::Recycled
            ),
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
}
