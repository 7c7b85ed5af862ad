//! What `clean` does with each verdict, and what became of each lock. Pure: the judge calls a
//! lock stale or not (`judge::lock`), and only a stale one is removed.

use std::ffi::OsStr;

use crate::judge::lock::Verdict;
use crate::model::lockfile::{Leftover, Outcome};
use crate::model::names::named;

named! {
    /// What was done with a lock.
    pub enum Action {
        /// Left in place (held, or stale but `scan` only looks).
        Kept => "kept",
        Removed => "removed",
        /// `clean --dry-run`: stale, would be removed.
        WouldRemove => "would-remove",
        /// Not judged or not acted on (not a regular file, unreadable, gone, changed, failed).
        Skipped => "skipped",
    }
}

impl Action {
    /// The action as a human log line starts with it (`would remove <path>`).
    pub fn verb(self) -> &'static str {
        match self {
            Action::WouldRemove => "would remove",
            done => done.as_str(),
        }
    }
}

/// What `clean` does with one judged lock.
#[derive(Debug, PartialEq, Eq)]
pub enum Step<'a> {
    Keep,
    /// A stale lock: removed (unless it changed since it was judged).
    Remove,
    /// The leftover of an interrupted removal that is not stale: back under its name.
    PutBack(&'a OsStr),
}

/// The step for one lock from its verdict (`None`: not judged), whether it was read, and the
/// leftover it may be. After SIGINT/SIGTERM (`interrupted`) nothing more is removed nor put
/// back (see `sys::interrupt`).
pub fn step<'a>(
    verdict: Option<&Verdict>,
    read: bool,
    leftover: Option<&'a Leftover>,
    interrupted: bool,
) -> Step<'a> {
    match verdict {
        _ if interrupted || !read => Step::Keep,
        None => Step::Keep,
        Some(v) if v.stale => Step::Remove,
        Some(_) => leftover
            .and_then(|l| l.original.as_deref())
            .map_or(Step::Keep, Step::PutBack),
    }
}

/// What became of one judged lock in a `clean` pass.
#[derive(Debug, PartialEq, Eq)]
pub struct Settled {
    pub action: Action,
    pub note: Option<String>,
    /// A removal (or put-back) that failed: reported as a problem (exit 1).
    pub problem: Option<String>,
}

/// The action, note and problem of a lock from its verdict (`None`: not judged), whether it was
/// read, and what its removal found (`None`: not tried). Pure: the rule `clean` and `watch` share.
pub fn settle(
    verdict: Option<&Verdict>,
    read: bool,
    outcome: Option<Outcome>,
    dry_run: bool,
) -> Settled {
    let done = |action, note: Option<String>| Settled {
        action,
        note,
        problem: None,
    };
    let Some(v) = verdict.filter(|_| read) else {
        return done(Action::Skipped, None);
    };
    match outcome {
        None if !v.stale => done(Action::Kept, None),
        Some(Outcome::Changed(why)) if !v.stale => done(Action::Kept, Some(why)),
        None if dry_run => done(Action::WouldRemove, None),
        None => done(
            Action::Skipped,
            Some("not removed: the run was interrupted".into()),
        ),
        Some(Outcome::Removed) => done(Action::Removed, None),
        Some(Outcome::Changed(why)) => done(Action::Kept, Some(format!("not removed: {why}"))),
        Some(Outcome::Gone) => done(
            Action::Skipped,
            Some("already gone: released or reclaimed by someone else".into()),
        ),
        Some(Outcome::Failed(e)) => {
            let what = if v.stale {
                "cannot remove stale lock"
            } else {
                "cannot put back the leftover of an interrupted removal"
            };
            Settled {
                action: Action::Skipped,
                note: Some(format!("removal failed: {e}")),
                problem: Some(format!("{what}: {e}")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::judge::lock::OwnerState;
    use crate::model::lockfile::Leftover;

    fn verdict(stale: bool) -> Verdict {
        Verdict {
            stale,
            reasons: Vec::new(),
            owner_state: OwnerState::Dead,
            age: None,
            note: None,
            wedged: false,
            fix: None,
            unheld: false,
            look_again: false,
            evidence_missing: None,
        }
    }

    fn action(v: Option<&Verdict>, read: bool, o: Option<Outcome>, dry: bool) -> Action {
        settle(v, read, o, dry).action
    }

    #[test]
    fn what_became_of_a_lock() {
        let (stale, held) = (verdict(true), verdict(false));
        // Not judged or not read: skipped, whatever else.
        assert_eq!(action(None, true, None, false), Action::Skipped);
        assert_eq!(action(Some(&stale), false, None, false), Action::Skipped);
        // Held: kept, also when its put-back found it changed.
        assert_eq!(action(Some(&held), true, None, false), Action::Kept);
        let s = settle(Some(&held), true, Some(Outcome::Changed("x".into())), false);
        assert_eq!((s.action, s.note.as_deref()), (Action::Kept, Some("x")));
        // Stale: would-remove on a dry run, removed, or skipped with why.
        assert_eq!(action(Some(&stale), true, None, true), Action::WouldRemove);
        assert_eq!(
            action(Some(&stale), true, Some(Outcome::Removed), false),
            Action::Removed
        );
        let s = settle(Some(&stale), true, None, false);
        assert_eq!(s.action, Action::Skipped);
        assert!(s.note.unwrap().contains("interrupted"));
        let s = settle(
            Some(&stale),
            true,
            Some(Outcome::Changed("rewritten".into())),
            false,
        );
        assert_eq!(s.action, Action::Kept);
        assert_eq!(s.note.as_deref(), Some("not removed: rewritten"));
        assert_eq!(
            action(Some(&stale), true, Some(Outcome::Gone), false),
            Action::Skipped
        );
    }

    #[test]
    fn only_a_failed_removal_is_a_problem() {
        let s = settle(
            Some(&verdict(true)),
            true,
            Some(Outcome::Failed("EROFS".into())),
            false,
        );
        assert_eq!(s.action, Action::Skipped);
        assert_eq!(
            s.problem.as_deref(),
            Some("cannot remove stale lock: EROFS")
        );
        let s = settle(
            Some(&verdict(false)),
            true,
            Some(Outcome::Failed("EACCES".into())),
            false,
        );
        assert!(s.problem.unwrap().starts_with("cannot put back"));
        assert!(
            settle(Some(&verdict(true)), true, Some(Outcome::Removed), false)
                .problem
                .is_none()
        );
    }

    #[test]
    fn what_clean_does_with_each_lock() {
        let (stale, kept) = (verdict(true), verdict(false));
        let leftover = Leftover {
            original: Some("def.jsonl.lock".into()),
        };
        let hashed = Leftover { original: None };
        assert_eq!(step(Some(&stale), true, None, false), Step::Remove);
        assert_eq!(
            step(Some(&stale), true, None, true),
            Step::Keep,
            "after a signal"
        );
        assert_eq!(
            step(Some(&kept), true, None, false),
            Step::Keep,
            "not stale"
        );
        assert_eq!(step(None, true, None, false), Step::Keep, "not judged");
        assert_eq!(
            step(Some(&stale), false, None, false),
            Step::Keep,
            "not read"
        );
        // A stale leftover is removed; a kept one goes back under its name, not after a signal.
        assert_eq!(
            step(Some(&stale), true, Some(&leftover), false),
            Step::Remove
        );
        assert_eq!(
            step(Some(&kept), true, Some(&leftover), false),
            Step::PutBack(std::ffi::OsStr::new("def.jsonl.lock"))
        );
        assert_eq!(step(Some(&kept), true, Some(&leftover), true), Step::Keep);
        assert_eq!(step(Some(&kept), true, Some(&hashed), false), Step::Keep);
    }
}
