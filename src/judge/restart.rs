//! Whether to restart a container whose gateway holds an orphan turn claim (OpenClaw 2026.8+),
//! from what was seen just before the restart. Pure.
//!
//! A restart is earned, never guessed: only where a live OpenClaw gateway owns the database
//! (the gateway-owner lease's pid alive in the container's PID namespace, its command line
//! OpenClaw's, its heartbeat recent); a claim back after a restart of ours is not restarted
//! again and again but backed off (openclaw/openclaw#128762, #137043: a restart does not always
//! clear a claim); and a run restarts at most so many containers, for at most so long.

use chrono::{DateTime, TimeDelta, Utc};

use crate::judge::claims::{GatewayLease, Liveness};

/// A heartbeat older than this is no live gateway's: OpenClaw 2026.9.6 beats every 30 s.
pub const HEARTBEAT_FRESH: TimeDelta = TimeDelta::seconds(120);

/// Why a live OpenClaw gateway cannot be said to own the database: no restart then.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unearned {
    pub why: String,
    /// The evidence was missing (not a "no"): a problem to report, as every missing evidence is.
    pub missing: bool,
}

/// Whether a restart is earned by the lease as read just before it: `None` when it is.
pub fn unearned(lease: Option<&GatewayLease>) -> Option<Unearned> {
    let no = |why: String| {
        Some(Unearned {
            why,
            missing: false,
        })
    };
    let missing = |why: String| Some(Unearned { why, missing: true });
    let Some(g) = lease else {
        return no("no gateway-owner lease in its database: no gateway owns it".into());
    };
    let pid = g.pid.map_or_else(|| "-".into(), |p| p.to_string());
    match g.liveness {
        Liveness::Alive => {}
        Liveness::Gone => return no(format!("the lease's pid {pid} is not running")),
        Liveness::Unknown => {
            return missing(format!(
                "the lease's pid {pid} could not be looked at ({})",
                g.owner_state.as_str()
            ));
        }
    }
    match g.openclaw {
        Some(true) => {}
        Some(false) => {
            return no(format!(
                "the lease's pid {pid} is not an OpenClaw process (its command line)"
            ));
        }
        None => {
            return missing(format!(
                "the command line of the lease's pid {pid} is unreadable"
            ));
        }
    }
    match g.heartbeat_age_seconds {
        _ if g.expired => no("the lease has expired".into()),
        Some(a) if a <= HEARTBEAT_FRESH.num_seconds() => None,
        Some(a) => no(format!("the lease's heartbeat is {a} s old")),
        None => missing("the lease has no heartbeat".into()),
    }
}

pub use crate::model::claims::Remembered;

/// A claim seen this long after our restart of its container is the one that survived it.
pub const SURVIVAL_WINDOW: TimeDelta = TimeDelta::minutes(30);
/// The first back-off; each claim that survives again doubles it, up to [`MAX_BACKOFF`].
pub const FIRST_BACKOFF: TimeDelta = TimeDelta::hours(1);
pub const MAX_BACKOFF: TimeDelta = TimeDelta::hours(24);

/// Whether a claim on `sessions` survived our last restart of the container: the new memory
/// (with its back-off) when it did, `None` when a restart may be tried.
pub fn survived(
    memory: Option<&Remembered>,
    sessions: &[String],
    now: DateTime<Utc>,
) -> Option<Remembered> {
    let m = memory?;
    let t = now.timestamp();
    if m.backoff_until.is_some_and(|u| t < u) {
        return Some(m.clone());
    }
    let recent = t - m.restarted_at < SURVIVAL_WINDOW.num_seconds();
    if !recent || !sessions.iter().any(|s| m.sessions.contains(s)) {
        return None;
    }
    let backoff = (FIRST_BACKOFF * 2i32.saturating_pow(m.survived.min(8))).min(MAX_BACKOFF);
    Some(Remembered {
        survived: m.survived + 1,
        backoff_until: Some(t + backoff.num_seconds()),
        ..m.clone()
    })
}

/// A run's budget for restarts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub restarts: u32,
    pub time: std::time::Duration,
}

/// Whether the run has spent its budget: the rest is deferred to the next run.
pub fn spent(b: Budget, restarts: u32, elapsed: std::time::Duration) -> bool {
    restarts >= b.restarts || elapsed >= b.time
}

/// A container with an orphan claim, looked at again just before a restart.
#[derive(Debug, Clone, Copy)]
pub struct Recheck {
    /// The same claim is still there.
    pub still: bool,
    pub running: bool,
    pub uptime: Option<chrono::TimeDelta>,
}

/// What to do with a container whose claim was looked at again.
#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    Gone,
    NotRunning,
    /// Up for less than the minimum: its start-up clears claims, never restart it then.
    Starting(chrono::TimeDelta),
    Restart,
}

pub fn decide(again: &Recheck, min_uptime: std::time::Duration) -> Decision {
    if !again.still {
        Decision::Gone
    } else if !again.running {
        Decision::NotRunning
    } else if let Some(up) = again
        .uptime
        .filter(|u| u.to_std().map_or(true, |u| u < min_uptime))
    {
        Decision::Starting(up)
    } else {
        Decision::Restart
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::judge::lock::OwnerState;

    fn lease(liveness: Liveness, openclaw: Option<bool>, heartbeat: Option<i64>) -> GatewayLease {
        GatewayLease {
            pid: Some(1),
            starttime: Some(5),
            heartbeat_age_seconds: heartbeat,
            expired: false,
            owner_state: OwnerState::Alive,
            liveness,
            openclaw,
        }
    }

    #[test]
    fn a_restart_is_earned_only_by_a_live_openclaw_gateway_with_a_recent_heartbeat() {
        assert_eq!(
            unearned(Some(&lease(Liveness::Alive, Some(true), Some(30)))),
            None
        );
        let why = |l| unearned(Some(&l)).unwrap().why;
        assert!(why(lease(Liveness::Alive, Some(false), Some(3))).contains("not an OpenClaw"));
        assert!(why(lease(Liveness::Alive, None, Some(3))).contains("unreadable"));
        assert!(why(lease(Liveness::Unknown, Some(true), Some(3))).contains("could not be"));
        assert!(why(lease(Liveness::Gone, Some(true), Some(3))).contains("not running"));
        assert!(why(lease(Liveness::Alive, Some(true), Some(121))).contains("121 s old"));
        assert!(why(lease(Liveness::Alive, Some(true), None)).contains("no heartbeat"));
        let mut expired = lease(Liveness::Alive, Some(true), Some(3));
        expired.expired = true;
        assert!(why(expired).contains("expired"));
        assert!(
            unearned(None)
                .unwrap()
                .why
                .contains("no gateway-owner lease")
        );
        assert!(
            unearned(Some(&lease(Liveness::Alive, None, Some(3))))
                .unwrap()
                .missing
        );
        assert!(
            !unearned(Some(&lease(Liveness::Alive, Some(false), Some(3))))
                .unwrap()
                .missing
        );
    }

    #[test]
    fn a_claim_back_after_our_restart_is_backed_off_then_tried_again() {
        let at = |s: i64| chrono::TimeZone::timestamp_opt(&Utc, s, 0).unwrap();
        let k = vec!["k1".to_owned()];
        let m = Remembered {
            restarted_at: 1_000,
            sessions: k.clone(),
            ..Default::default()
        };
        assert_eq!(survived(None, &k, at(1_100)), None);
        let once = survived(Some(&m), &k, at(1_300)).unwrap();
        assert_eq!(
            (once.survived, once.backoff_until),
            (1, Some(1_300 + 3_600))
        );
        // Another session's claim, or one long after: a restart may be tried.
        assert_eq!(survived(Some(&m), &["k2".to_owned()], at(1_300)), None);
        assert_eq!(survived(Some(&m), &k, at(1_000 + 1_800)), None);
        // Backed off: still, whatever the sessions, until the back-off ends.
        assert_eq!(survived(Some(&once), &[], at(4_000)).as_ref(), Some(&once));
        assert_eq!(survived(Some(&once), &k, at(1_300 + 3_600)), None);
        // Doubling, up to a day.
        let again = Remembered {
            restarted_at: 10_000,
            survived: 1,
            backoff_until: Some(5_000),
            ..m.clone()
        };
        let twice = survived(Some(&again), &k, at(10_060)).unwrap();
        assert_eq!(twice.backoff_until, Some(10_060 + 7_200));
        let many = Remembered {
            survived: 40,
            ..again
        };
        let capped = survived(Some(&many), &k, at(10_060)).unwrap();
        assert_eq!(capped.backoff_until, Some(10_060 + 86_400));
    }

    #[test]
    fn the_budget_counts_restarts_and_time() {
        let b = Budget {
            restarts: 2,
            time: std::time::Duration::from_secs(60),
        };
        let s = std::time::Duration::from_secs;
        assert!(!spent(b, 1, s(59)));
        assert!(spent(b, 2, s(1)));
        assert!(spent(b, 0, s(60)));
    }

    #[test]
    fn a_restart_only_when_the_claim_is_still_there_and_the_gateway_is_up_long_enough() {
        let again = |still, running, up: Option<i64>| Recheck {
            still,
            running,
            uptime: up.map(chrono::TimeDelta::seconds),
        };
        let min = std::time::Duration::from_secs(60);
        assert_eq!(decide(&again(false, true, Some(600)), min), Decision::Gone);
        assert_eq!(
            decide(&again(true, false, Some(600)), min),
            Decision::NotRunning
        );
        assert_eq!(
            decide(&again(true, true, Some(30)), min),
            Decision::Starting(chrono::TimeDelta::seconds(30))
        );
        // A clock that puts the start in the future is "just started".
        assert!(matches!(
            decide(&again(true, true, Some(-5)), min),
            Decision::Starting(_)
        ));
        assert_eq!(decide(&again(true, true, Some(61)), min), Decision::Restart);
        // No uptime known: the claim was confirmed and the container runs.
        assert_eq!(decide(&again(true, true, None), min), Decision::Restart);
    }
}
