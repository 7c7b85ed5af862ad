//! What the probe's evidence means: each attempt's outcome, the verdict about the user's bot,
//! the command that fixes it, and every sentence the timeline says about a lock or a turn.
//! Pure: the answers, locks and turns are gathered by the caller.

use crate::judge::claims::{SessionTurn, Shape, TurnState};
use crate::judge::lock::{OwnerState, Status};
use crate::report::record::LockRecord;
use crate::sys::http::{HttpError, Response};

use crate::report::probe::{Attempt, Outcome};

/// A lock that blocks the user's bot: stale (OpenClaw waits up to 30 min before reclaiming
/// it), or held by a live owner past OpenClaw's 5-minute max hold (wedged).
pub fn blocks(lock: &LockRecord) -> bool {
    lock.status == Status::Stale
        || (lock.owner_state == OwnerState::Alive
            && lock
                .age_seconds
                .is_some_and(|a| a as u64 > crate::judge::lock::MIN_SAFE_THRESHOLD.as_secs()))
}

/// Whether the user's own session is stuck in the SQLite era (OpenClaw 2026.8+): an orphan
/// turn claim, or another stuck shape, answers every message of the user with an error however
/// the probe's own session fared.
pub fn turn_blocks(turn: &SessionTurn) -> bool {
    turn.state == TurnState::Orphan || turn.shape.is_some()
}

/// The probe's verdict, about the user's bot: a lock or a stuck turn blocking the user's own
/// session makes it `session-busy` whatever the probe's own session did; otherwise the first
/// success (`ok` or `ok-after-retry`), else the last attempt's outcome (`not-ready` when none
/// was made).
pub fn verdict(
    attempts: &[Attempt],
    user_lock: Option<&LockRecord>,
    user_turn: Option<&SessionTurn>,
) -> Outcome {
    if user_lock.is_some_and(blocks) || user_turn.is_some_and(turn_blocks) {
        return Outcome::SessionBusy;
    }
    match attempts.iter().position(|a| a.outcome == Outcome::Ok) {
        Some(0) => Outcome::Ok,
        Some(_) => Outcome::OkAfterRetry,
        None => attempts.last().map_or(Outcome::NotReady, |a| a.outcome),
    }
}

/// With `--inject-lock HOLD`: whether the attempts tested the retry path (one failed, a later
/// one succeeded), and when they did not although the bot answered, why, in a sentence.
pub fn retry_path(
    attempts: &[Attempt],
    hold: std::time::Duration,
    timeout: std::time::Duration,
) -> (bool, Option<String>) {
    let Some(first_ok) = attempts.iter().position(|a| a.outcome == Outcome::Ok) else {
        return (false, None);
    };
    if first_ok > 0 {
        return (true, None);
    }
    let waited = std::time::Duration::from_millis(attempts[0].elapsed_ms);
    let fmt = |d| humantime::format_duration(d).to_string();
    let why = if waited < hold {
        format!(
            "the retry path was not exercised: attempt 1 was answered in {} while the injected lock \
             was held ({}): this gateway did not wait on it",
            fmt(std::time::Duration::from_millis(
                attempts[0].elapsed_ms / 100 * 100
            )),
            fmt(hold)
        )
    } else {
        format!(
            "the retry path was not exercised: attempt 1 waited for the injected lock and was \
             answered once it was released after {} (OpenClaw 2026.5+ waits up to 60s for a lock); \
             hold it longer than --timeout to make an attempt fail: --inject-lock {}",
            fmt(hold),
            fmt(timeout + std::time::Duration::from_secs(10))
        )
    };
    (false, Some(why))
}

/// What fixes a `session-busy` verdict, and the sessions whose stale locks
/// `--clean-on-failure` removes: a stale lock (the probe's or the user's) is removed by
/// `clean`; a live owner past the max hold is wedged, and only a restart frees it.
pub fn remedy(
    verdict: Outcome,
    locks: [Option<&LockRecord>; 2],
    container: &str,
) -> (Option<String>, Vec<String>) {
    if verdict != Outcome::SessionBusy {
        return (None, Vec::new());
    }
    let locks: Vec<&LockRecord> = locks.into_iter().flatten().collect();
    let mut stale: Vec<String> = locks
        .iter()
        .filter(|l| l.status == Status::Stale)
        .filter_map(|l| l.session_key.clone())
        .collect();
    stale.dedup();
    if !stale.is_empty() {
        return (
            Some(format!("zaki-locks clean --container {container}")),
            stale,
        );
    }
    if locks.iter().any(|l| blocks(l)) {
        return (
            Some(format!(
                "docker restart {container} (a live process has held the lock past OpenClaw's \
                 5-minute max hold)"
            )),
            Vec::new(),
        );
    }
    (None, Vec::new())
}

/// Everything the probe found, as [`advise`] needs it.
#[derive(Debug, Clone, Copy)]
pub struct Findings<'a> {
    pub verdict: Outcome,
    /// The lock found on the probe's session after a failed attempt.
    pub session_lock: Option<&'a LockRecord>,
    pub user_session_lock: Option<&'a LockRecord>,
    /// The orphan turn claim that blocked the probe's session (OpenClaw 2026.8+).
    pub session_turn: Option<&'a SessionTurn>,
    pub user_session_turn: Option<&'a SessionTurn>,
}

/// What the probe tells the operator to do once it has its verdict.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Advice {
    /// The command that fixes the verdict.
    pub fix: Option<String>,
    /// The sessions whose stale locks `--clean-on-failure` removes.
    pub stale_keys: Vec<String>,
    /// Said when no fix is offered but the user's session is blocked by an orphan claim.
    pub note: Option<String>,
}

/// The fix for what was found: [`remedy`]'s, unless an orphan turn claim blocked the probe
/// (only a restart of the gateway frees it) or the probe's lock is held open past its max hold
/// (removing the file cannot help the stuck run, restarting its container does).
pub fn advise(f: Findings<'_>, container: &str) -> Advice {
    let busy = f.verdict == Outcome::SessionBusy;
    let (mut fix, stale_keys) = remedy(f.verdict, [f.session_lock, f.user_session_lock], container);
    if busy && f.session_turn.is_some() {
        fix = Some(format!(
            "zaki-locks clean --restart-orphaned --container {container}"
        ));
    }
    // The user's own session stuck (the probe's may have answered): its shape's fix.
    if busy
        && fix.is_none()
        && let Some(t) = f.user_session_turn.filter(|t| turn_blocks(t))
    {
        fix = Some(t.shape.unwrap_or(Shape::OrphanClaim).fix(container));
    }
    let user_orphan = f.user_session_turn.is_some_and(turn_blocks);
    let note = (fix.is_none() && user_orphan).then(|| {
        format!(
            "the user's session has an orphan turn claim: every message of the user fails until the gateway restarts (zaki-locks clean --restart-orphaned --container {container})"
        )
    });
    if fix.is_none() && busy && f.session_lock.is_some_and(|l| l.status == Status::Wedged) {
        fix = Some(format!("docker restart {container}"));
    }
    Advice {
        fix,
        stale_keys,
        note,
    }
}

/// Whether an answer may be the session's lock at work, so the lock must be looked at: the
/// gateway answers 500 after its 10 s acquire timeout, or no answer comes in time.
pub fn needs_evidence(answer: &Result<Response, HttpError>) -> bool {
    match answer {
        Ok(r) => r.status >= 500,
        Err(HttpError::Timeout(_)) => true,
        Err(_) => false,
    }
}

/// Classifies one attempt from its answer and, for a 5xx or a timeout, the session's lock as
/// found right after it.
pub fn classify(
    answer: &Result<Response, HttpError>,
    lock: Option<&LockRecord>,
) -> (Outcome, String) {
    let busy = |l: &LockRecord| (Outcome::SessionBusy, lock_words(l));
    match answer {
        Ok(r) if (200..300).contains(&r.status) => (Outcome::Ok, String::new()),
        Ok(r) if r.status == 401 || r.status == 403 => (
            Outcome::AuthFailed,
            format!("the gateway refused the token ({})", r.status),
        ),
        Ok(r) if r.status >= 500 => match lock {
            Some(l) => busy(l),
            None => (
                Outcome::HttpError,
                format!("{}: {}", r.status, body_start(&r.body)),
            ),
        },
        Ok(r) => (
            Outcome::HttpError,
            format!("{}: {}", r.status, body_start(&r.body)),
        ),
        Err(HttpError::Timeout(d)) => match lock {
            Some(l) => busy(l),
            None => (
                Outcome::Timeout,
                format!("no answer within {}", humantime::format_duration(*d)),
            ),
        },
        Err(HttpError::Refused(_)) => (
            Outcome::NotReady,
            "connection refused: nothing listens on the gateway's port".into(),
        ),
        Err(HttpError::Broken(e)) => (Outcome::HttpError, strip_os_error(e).to_owned()),
    }
}

/// [`classify`], where an orphan turn claim on the session `key` (OpenClaw 2026.8+, which has
/// no lock files) explains the failure when no lock does: it answers 500 at once.
pub fn classify_attempt(
    answer: &Result<Response, HttpError>,
    lock: Option<&LockRecord>,
    turn: Option<&SessionTurn>,
    key: &str,
) -> (Outcome, String) {
    match (lock, turn) {
        (None, Some(t)) if t.state == TurnState::Orphan => {
            (Outcome::SessionBusy, describe_turn(key, t))
        }
        _ => classify(answer, lock),
    }
}

/// A session's lock in words: where it is, stale (and why), wedged, or who holds it; its age.
fn lock_words(lock: &LockRecord) -> String {
    let held = match (lock.status, lock.owner_state) {
        (Status::Wedged, _) => "wedged: held open past its max hold".to_owned(),
        (Status::Stale, _) => {
            let why: Vec<&str> = lock.reasons.iter().map(|r| r.as_str()).collect();
            match &lock.note {
                Some(n) => format!("stale ({}: {n})", why.join(", ")),
                None => format!("stale ({})", why.join(", ")),
            }
        }
        (Status::Held | Status::Unjudged, OwnerState::Alive) => format!(
            "held by live pid {}{}",
            lock.pid.unwrap_or_default(),
            lock.owner_name
                .as_ref()
                .map(|n| format!(" ({n})"))
                .unwrap_or_default()
        ),
        (Status::Held | Status::Unjudged, s) => format!("held, owner {}", s.as_str()),
        (Status::Unheld, _) => "held by nobody, not yet long enough to be stale".to_owned(),
    };
    format!(
        "session lock {} is {held}{}",
        lock.path,
        age(lock.age_seconds)
    )
}

/// `, 3m old`, or nothing when the age is not known.
fn age(seconds: Option<i64>) -> String {
    seconds
        .map(|a| {
            format!(
                ", {} old",
                crate::model::units::short_duration(chrono::TimeDelta::seconds(a))
            )
        })
        .unwrap_or_default()
}

/// The session `key` and its lock, in words.
pub fn describe(key: &str, lock: Option<&LockRecord>) -> String {
    match lock {
        None => format!("{key}: not locked"),
        Some(l) => format!("{key}: {}", lock_words(l)),
    }
}

/// What the user-session step says: its lock, else its turn (OpenClaw 2026.8+, `sqlite` when
/// the place is of that era), else "not locked", but only when the lock could be looked for;
/// `not_looked` says why it could not.
pub fn describe_user_session(
    key: &str,
    lock: Option<&LockRecord>,
    turn: Option<&SessionTurn>,
    sqlite: bool,
    not_looked: Option<&str>,
) -> String {
    match (lock, turn, not_looked) {
        (Some(l), _, _) => describe(key, Some(l)),
        (None, Some(t), _) => describe_turn(key, t),
        (None, None, _) if sqlite => {
            format!("{key}: no turn in flight, no claim (OpenClaw 2026.8+, SQLite)")
        }
        (None, None, None) => format!("{key}: not locked"),
        (None, None, Some(why)) => format!("{key}: could not look ({why})"),
    }
}

/// A session's turn in words, as the probe prints it.
pub fn describe_turn(key: &str, t: &SessionTurn) -> String {
    let run = t.claim.as_ref().map_or("-", |c| c.run_id.as_str());
    match t.state {
        TurnState::Orphan => {
            let mut why: Vec<&str> = t.reasons.iter().map(|r| r.as_str()).collect();
            if let Some(shape) = t.shape {
                why.extend([shape.as_str(), shape.issue()]);
            }
            format!(
                "{key}: orphan turn claim (run {run}{}; {}): OpenClaw answers 500 to every message until the gateway restarts",
                age(t.claim_age_seconds),
                why.join(", ")
            )
        }
        TurnState::Running => format!(
            "{key}: a turn in flight (run {}{})",
            t.active_writer_run_id.as_deref().unwrap_or("-"),
            age(t.turn_age_seconds)
        ),
        TurnState::Claimed => format!(
            "{key}: claimed (run {run}): {}",
            t.note.as_deref().unwrap_or("")
        ),
        TurnState::Idle => format!("{key}: no turn in flight"),
        TurnState::Stuck => format!(
            "{key}: stuck ({}; run {}): {}",
            t.issue.unwrap_or("-"),
            t.active_writer_run_id.as_deref().unwrap_or("-"),
            t.note.as_deref().unwrap_or("")
        ),
    }
}

/// An HTTP failure in plain words, once (the I/O error's own text repeats its kind).
pub fn http_words(e: &HttpError, host: &str, port: u16) -> String {
    match e {
        HttpError::Refused(_) => {
            format!("connection refused: nothing listens on {host}:{port}")
        }
        HttpError::Timeout(d) => format!("no answer within {}", humantime::format_duration(*d)),
        HttpError::Broken(b) => format!("broken answer: {}", strip_os_error(b)),
    }
}

fn strip_os_error(s: &str) -> &str {
    s.find(" (os error").map_or(s, |i| &s[..i])
}

/// The start of an answer's body, on one line.
fn body_start(b: &str) -> String {
    let one_line: String = b.split_whitespace().collect::<Vec<_>>().join(" ");
    one_line.chars().take(160).collect()
}
#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    use crate::judge::claims::OrphanReason;
    use crate::model::claims::Claim;
    use crate::model::place::Location;
    use crate::report::record::Action;

    fn lock(stale: bool) -> LockRecord {
        LockRecord {
            location: Location::Host,
            path: "/s/a.jsonl.lock".into(),
            host_path: None,
            agent: "main".into(),
            kind: "transcript",
            session_id: Some("a".into()),
            session_key: Some("agent:main:openai-user:42".into()),
            pid: Some(7),
            owner_state: if stale {
                OwnerState::Thread
            } else {
                OwnerState::Alive
            },
            owner_name: Some("node".into()),
            created_at: None,
            age_seconds: Some(30),
            mtime: None,
            size: None,
            starttime: None,
            max_hold_ms: None,
            stale,
            status: if stale {
                crate::judge::lock::Status::Stale
            } else {
                crate::judge::lock::Status::Held
            },
            reasons: if stale {
                vec![crate::judge::lock::Reason::DeadPid]
            } else {
                vec![]
            },
            action: Action::Kept,
            note: None,
            content: None,
            held_open: None,
            holders: Vec::new(),
            visibility: "complete",
            visibility_note: None,
            wedged: false,
            fix: None,
        }
    }

    fn resp(status: u16) -> std::result::Result<Response, HttpError> {
        Ok(Response {
            status,
            body: r#"{"error":{"message":"internal error","type":"api_error"}}"#.into(),
        })
    }

    #[test]
    fn classification_uses_the_lock_not_the_body() {
        assert_eq!(classify(&resp(200), None).0, Outcome::Ok);
        assert_eq!(classify(&resp(401), None).0, Outcome::AuthFailed);
        assert_eq!(
            classify(&resp(403), Some(&lock(true))).0,
            Outcome::AuthFailed
        );
        let (o, d) = classify(&resp(500), Some(&lock(false)));
        assert_eq!(o, Outcome::SessionBusy);
        assert!(
            d.contains("held by live pid 7 (node)") && d.contains("/s/a.jsonl.lock"),
            "{d}"
        );
        let (o, d) = classify(&resp(500), Some(&lock(true)));
        assert_eq!(o, Outcome::SessionBusy);
        assert!(d.contains("stale (dead-pid)"), "{d}");
        let (o, d) = classify(&resp(500), None);
        assert_eq!(o, Outcome::HttpError);
        assert!(d.starts_with("500: {\"error\""), "{d}");
        assert_eq!(
            classify(&resp(404), Some(&lock(true))).0,
            Outcome::HttpError
        );
        let timeout = Err(HttpError::Timeout(Duration::from_secs(60)));
        assert_eq!(classify(&timeout, None).0, Outcome::Timeout);
        assert_eq!(
            classify(&timeout, Some(&lock(false))).0,
            Outcome::SessionBusy
        );
        assert_eq!(
            classify(&Err(HttpError::Refused("x".into())), None).0,
            Outcome::NotReady
        );
    }

    fn attempt(outcome: Outcome) -> Attempt {
        Attempt {
            attempt: 1,
            status: Some(200),
            elapsed_ms: 1,
            outcome,
            detail: String::new(),
        }
    }

    #[test]
    fn the_retry_path_is_exercised_only_by_a_failure_then_a_success() {
        use std::time::Duration;
        let at = |outcome, ms| Attempt {
            elapsed_ms: ms,
            ..attempt(outcome)
        };
        let (hold, timeout) = (Duration::from_secs(12), Duration::from_secs(60));
        let busy_then_ok = [at(Outcome::SessionBusy, 10_000), at(Outcome::Ok, 300)];
        assert_eq!(retry_path(&busy_then_ok, hold, timeout), (true, None));
        // Never answered: the verdict says so, nothing more to add.
        assert_eq!(
            retry_path(&[at(Outcome::Timeout, 60_000)], hold, timeout),
            (false, None)
        );
        // 2026.5+: the first attempt waits out the hold and succeeds.
        let (done, why) = retry_path(&[at(Outcome::Ok, 12_400)], hold, timeout);
        assert!(!done);
        let why = why.unwrap();
        assert!(
            why.starts_with("the retry path was not exercised: attempt 1 waited"),
            "{why}"
        );
        assert!(why.ends_with("--inject-lock 1m 10s"), "{why}");
        // Answered while the lock was held: the gateway did not wait on it.
        let (done, why) = retry_path(&[at(Outcome::Ok, 2_345)], hold, timeout);
        assert!(!done);
        assert!(
            why.unwrap()
                .contains("attempt 1 was answered in 2s 300ms while")
        );
    }

    #[test]
    fn a_lock_blocking_the_users_session_decides_the_verdict() {
        let ok = [attempt(Outcome::Ok)];
        assert_eq!(verdict(&ok, None, None), Outcome::Ok);
        // The probe's own session answered; the user's is stale-locked: the user is blocked.
        assert_eq!(verdict(&ok, Some(&lock(true)), None), Outcome::SessionBusy);
        // A live owner within OpenClaw's max hold is a reply in progress, not a block.
        assert_eq!(verdict(&ok, Some(&lock(false)), None), Outcome::Ok);
        let mut wedged = lock(false);
        wedged.age_seconds = Some(301);
        assert!(blocks(&wedged));
        assert_eq!(verdict(&ok, Some(&wedged), None), Outcome::SessionBusy);
        let retried = [attempt(Outcome::SessionBusy), attempt(Outcome::Ok)];
        assert_eq!(verdict(&retried, None, None), Outcome::OkAfterRetry);
        assert_eq!(verdict(&[], None, None), Outcome::NotReady);
        assert_eq!(
            verdict(&[attempt(Outcome::Timeout)], Some(&lock(true)), None),
            Outcome::SessionBusy
        );
    }

    #[test]
    fn the_remedy_follows_the_lock() {
        let (fix, keys) = remedy(Outcome::SessionBusy, [None, Some(&lock(true))], "c");
        assert_eq!(fix.as_deref(), Some("zaki-locks clean --container c"));
        assert_eq!(keys, ["agent:main:openai-user:42"]);
        // A live owner within the max hold: busy, but nothing to remove and no restart.
        assert_eq!(
            remedy(Outcome::SessionBusy, [Some(&lock(false)), None], "c"),
            (None, vec![])
        );
        let mut wedged = lock(false);
        wedged.age_seconds = Some(600);
        let (fix, keys) = remedy(Outcome::SessionBusy, [None, Some(&wedged)], "c");
        assert!(fix.unwrap().starts_with("docker restart c"));
        assert!(keys.is_empty());
        assert_eq!(
            remedy(Outcome::Ok, [Some(&lock(true)), None], "c"),
            (None, vec![])
        );
    }

    #[test]
    fn the_user_session_step_never_says_not_locked_when_it_could_not_look() {
        let key = "agent:main:openai-user:42";
        assert_eq!(
            describe_user_session(key, None, None, false, None),
            format!("{key}: not locked")
        );
        let d = describe_user_session(
            key,
            None,
            None,
            false,
            Some("container zaki-user-42 not found"),
        );
        assert!(
            d.contains("could not look") && !d.contains("not locked"),
            "{d}"
        );
        assert!(describe_user_session(key, Some(&lock(true)), None, false, None).contains("stale"));
    }

    #[test]
    fn http_failures_are_said_once() {
        let e = HttpError::Refused("Connection refused (os error 111)".into());
        let w = http_words(&e, "127.0.0.1", 29101);
        assert_eq!(w, "connection refused: nothing listens on 127.0.0.1:29101");
        let (_, d) = classify(&Err(e), None);
        assert_eq!(d.matches("efused").count(), 1, "{d}");
        let w = http_words(
            &HttpError::Broken("Connection reset by peer (os error 104)".into()),
            "h",
            1,
        );
        assert_eq!(w, "broken answer: Connection reset by peer");
    }

    #[test]
    fn every_outcome_has_one_name() {
        let names: Vec<&str> = Outcome::ALL.iter().map(|o| o.as_str()).collect();
        assert_eq!(
            names,
            [
                "ok",
                "ok-after-retry",
                "session-busy",
                "timeout",
                "not-ready",
                "auth-failed",
                "http-error"
            ]
        );
        for o in Outcome::ALL {
            assert_eq!(serde_json::to_value(o).unwrap(), o.as_str());
        }
    }

    #[test]
    fn exit_codes() {
        let codes: Vec<u8> = Outcome::ALL.iter().map(|o| o.exit_code()).collect();
        assert_eq!(codes, [0, 0, 3, 4, 5, 6, 6]);
    }

    fn turn(state: TurnState) -> SessionTurn {
        SessionTurn {
            agent: "main".into(),
            session_key: "agent:main:openai-user:42".into(),
            session_id: Some("a".into()),
            status: Some("done".into()),
            active_writer_run_id: Some("run-2".into()),
            turn_age_seconds: Some(5),
            claim: Some(Claim {
                owner: "gw".into(),
                id: "c1".into(),
                run_id: "run-1".into(),
                generation: None,
            }),
            claim_age_seconds: Some(90),
            state,
            reasons: if state == TurnState::Orphan {
                vec![OrphanReason::NoRunningTurn]
            } else {
                vec![]
            },
            note: Some("too fresh to judge".into()),
            shape: (state == TurnState::Orphan).then_some(Shape::OrphanClaim),
            issue: None,
        }
    }

    #[test]
    fn a_lock_is_described_from_the_lock_alone() {
        let key = "agent:main:openai-user:42";
        assert_eq!(
            describe(key, Some(&lock(false))),
            format!("{key}: session lock /s/a.jsonl.lock is held by live pid 7 (node), 30s old")
        );
        let mut stale = lock(true);
        stale.note = Some("pid 7 is a thread".into());
        stale.age_seconds = None;
        assert_eq!(
            describe(key, Some(&stale)),
            format!("{key}: session lock /s/a.jsonl.lock is stale (dead-pid: pid 7 is a thread)")
        );
        let mut wedged = lock(false);
        wedged.wedged = true;
        wedged.status = Status::Wedged;
        wedged.age_seconds = Some(400);
        assert_eq!(
            describe(key, Some(&wedged)),
            format!(
                "{key}: session lock /s/a.jsonl.lock is wedged: held open past its max hold, 6m40s old"
            )
        );
        let mut unknown = lock(false);
        unknown.owner_state = OwnerState::Unknown;
        assert!(describe(key, Some(&unknown)).contains("is held, owner unknown"));
        assert_eq!(describe(key, None), format!("{key}: not locked"));
        // What an attempt says of a lock is what the user-session step says of it.
        let (_, detail) = classify(&resp(500), Some(&wedged));
        assert_eq!(format!("{key}: {detail}"), describe(key, Some(&wedged)));
    }

    #[test]
    fn the_user_session_step_says_the_lock_then_the_turn_then_whether_it_looked() {
        let key = "agent:main:openai-user:42";
        let orphan = turn(TurnState::Orphan);
        // A lock beats the turn.
        let d = describe_user_session(key, Some(&lock(true)), Some(&orphan), true, None);
        assert!(d.contains("session lock") && d.contains("stale"), "{d}");
        let d = describe_user_session(key, None, Some(&orphan), true, None);
        assert_eq!(
            d,
            format!(
                "{key}: orphan turn claim (run run-1, 1m30s old; no-running-turn, orphan-claim, openclaw/openclaw#146692): OpenClaw answers 500 to every message until the gateway restarts"
            )
        );
        assert_eq!(
            describe_user_session(key, None, None, true, None),
            format!("{key}: no turn in flight, no claim (OpenClaw 2026.8+, SQLite)")
        );
        assert_eq!(
            describe_user_session(key, None, None, false, Some("Docker is not reachable")),
            format!("{key}: could not look (Docker is not reachable)")
        );
    }

    #[test]
    fn turns_in_words() {
        let key = "k";
        assert_eq!(
            describe_turn(key, &turn(TurnState::Running)),
            "k: a turn in flight (run run-2, 5s old)"
        );
        assert_eq!(
            describe_turn(key, &turn(TurnState::Claimed)),
            "k: claimed (run run-1): too fresh to judge"
        );
        assert_eq!(
            describe_turn(key, &turn(TurnState::Idle)),
            "k: no turn in flight"
        );
    }

    #[test]
    fn only_a_5xx_or_a_timeout_sends_the_probe_looking_for_the_lock() {
        assert!(needs_evidence(&resp(500)));
        assert!(needs_evidence(&resp(503)));
        assert!(needs_evidence(&Err(HttpError::Timeout(
            Duration::from_secs(1)
        ))));
        assert!(!needs_evidence(&resp(200)));
        assert!(!needs_evidence(&resp(401)));
        assert!(!needs_evidence(&resp(404)));
        assert!(!needs_evidence(&Err(HttpError::Refused("x".into()))));
        assert!(!needs_evidence(&Err(HttpError::Broken("x".into()))));
    }

    #[test]
    fn an_orphan_claim_explains_a_500_when_no_lock_does() {
        let key = "agent:main:openai-user:zaki-locks-probe";
        let orphan = turn(TurnState::Orphan);
        let (o, d) = classify_attempt(&resp(500), None, Some(&orphan), key);
        assert_eq!(o, Outcome::SessionBusy);
        assert!(d.starts_with(&format!("{key}: orphan turn claim")), "{d}");
        // A turn in flight is no explanation: the 500 stays an HTTP error.
        let running = turn(TurnState::Running);
        assert_eq!(
            classify_attempt(&resp(500), None, Some(&running), key).0,
            Outcome::HttpError
        );
        // A lock found is the explanation, whatever the turn.
        let (o, d) = classify_attempt(&resp(500), Some(&lock(true)), Some(&orphan), key);
        assert_eq!(o, Outcome::SessionBusy);
        assert!(d.starts_with("session lock"), "{d}");
        assert_eq!(classify_attempt(&resp(200), None, None, key).0, Outcome::Ok);
    }

    fn findings(verdict: Outcome) -> Findings<'static> {
        Findings {
            verdict,
            session_lock: None,
            user_session_lock: None,
            session_turn: None,
            user_session_turn: None,
        }
    }

    #[test]
    fn the_advice_names_the_fix_that_frees_the_session() {
        let stale = lock(true);
        let f = Findings {
            user_session_lock: Some(&stale),
            ..findings(Outcome::SessionBusy)
        };
        let a = advise(f, "c");
        assert_eq!(a.fix.as_deref(), Some("zaki-locks clean --container c"));
        assert_eq!(a.stale_keys, ["agent:main:openai-user:42"]);
        assert_eq!(a.note, None);
        // An orphan claim blocked the probe: only a restart of the gateway frees it.
        let orphan = turn(TurnState::Orphan);
        let f = Findings {
            session_turn: Some(&orphan),
            ..findings(Outcome::SessionBusy)
        };
        assert_eq!(
            advise(f, "c").fix.as_deref(),
            Some("zaki-locks clean --restart-orphaned --container c")
        );
        // The probe's own session answered, the user's has an orphan claim: a note, no fix.
        let f = Findings {
            user_session_turn: Some(&orphan),
            ..findings(Outcome::Ok)
        };
        let a = advise(f, "c");
        assert_eq!(a.fix, None);
        assert!(
            a.note
                .as_deref()
                .is_some_and(|n| n.contains("orphan turn claim") && n.contains("--container c")),
            "{a:?}"
        );
        // The probe's own session answered, the user's is stuck: the verdict is the user's,
        // with the fix of its shape.
        let ok = [attempt(Outcome::Ok)];
        assert_eq!(verdict(&ok, None, Some(&orphan)), Outcome::SessionBusy);
        assert_eq!(
            verdict(&ok, None, Some(&turn(TurnState::Running))),
            Outcome::Ok
        );
        let f = Findings {
            user_session_turn: Some(&orphan),
            ..findings(Outcome::SessionBusy)
        };
        assert_eq!(
            advise(f, "c").fix.as_deref(),
            Some("zaki-locks clean --restart-orphaned --container c")
        );
        let mut wedge = turn(TurnState::Stuck);
        wedge.shape = Some(Shape::RecoveryWedge);
        let f = Findings {
            user_session_turn: Some(&wedge),
            ..findings(Outcome::SessionBusy)
        };
        let fix = advise(f, "c").fix.unwrap();
        assert!(fix.contains("doctor --session-sqlite recover"), "{fix}");
        // Held open past its max hold (but young, so not a block): restart the container.
        let mut wedged = lock(false);
        wedged.wedged = true;
        wedged.status = Status::Wedged;
        let f = Findings {
            session_lock: Some(&wedged),
            ..findings(Outcome::SessionBusy)
        };
        assert_eq!(advise(f, "c").fix.as_deref(), Some("docker restart c"));
        // Not busy: a wedged lock of the probe's session asks for nothing.
        let f = Findings {
            session_lock: Some(&wedged),
            ..findings(Outcome::Ok)
        };
        assert_eq!(advise(f, "c"), Advice::default());
    }
}
