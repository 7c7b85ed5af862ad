//! The one staleness policy, pure: facts in, verdict out. No I/O happens here, so the host, the
//! containers and the tests all judge a lock the same way.
//!
//! It is OpenClaw's `inspectLockPayload` + `shouldReclaimContendedLockFile` with the same reason
//! names, made stricter about what counts as a live owner (threads, zombies, legacy recycling)
//! and more careful where it cannot see the owner (never stale for a pid reason then).

use std::time::Duration;

use crate::model::names::named;
use chrono::{DateTime, TimeDelta, Utc};

use crate::model::holder::{Holder, Visibility};
use crate::model::payload::Payload;
use crate::model::process::{Owner, ProcFacts};

named! {
    /// OpenClaw's names for why a lock is stale.
    pub enum Reason {
        MissingPid => "missing-pid",
        DeadPid => "dead-pid",
        RecycledPid => "recycled-pid",
        InvalidCreatedAt => "invalid-createdAt",
        TooOld => "too-old",
        /// OpenClaw 2026.5.12+: the live owner's command line is not an OpenClaw process.
        NonOpenclawOwner => "non-openclaw-owner",
        /// OpenClaw 2026.5.28+: older than the payload's `maxHoldMs` (report-only on its own).
        HoldExceeded => "hold-exceeded",
        /// Ours: no process holds it open, and every process that could was looked at.
        NoHolder => "no-holder",
        /// Ours: its owner is alive but no longer holds it (openclaw/openclaw#93383, #91327).
        Leaked => "leaked",
        /// Ours: held open past its max hold; the owner's run is stuck (never removed).
        Wedged => "wedged",
    }
}

named! {
    /// What the lock's pid turned out to be.
    pub enum OwnerState {
        /// A running process that may well hold the lock.
        Alive => "alive",
        /// No such pid.
        Dead => "dead",
        /// The process has exited and waits to be reaped.
        Zombie => "zombie",
        /// The pid is a thread of another process, never a lock owner.
        Thread => "thread",
        /// The pid belongs to a process that started after the lock was taken.
        Recycled => "recycled",
        /// The owner could not be observed from here.
        Unknown => "unknown",
        /// The payload names no pid (empty, half-written or malformed lock).
        None => "none",
    }
}

/// The thresholds a run judges with.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// Age past which a lock is `too-old` (OpenClaw's `staleMs`, 30 min).
    pub stale_after: TimeDelta,
    /// How much later than `createdAt` an owner may appear to have started and still be the
    /// owner: `btime` is whole seconds and the wall clock may have been adjusted since.
    pub start_slack: TimeDelta,
    /// How long a lock that nobody holds open may stay unchanged before it is stale (with
    /// complete visibility). OpenClaw holds its handle from create to release, so this only
    /// covers clock skew and versions not verified; 10 s is far below any acquire timeout.
    pub leak_grace: TimeDelta,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            stale_after: TimeDelta::minutes(30),
            start_slack: TimeDelta::seconds(1),
            leak_grace: TimeDelta::seconds(10),
        }
    }
}

/// `--held-over`: a fixed threshold, or each lock's own max hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeldOver {
    After(Duration),
    /// The payload's `maxHoldMs`, else OpenClaw's default max hold.
    MaxHold,
}

/// OpenClaw's default max hold, for locks whose payload names none.
pub const DEFAULT_MAX_HOLD: Duration = Duration::from_secs(300);

impl HeldOver {
    /// The threshold for a lock with this `maxHoldMs`.
    pub fn threshold(self, max_hold_ms: Option<u64>) -> Duration {
        match self {
            HeldOver::After(d) => d,
            HeldOver::MaxHold => max_hold_ms.map_or(DEFAULT_MAX_HOLD, Duration::from_millis),
        }
    }
}

/// OpenClaw's own watchdog releases a lock after 5 minutes: a live owner may hold one that long.
pub const MIN_SAFE_THRESHOLD: Duration = Duration::from_secs(300);

named! {
    /// What a lock is, once judged: the one status the table, the logs, the metrics and the
    /// JSON summary read (what was done to it is the report's `Action`).
    pub enum Status {
        /// Some process holds it, or may: never removed.
        Held => "held",
        /// Held open past its max hold: never removed; its owner's run is stuck.
        Wedged => "wedged",
        /// Nobody holds it: removed by `clean`.
        Stale => "stale",
        /// It could not be read, so was not judged (and is never removed).
        Unjudged => "unjudged",
    }
}

impl Status {
    /// The status of a lock with this verdict (`None`: not judged).
    pub fn of(verdict: Option<&Verdict>) -> Status {
        match verdict {
            None => Status::Unjudged,
            Some(v) if v.stale => Status::Stale,
            Some(v) if v.wedged => Status::Wedged,
            Some(_) => Status::Held,
        }
    }
}

impl HeldOver {
    /// `--held-over`: whether a lock is held longer than the threshold: alive owner, not stale,
    /// `age` (seconds, with milliseconds) past the threshold for its `maxHoldMs`. A wedged lock
    /// counts whatever the threshold.
    pub fn exceeded(
        self,
        status: Status,
        owner: OwnerState,
        age: Option<f64>,
        max_hold_ms: Option<u64>,
    ) -> bool {
        status == Status::Wedged
            || (status != Status::Stale
                && owner == OwnerState::Alive
                && age.is_some_and(|a| a > self.threshold(max_hold_ms).as_secs_f64()))
    }
}

/// Everything the policy looks at for one lock.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    pub payload: &'a Payload,
    /// The lock file's modification time.
    pub mtime: DateTime<Utc>,
    /// What was observed for `payload.pid` (ignored when there is no pid).
    pub owner: &'a Owner,
    pub now: DateTime<Utc>,
    /// The processes found holding the lock's inode open.
    pub holders: &'a [Holder],
    /// Some process has it open (the kernel said so), named in `holders` or not.
    pub held: bool,
    /// Whether every process that could hold it was looked at.
    pub visibility: &'a Visibility,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub stale: bool,
    /// OpenClaw's reasons; a kept lock may carry some (see `note`).
    pub reasons: Vec<Reason>,
    pub owner_state: OwnerState,
    /// Age by `createdAt` (never negative, as in OpenClaw); `None` when it is invalid.
    pub age: Option<TimeDelta>,
    /// Why the verdict is what it is, when the reasons alone do not say it.
    pub note: Option<String>,
    /// Held open past its max hold: never removed, reported with a fix.
    pub wedged: bool,
}

impl Policy {
    pub fn judge(&self, f: Facts<'_>) -> Verdict {
        let p = f.payload;
        let mut notes = Vec::new();
        let mut reasons = Vec::new();

        let owner_state = self.pid_rules(&f, &mut reasons, &mut notes);

        let age = p.created_at.map(|c| (f.now - c).max(TimeDelta::zero()));
        match (p.created_at, age) {
            (Some(c), _) if c > f.now + self.start_slack => {
                notes.push(format!("createdAt {} is in the future", c.to_rfc3339()))
            }
            (None, _) => reasons.push(Reason::InvalidCreatedAt),
            (_, Some(a)) if a > self.stale_after => reasons.push(Reason::TooOld),
            _ => {}
        }

        let stale = self.payload_rules(&f, &reasons, &mut notes);

        // OpenClaw 2026.5.28+ (payloads with `maxHoldMs`): age alone never removes a lock whose
        // owner is a live process; `too-old` and `hold-exceeded` are report-only then.
        let max_hold = p
            .max_hold_ms
            .map(|ms| TimeDelta::milliseconds(i64::try_from(ms).unwrap_or(i64::MAX)));
        if let (Some(limit), Some(a)) = (max_hold, age)
            && a > limit
        {
            reasons.push(Reason::HoldExceeded);
        }
        let mut stale = stale;
        if stale
            && max_hold.is_some()
            && owner_state == OwnerState::Alive
            && reasons
                .iter()
                .all(|r| matches!(r, Reason::TooOld | Reason::HoldExceeded))
        {
            stale = false;
            notes.push("its owner is alive and its payload has maxHoldMs: age alone is report-only (OpenClaw 2026.5.28+)".into());
        }

        let mut wedged = false;
        self.by_evidence(
            &f,
            max_hold,
            age,
            owner_state,
            &mut reasons,
            &mut stale,
            &mut wedged,
            &mut notes,
        );

        Verdict {
            stale,
            reasons,
            owner_state,
            age,
            note: (!notes.is_empty()).then(|| notes.join("; ")),
            wedged,
        }
    }

    /// OpenClaw's pid rules: what the payload's pid is, and the reason it makes stale.
    fn pid_rules(
        &self,
        f: &Facts<'_>,
        reasons: &mut Vec<Reason>,
        notes: &mut Vec<String>,
    ) -> OwnerState {
        let Some(pid) = f.payload.pid else {
            reasons.push(Reason::MissingPid);
            return OwnerState::None;
        };
        let (state, note) = self.owner_state(pid, f.payload, f.owner);
        notes.extend(note);
        match state {
            OwnerState::Dead | OwnerState::Zombie | OwnerState::Thread => {
                reasons.push(Reason::DeadPid)
            }
            OwnerState::Recycled => reasons.push(Reason::RecycledPid),
            _ => {}
        }
        state
    }

    /// Whether the reasons so far make the lock stale, with OpenClaw's mtime fallback.
    fn payload_rules(&self, f: &Facts<'_>, reasons: &[Reason], notes: &mut Vec<String>) -> bool {
        let p = f.payload;
        // OpenClaw's mtime fallback: a lock whose only faults are a missing pid or createdAt may
        // be one that is being written right now (it exists empty between create and write).
        let payload_only = !reasons.is_empty()
            && reasons
                .iter()
                .all(|r| matches!(r, Reason::MissingPid | Reason::InvalidCreatedAt));
        if payload_only {
            let mtime_age = (f.now - f.mtime).max(TimeDelta::zero());
            let old = mtime_age > self.stale_after;
            if !old {
                let what = p.problem.map_or("incomplete payload", |pr| pr.describe());
                notes.push(format!(
                    "{what}, modified {} ago: may be a lock being created; stale once unmodified for {}",
                    crate::model::units::short_duration(mtime_age),
                    crate::model::units::short_duration(self.stale_after),
                ));
            }
            old
        } else {
            !reasons.is_empty()
        }
    }

    /// The holder rule: a lock held open is never stale (wedged when held past its max hold);
    /// one that nobody holds, with complete visibility, is stale once unchanged for the grace.
    /// With incomplete visibility the pid rules above stand.
    #[allow(clippy::too_many_arguments)]
    fn by_evidence(
        &self,
        f: &Facts<'_>,
        max_hold: Option<TimeDelta>,
        age: Option<TimeDelta>,
        owner_state: OwnerState,
        reasons: &mut Vec<Reason>,
        stale: &mut bool,
        wedged: &mut bool,
        notes: &mut Vec<String>,
    ) {
        let quiet = (f.now - f.mtime).max(TimeDelta::zero());
        if f.held || !f.holders.is_empty() {
            let mut who: Vec<String> = f.holders.iter().map(Holder::describe).collect();
            if who.is_empty() {
                who.push("a process that could not be named".into());
            }
            let held_for = age.unwrap_or(quiet);
            let limit = max_hold.unwrap_or(self.stale_after);
            *stale = false;
            if held_for > limit {
                *wedged = true;
                reasons.push(Reason::Wedged);
                let fix = match (
                    f.holders.iter().find_map(|h| h.container.as_deref()),
                    f.holders.first(),
                ) {
                    (Some(c), _) => format!("docker restart {c}"),
                    (None, Some(h)) => format!("restart process {}", h.host_pid),
                    (None, None) => "restart the process that holds it open".into(),
                };
                notes.push(format!(
                    "wedged: held open by {} for {}, past its max hold of {}; removing the file cannot help and would let a second writer in: {fix}",
                    who.join(", "),
                    crate::model::units::short_duration(held_for),
                    crate::model::units::short_duration(limit),
                ));
            } else if !reasons.is_empty() {
                notes.push(format!("held open by {}: never removed", who.join(", ")));
            }
            return;
        }
        if !f.visibility.is_complete() {
            return;
        }
        if quiet > self.leak_grace {
            *stale = true;
            reasons.push(Reason::NoHolder);
            if owner_state == OwnerState::Alive {
                reasons.push(Reason::Leaked);
                notes.push(format!(
                    "its owner is alive but no process holds it open (leaked), unchanged for {}",
                    crate::model::units::short_duration(quiet)
                ));
            }
        } else if !*stale {
            notes.push(format!(
                "no process holds it open; stale if still unheld once unchanged for {}",
                crate::model::units::short_duration(self.leak_grace)
            ));
        }
    }

    fn owner_state(&self, pid: u64, p: &Payload, owner: &Owner) -> (OwnerState, Option<String>) {
        let facts = match owner {
            Owner::Unknown(why) => {
                return (
                    OwnerState::Unknown,
                    Some(format!("owner pid {pid} not judged: {why}")),
                );
            }
            Owner::Gone => return (OwnerState::Dead, None),
            Owner::Found(facts) => facts,
        };
        let ProcFacts {
            tgid,
            state,
            starttime,
            started_at,
            ..
        } = facts;
        let label = facts.name.as_deref().unwrap_or("?");
        if matches!(state, Some('Z') | Some('X') | Some('x')) {
            return (OwnerState::Zombie, None);
        }
        match tgid {
            Some(tgid) if *tgid != pid => {
                return (
                    OwnerState::Thread,
                    Some(format!(
                        "pid {pid} is a thread ({label}) of process {tgid}, not a lock owner"
                    )),
                );
            }
            Some(_) => {}
            None => {
                return (
                    OwnerState::Unknown,
                    Some(format!("pid {pid}: its status shows no Tgid")),
                );
            }
        }
        if let Some(stored) = p.starttime {
            // OpenClaw 2026.3+: an exact comparison; an unreadable current value is not evidence.
            return match starttime {
                Some(now) if *now != stored => (
                    OwnerState::Recycled,
                    Some(format!(
                        "pid {pid} ({label}) has starttime {now}, the lock recorded {stored}"
                    )),
                ),
                _ => (OwnerState::Alive, None),
            };
        }
        if let (Some(created), Some(started)) = (p.created_at, started_at)
            && *started > created + self.start_slack
        {
            return (
                OwnerState::Recycled,
                Some(format!(
                    "pid {pid} ({label}) started at {}, after the lock was created at {}",
                    started.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                    created.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                )),
            );
        }
        (OwnerState::Alive, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::payload::Payload;

    fn now() -> DateTime<Utc> {
        "2026-11-24T12:00:00Z".parse().unwrap()
    }

    fn payload(pid: Option<u64>, created_ago_s: Option<i64>, starttime: Option<u64>) -> Payload {
        Payload {
            pid,
            created_at: created_ago_s.map(|s| now() - TimeDelta::seconds(s)),
            starttime,
            ..Payload::default()
        }
    }

    fn process(pid: u64, started_ago_s: i64, starttime: u64) -> Owner {
        Owner::Found(ProcFacts {
            tgid: Some(pid),
            state: Some('S'),
            starttime: Some(starttime),
            started_at: Some(now() - TimeDelta::seconds(started_ago_s)),
            name: Some("node".into()),
            nspid: vec![pid],
        })
    }

    /// Today's pid rules alone: nobody was found holding it, and that is not evidence.
    fn judge(p: &Payload, owner: &Owner, mtime_ago_s: i64) -> Verdict {
        judge_seen(
            p,
            owner,
            mtime_ago_s,
            &[],
            &Visibility::Incomplete("test".into()),
        )
    }

    fn judge_seen(
        p: &Payload,
        owner: &Owner,
        mtime_ago_s: i64,
        holders: &[Holder],
        visibility: &Visibility,
    ) -> Verdict {
        Policy::default().judge(Facts {
            payload: p,
            mtime: now() - TimeDelta::seconds(mtime_ago_s),
            owner,
            now: now(),
            holders,
            held: !holders.is_empty(),
            visibility,
        })
    }

    fn holder(container: Option<&str>) -> Holder {
        Holder {
            host_pid: 3946,
            ns_pid: 13,
            comm: "openclaw-gatewa".into(),
            container: container.map(str::to_owned),
        }
    }

    fn with_max_hold(mut p: Payload, ms: u64) -> Payload {
        p.max_hold_ms = Some(ms);
        p
    }

    #[test]
    fn held_open_is_never_stale_whatever_the_pid_says() {
        let h = [holder(Some("zaki-user-1"))];
        let complete = Visibility::Complete;
        // Dead pid, recycled pid, empty file, too old: all kept while held.
        for (p, owner) in [
            (payload(Some(7), Some(5), None), Owner::Gone),
            (payload(Some(7), Some(10), Some(11)), process(7, 3600, 10)),
            (Payload::default(), Owner::Gone),
            (
                payload(Some(7), Some(600), None),
                Owner::Unknown("x".into()),
            ),
        ] {
            for vis in [&complete, &Visibility::Incomplete("x".into())] {
                let v = judge_seen(&p, &owner, 600, &h, vis);
                assert!(!v.stale, "{p:?} {owner:?}: {v:?}");
                assert!(!v.wedged);
            }
        }
    }

    #[test]
    fn held_by_an_unnamed_process_is_kept_too() {
        let p = payload(Some(7), Some(3600), None);
        let v = Policy::default().judge(Facts {
            payload: &p,
            mtime: now() - TimeDelta::seconds(3600),
            owner: &Owner::Gone,
            now: now(),
            holders: &[],
            held: true,
            visibility: &Visibility::Complete,
        });
        assert!(!v.stale && v.wedged, "{v:?}");
        assert!(
            v.note
                .unwrap()
                .contains("restart the process that holds it open")
        );
    }

    #[test]
    fn held_past_max_hold_is_wedged_never_removed() {
        let h = [holder(Some("zaki-user-1"))];
        // No maxHoldMs: the threshold (30 min) is the limit.
        let v = judge_seen(
            &payload(Some(7), Some(1801), None),
            &process(7, 9000, 1),
            1801,
            &h,
            &Visibility::Complete,
        );
        assert!(!v.stale && v.wedged);
        assert_eq!(names(&v), vec!["too-old", "wedged"]);
        assert!(v.note.unwrap().contains("docker restart zaki-user-1"));
        // maxHoldMs 5 min, held 6 min: hold-exceeded and wedged, fix names the process.
        let p = with_max_hold(payload(Some(7), Some(360), Some(1)), 300_000);
        let v = judge_seen(
            &p,
            &process(7, 9000, 1),
            360,
            &[holder(None)],
            &Visibility::Complete,
        );
        assert!(!v.stale && v.wedged);
        assert_eq!(names(&v), vec!["hold-exceeded", "wedged"]);
        assert!(v.note.unwrap().contains("restart process 3946"));
        // 1 h max hold, 40 min old, held: kept, not wedged (the 2026.7 case).
        let p = with_max_hold(payload(Some(7), Some(2400), Some(1)), 3_600_000);
        let v = judge_seen(&p, &process(7, 9000, 1), 2400, &h, &Visibility::Complete);
        assert!(!v.stale && !v.wedged);
        assert_eq!(names(&v), vec!["too-old"]);
    }

    #[test]
    fn max_hold_payload_with_live_owner_is_report_only_by_age() {
        // OpenClaw 2026.5.28+: a live owner's lock is never removed for age alone.
        let p = with_max_hold(payload(Some(7), Some(2400), Some(1)), 3_600_000);
        let v = judge(&p, &process(7, 9000, 1), 2400);
        assert!(!v.stale, "{v:?}");
        assert_eq!(names(&v), vec!["too-old"]);
        // Without maxHoldMs (older payloads) too-old still removes.
        assert!(
            judge(
                &payload(Some(7), Some(2400), Some(1)),
                &process(7, 9000, 1),
                2400
            )
            .stale
        );
        // A dead owner still makes it stale.
        assert!(judge(&p, &Owner::Gone, 2400).stale);
    }

    #[test]
    fn no_holder_with_complete_visibility() {
        let c = Visibility::Complete;
        // Live owner, not held, unchanged past the grace: leaked.
        let v = judge_seen(
            &payload(Some(7), Some(60), Some(1)),
            &process(7, 9000, 1),
            60,
            &[],
            &c,
        );
        assert!(v.stale);
        assert_eq!(v.owner_state, OwnerState::Alive);
        assert_eq!(names(&v), vec!["no-holder", "leaked"]);
        // Within the grace: kept.
        let v = judge_seen(
            &payload(Some(7), Some(5), Some(1)),
            &process(7, 9000, 1),
            5,
            &[],
            &c,
        );
        assert!(!v.stale);
        assert!(v.note.unwrap().contains("no process holds it"));
        // An unknown owner (container stopped, another namespace) with no holder: no-holder.
        let v = judge_seen(
            &payload(Some(7), Some(60), None),
            &Owner::Unknown("paused".into()),
            60,
            &[],
            &c,
        );
        assert!(v.stale);
        assert_eq!(names(&v), vec!["no-holder"]);
        // An empty lock nobody holds, past the grace: its creator is gone.
        let v = judge_seen(&Payload::default(), &Owner::Gone, 30, &[], &c);
        assert!(v.stale);
        assert_eq!(
            names(&v),
            vec!["missing-pid", "invalid-createdAt", "no-holder"]
        );
        // A dead pid stays stale at once, as today.
        let v = judge_seen(&payload(Some(7), Some(1), None), &Owner::Gone, 1, &[], &c);
        assert!(v.stale);
        assert_eq!(names(&v), vec!["dead-pid"]);
    }

    #[test]
    fn no_holder_is_not_evidence_when_incomplete() {
        let inc = Visibility::Incomplete("NFS".into());
        let v = judge_seen(
            &payload(Some(7), Some(60), Some(1)),
            &process(7, 9000, 1),
            60,
            &[],
            &inc,
        );
        assert!(!v.stale);
        assert!(v.reasons.is_empty());
        let v = judge_seen(
            &payload(Some(7), Some(60), None),
            &Owner::Unknown("paused".into()),
            60,
            &[],
            &inc,
        );
        assert!(!v.stale);
    }

    fn names(v: &Verdict) -> Vec<&'static str> {
        v.reasons.iter().map(|r| r.as_str()).collect()
    }

    #[test]
    fn live_owner_is_held() {
        let v = judge(&payload(Some(7), Some(5), None), &process(7, 3600, 10), 5);
        assert!(!v.stale);
        assert_eq!(v.owner_state, OwnerState::Alive);
        assert!(v.reasons.is_empty());
        assert_eq!(v.age, Some(TimeDelta::seconds(5)));
    }

    #[test]
    fn dead_zombie_thread() {
        let p = payload(Some(7), Some(5), None);
        let v = judge(&p, &Owner::Gone, 5);
        assert!(v.stale);
        assert_eq!(
            (v.owner_state, names(&v)),
            (OwnerState::Dead, vec!["dead-pid"])
        );

        let Owner::Found(mut f) = process(7, 3600, 10) else {
            unreachable!()
        };
        f.state = Some('Z');
        let v = judge(&p, &Owner::Found(f.clone()), 5);
        assert_eq!((v.owner_state, v.stale), (OwnerState::Zombie, true));

        f.state = Some('S');
        f.tgid = Some(1);
        let v = judge(&p, &Owner::Found(f), 5);
        assert_eq!((v.owner_state, v.stale), (OwnerState::Thread, true));
        assert_eq!(names(&v), vec!["dead-pid"]);
    }

    #[test]
    fn legacy_recycling_by_start_time() {
        // Owner started 2 s after the lock was created: not its owner.
        let v = judge(&payload(Some(7), Some(10), None), &process(7, 8, 10), 10);
        assert_eq!((v.owner_state, v.stale), (OwnerState::Recycled, true));
        assert_eq!(names(&v), vec!["recycled-pid"]);
        // Within the slack: still the owner.
        let v = judge(&payload(Some(7), Some(10), None), &process(7, 10, 10), 10);
        assert_eq!((v.owner_state, v.stale), (OwnerState::Alive, false));
    }

    #[test]
    fn starttime_compared_exactly() {
        let v = judge(
            &payload(Some(7), Some(10), Some(11)),
            &process(7, 3600, 10),
            10,
        );
        assert_eq!((v.owner_state, v.stale), (OwnerState::Recycled, true));
        // Equal starttime wins over the wall-clock comparison.
        let v = judge(
            &payload(Some(7), Some(10), Some(10)),
            &process(7, 1, 10),
            10,
        );
        assert_eq!((v.owner_state, v.stale), (OwnerState::Alive, false));
    }

    #[test]
    fn unknown_owner_never_stale_for_pid_reasons() {
        let unknown = Owner::Unknown("another PID namespace".into());
        let v = judge(&payload(Some(7), Some(5), None), &unknown, 5);
        assert_eq!((v.owner_state, v.stale), (OwnerState::Unknown, false));
        assert!(v.note.unwrap().contains("another PID namespace"));
        // …but age still counts.
        let v = judge(&payload(Some(7), Some(3600), None), &unknown, 3600);
        assert_eq!(names(&v), vec!["too-old"]);
        assert!(v.stale);
    }

    #[test]
    fn too_old_even_when_alive() {
        let v = judge(
            &payload(Some(7), Some(1801), None),
            &process(7, 9000, 10),
            1801,
        );
        assert_eq!(names(&v), vec!["too-old"]);
        assert!(v.stale);
        let v = judge(
            &payload(Some(7), Some(1800), None),
            &process(7, 9000, 10),
            1800,
        );
        assert!(!v.stale, "exactly the threshold is not older than it");
    }

    #[test]
    fn mtime_fallback_for_incomplete_payloads() {
        let empty = Payload {
            problem: Some(crate::model::payload::PayloadProblem::Empty),
            ..Payload::default()
        };
        let fresh = judge(&empty, &Owner::Gone, 10);
        assert!(!fresh.stale);
        assert_eq!(fresh.owner_state, OwnerState::None);
        assert_eq!(names(&fresh), vec!["missing-pid", "invalid-createdAt"]);
        assert!(fresh.note.unwrap().contains("being created"));
        assert!(judge(&empty, &Owner::Gone, 1801).stale);

        // A live pid with a bad createdAt also waits for the mtime.
        let p = payload(Some(7), None, None);
        assert!(!judge(&p, &process(7, 100, 1), 10).stale);
        assert!(judge(&p, &process(7, 100, 1), 1801).stale);
        // A dead pid with a bad createdAt does not wait.
        assert!(judge(&p, &Owner::Gone, 10).stale);
    }

    #[test]
    fn future_created_at() {
        let p = payload(Some(7), Some(-3600), None);
        let v = judge(&p, &process(7, 9000, 1), 0);
        assert_eq!(v.age, Some(TimeDelta::zero()));
        assert!(!v.stale);
        assert!(v.note.unwrap().contains("future"));
    }

    fn verdict(stale: bool, wedged: bool) -> Verdict {
        Verdict {
            stale,
            reasons: Vec::new(),
            owner_state: OwnerState::Alive,
            age: None,
            note: None,
            wedged,
        }
    }

    #[test]
    fn one_status_from_the_verdict() {
        assert_eq!(Status::of(None), Status::Unjudged);
        assert_eq!(Status::of(Some(&verdict(true, false))), Status::Stale);
        assert_eq!(Status::of(Some(&verdict(false, true))), Status::Wedged);
        assert_eq!(Status::of(Some(&verdict(false, false))), Status::Held);
        assert_eq!(Status::Wedged.as_str(), "wedged");
    }

    #[test]
    fn held_over_needs_a_live_owner_past_the_threshold_or_a_wedged_lock() {
        let minute = HeldOver::After(Duration::from_secs(60));
        let alive = OwnerState::Alive;
        assert!(minute.exceeded(Status::Held, alive, Some(61.0), None));
        assert!(!minute.exceeded(Status::Held, alive, Some(59.5), None));
        assert!(!minute.exceeded(Status::Held, OwnerState::Unknown, Some(600.0), None));
        assert!(!minute.exceeded(Status::Stale, alive, Some(600.0), None));
        assert!(!minute.exceeded(Status::Held, alive, None, None));
        assert!(minute.exceeded(Status::Wedged, OwnerState::Unknown, None, None));
        // Each lock's own max hold, else OpenClaw's 5 minutes.
        let own = HeldOver::MaxHold;
        assert!(own.exceeded(Status::Held, alive, Some(2.5), Some(2_000)));
        assert!(!own.exceeded(Status::Held, alive, Some(299.0), None));
        assert!(own.exceeded(Status::Held, alive, Some(301.0), None));
    }
}
