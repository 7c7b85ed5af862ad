//! The probe's findings as data: what `probe --format json` prints and the metrics are made
//! of (by the caller; this module renders nothing).
//! Filled in by `commands::probe`.

use serde::Serialize;

use crate::judge::claims::SessionTurn;
use crate::report::record::LockRecord;

use crate::model::exit_codes::Exit;
use crate::model::names::named;

named! {
    /// What one attempt (or the whole probe) came to.
    pub enum Outcome {
        Ok => "ok",
        OkAfterRetry => "ok-after-retry",
        SessionBusy => "session-busy",
        Timeout => "timeout",
        NotReady => "not-ready",
        AuthFailed => "auth-failed",
        HttpError => "http-error",
    }
}

impl Outcome {
    pub const ALL: [Outcome; 7] = [
        Outcome::Ok,
        Outcome::OkAfterRetry,
        Outcome::SessionBusy,
        Outcome::Timeout,
        Outcome::NotReady,
        Outcome::AuthFailed,
        Outcome::HttpError,
    ];

    pub fn exit_code(self) -> u8 {
        self.exit().code()
    }

    /// The exit status of a probe that came to this verdict (see `exit_codes::PROBE`).
    pub fn exit(self) -> Exit {
        match self {
            Outcome::Ok | Outcome::OkAfterRetry => Exit::Success,
            Outcome::SessionBusy => Exit::Probe(3),
            Outcome::Timeout => Exit::Probe(4),
            Outcome::NotReady => Exit::Probe(5),
            Outcome::AuthFailed | Outcome::HttpError => Exit::Probe(6),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Attempt {
    pub attempt: u32,
    pub status: Option<u16>,
    pub elapsed_ms: u64,
    pub outcome: Outcome,
    pub detail: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Health {
    pub status: Option<u16>,
    pub elapsed_ms: u64,
    pub error: Option<String>,
}

/// Every field of `probe --format json`, with its meaning: the list `man zaki-locks-probe`
/// prints under JSON OUTPUT (a test serializes a report and fails on a field missing here).
pub const JSON_FIELDS: &[(&str, &str)] = &[
    ("user", "the Telegram user id probed"),
    ("container", "the user's container (--prefix and the id)"),
    (
        "container_state",
        "running, restarting, exited, missing or unknown",
    ),
    (
        "uptime_seconds",
        "how long the container has been up, or null",
    ),
    ("port", "the gateway's port, from the router table"),
    ("session_key", "the session the probe talked to"),
    (
        "health",
        "GET /health: status (HTTP status or null), elapsed_ms, error",
    ),
    (
        "health.status",
        "the HTTP status, or null when there was no answer",
    ),
    ("health.elapsed_ms", "how long it took"),
    ("health.error", "why there was no answer, or null"),
    ("attempts", "each attempt, as the router makes them"),
    ("attempts[].attempt", "its number, from 1"),
    (
        "attempts[].status",
        "the HTTP status, or null when there was no answer",
    ),
    ("attempts[].elapsed_ms", "how long it took"),
    (
        "attempts[].outcome",
        "ok, session-busy, timeout, not-ready, auth-failed or http-error",
    ),
    ("attempts[].detail", "what came back, in words"),
    (
        "verdict",
        "ok, ok-after-retry, session-busy, timeout, not-ready, auth-failed or http-error (the exit status follows it)",
    ),
    (
        "session_lock",
        "the lock that blocked the probe's session: a lock object as in zaki-locks(1) JSON OUTPUT, or null",
    ),
    (
        "user_session_lock",
        "the user's own session's lock (a lock object), or null",
    ),
    (
        "session_turn",
        "OpenClaw 2026.8+: the orphan turn claim that blocked the probe's session, or null",
    ),
    (
        "user_session_turn",
        "OpenClaw 2026.8+: the user's session's turn or claim, or null",
    ),
    (
        "user_session_error",
        "why the user's session could not be looked at (Docker unreachable, container missing), or null",
    ),
    (
        "fix",
        "the command that removes the lock or claim blocking the session, or null",
    ),
    ("cleaned", "--clean-on-failure removed the stale lock"),
    (
        "retry_exercised",
        "with --inject-lock: an attempt failed while the lock was held and a later one succeeded \
         (false: the retry path was not tested, a note says why); null without it",
    ),
    ("notes", "anything else worth knowing"),
];

/// The JSON document of `probe --format json` (its fields: [`JSON_FIELDS`]).
#[derive(Debug, Clone, Serialize)]
pub struct ProbeReport {
    pub user: String,
    pub container: String,
    pub container_state: String,
    pub uptime_seconds: Option<i64>,
    pub port: u16,
    pub session_key: String,
    pub health: Health,
    pub attempts: Vec<Attempt>,
    pub verdict: Outcome,
    pub session_lock: Option<LockRecord>,
    pub user_session_lock: Option<LockRecord>,
    /// OpenClaw 2026.8+: the orphan turn claim that blocked the probe's session, if one did.
    pub session_turn: Option<SessionTurn>,
    /// OpenClaw 2026.8+: the user's session's turn and claim, when it has one.
    pub user_session_turn: Option<SessionTurn>,
    /// Why the user's session could not be looked at (Docker unreachable, container missing);
    /// `null` when it was.
    pub user_session_error: Option<String>,
    /// The command that removes the stale lock blocking the session, when one does.
    pub fix: Option<String>,
    /// `--clean-on-failure` removed the stale lock.
    pub cleaned: bool,
    /// `--inject-lock`: whether the retry path was tested (a failure, then a success).
    pub retry_exercised: Option<bool>,
    pub notes: Vec<String>,
}

impl ProbeReport {
    /// The report before anything was tried: state unknown, no attempt, `not-ready`.
    pub fn new(user: &str, container: &str, port: u16, session_key: String) -> ProbeReport {
        ProbeReport {
            user: user.to_owned(),
            container: container.to_owned(),
            container_state: "unknown".into(),
            uptime_seconds: None,
            port,
            session_key,
            health: Health {
                status: None,
                elapsed_ms: 0,
                error: None,
            },
            attempts: Vec::new(),
            verdict: Outcome::NotReady,
            session_lock: None,
            user_session_lock: None,
            session_turn: None,
            user_session_turn: None,
            user_session_error: None,
            fix: None,
            cleaned: false,
            retry_exercised: None,
            notes: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every field of a probe report with an attempt is in `JSON_FIELDS`, and every field listed
    /// there is one the report has.
    #[test]
    fn every_probe_json_field_is_documented() {
        let mut r = ProbeReport::new("42", "zaki-user-42", 1, "k".into());
        r.attempts.push(Attempt {
            attempt: 1,
            status: Some(200),
            elapsed_ms: 1,
            outcome: Outcome::Ok,
            detail: String::new(),
        });
        let v = serde_json::to_value(&r).unwrap();
        let mut have = Vec::new();
        for (k, v) in v.as_object().unwrap() {
            have.push(k.clone());
            let (inner, sep) = match v {
                serde_json::Value::Array(a) => (a.first(), "[]."),
                o @ serde_json::Value::Object(_) => (Some(o), "."),
                _ => (None, ""),
            };
            if let Some(serde_json::Value::Object(o)) = inner {
                have.extend(o.keys().map(|f| format!("{k}{sep}{f}")));
            }
        }
        let listed: Vec<&str> = JSON_FIELDS.iter().map(|(f, _)| *f).collect();
        for h in &have {
            assert!(
                listed.contains(&h.as_str()),
                "probe JSON field `{h}` is not in JSON_FIELDS"
            );
        }
        for l in &listed {
            assert!(
                have.iter().any(|h| h == l),
                "JSON_FIELDS lists `{l}`, which the report lacks"
            );
        }
    }
}
