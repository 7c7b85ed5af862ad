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

/// The JSON document of `probe --format json` (schema in docs/reference.md).
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
            notes: Vec::new(),
        }
    }
}
