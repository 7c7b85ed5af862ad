//! The one staleness policy, pure: facts in, verdict out. No I/O happens here, so the host, the
//! containers and the tests all judge a lock the same way.
//!
//! It is OpenClaw's `inspectLockPayload` + `shouldReclaimContendedLockFile` with the same reason
//! names, made stricter about what counts as a live owner (threads, zombies, legacy recycling)
//! and more careful where it cannot see the owner (never stale for a pid reason then).

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;

use crate::lock::Payload;
use crate::proc::{Owner, ProcFacts};

/// OpenClaw's names for why a lock is stale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Reason {
    #[serde(rename = "missing-pid")]
    MissingPid,
    #[serde(rename = "dead-pid")]
    DeadPid,
    #[serde(rename = "recycled-pid")]
    RecycledPid,
    #[serde(rename = "invalid-createdAt")]
    InvalidCreatedAt,
    #[serde(rename = "too-old")]
    TooOld,
    /// OpenClaw 2026.5.12+: the live owner's command line is not an OpenClaw process.
    #[serde(rename = "non-openclaw-owner")]
    NonOpenclawOwner,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::MissingPid => "missing-pid",
            Reason::DeadPid => "dead-pid",
            Reason::RecycledPid => "recycled-pid",
            Reason::InvalidCreatedAt => "invalid-createdAt",
            Reason::TooOld => "too-old",
            Reason::NonOpenclawOwner => "non-openclaw-owner",
        }
    }
}

/// What the lock's pid turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OwnerState {
    /// A running process that may well hold the lock.
    Alive,
    /// No such pid.
    Dead,
    /// The process has exited and waits to be reaped.
    Zombie,
    /// The pid is a thread of another process, never a lock owner.
    Thread,
    /// The pid belongs to a process that started after the lock was taken.
    Recycled,
    /// The owner could not be observed from here.
    Unknown,
    /// The payload names no pid (empty, half-written or malformed lock).
    None,
}

impl OwnerState {
    pub fn as_str(self) -> &'static str {
        match self {
            OwnerState::Alive => "alive",
            OwnerState::Dead => "dead",
            OwnerState::Zombie => "zombie",
            OwnerState::Thread => "thread",
            OwnerState::Recycled => "recycled",
            OwnerState::Unknown => "unknown",
            OwnerState::None => "none",
        }
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
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            stale_after: TimeDelta::minutes(30),
            start_slack: TimeDelta::seconds(1),
        }
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
}

impl Policy {
    pub fn judge(&self, f: Facts<'_>) -> Verdict {
        let p = f.payload;
        let mut notes = Vec::new();
        let mut reasons = Vec::new();

        let owner_state = match p.pid {
            None => {
                reasons.push(Reason::MissingPid);
                OwnerState::None
            }
            Some(pid) => {
                let (state, note) = self.owner_state(pid, p, f.owner);
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
        };

        let age = p.created_at.map(|c| (f.now - c).max(TimeDelta::zero()));
        match (p.created_at, age) {
            (Some(c), _) if c > f.now + self.start_slack => {
                notes.push(format!("createdAt {} is in the future", c.to_rfc3339()))
            }
            (None, _) => reasons.push(Reason::InvalidCreatedAt),
            (_, Some(a)) if a > self.stale_after => reasons.push(Reason::TooOld),
            _ => {}
        }

        // OpenClaw's mtime fallback: a lock whose only faults are a missing pid or createdAt may
        // be one that is being written right now (it exists empty between create and write).
        let payload_only = !reasons.is_empty()
            && reasons
                .iter()
                .all(|r| matches!(r, Reason::MissingPid | Reason::InvalidCreatedAt));
        let stale = if payload_only {
            let mtime_age = (f.now - f.mtime).max(TimeDelta::zero());
            let old = mtime_age > self.stale_after;
            if !old {
                let what = p.problem.map_or("incomplete payload", |pr| pr.describe());
                notes.push(format!(
                    "{what}, modified {} ago: may be a lock being created; stale once unmodified for {}",
                    crate::output::short_duration(mtime_age),
                    crate::output::short_duration(self.stale_after),
                ));
            }
            old
        } else {
            !reasons.is_empty()
        };

        Verdict {
            stale,
            reasons,
            owner_state,
            age,
            note: (!notes.is_empty()).then(|| notes.join("; ")),
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
    use crate::lock::Payload;

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

    fn judge(p: &Payload, owner: &Owner, mtime_ago_s: i64) -> Verdict {
        Policy::default().judge(Facts {
            payload: p,
            mtime: now() - TimeDelta::seconds(mtime_ago_s),
            owner,
            now: now(),
        })
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
            problem: Some(crate::lock::PayloadProblem::Empty),
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
}
