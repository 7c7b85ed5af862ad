//! `probe`: send a message to a user's gateway exactly as the router does, retry as it does, and
//! explain every failure from evidence: the session's lock, judged by the one policy.
//!
//! The gateway never says "locked": a blocked session answers HTTP 500 "internal error" after
//! its 10 s acquire timeout. So after a 5xx or a timeout the probe looks at the session's lock
//! itself, on the container's bind mount or through exec, the same way `scan` does.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::Utc;
use color_eyre::eyre::{Result, eyre};
use serde::Serialize;

use crate::config::{self, ProbeOutput, TalkAs};
use crate::docker;
use crate::exit_codes::Exit;
use crate::http::{self, HttpError, Response};
use crate::observe::{Site, Snapshot};
use crate::pipeline::{self, Judged};
use crate::place::{Location, PidView};
use crate::policy::{OwnerState, Policy};
use crate::remove::{self, Outcome as Removal};
use crate::report::{Action, LockRecord};
use crate::router;
use crate::sessions::SessionIndex;

/// What one attempt (or the whole probe) came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Ok,
    OkAfterRetry,
    SessionBusy,
    Timeout,
    NotReady,
    AuthFailed,
    HttpError,
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

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::OkAfterRetry => "ok-after-retry",
            Outcome::SessionBusy => "session-busy",
            Outcome::Timeout => "timeout",
            Outcome::NotReady => "not-ready",
            Outcome::AuthFailed => "auth-failed",
            Outcome::HttpError => "http-error",
        }
    }

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

/// A lock that blocks the user's bot: stale (OpenClaw waits up to 30 min before reclaiming
/// it), or held by a live owner past OpenClaw's 5-minute max hold (wedged).
pub fn blocks(lock: &LockRecord) -> bool {
    lock.stale
        || (lock.owner_state == OwnerState::Alive
            && lock
                .age_seconds
                .is_some_and(|a| a as u64 > crate::policy::MIN_SAFE_THRESHOLD.as_secs()))
}

/// The probe's verdict, about the user's bot: a lock blocking the user's own session makes it
/// `session-busy` whatever the probe's own session did; otherwise the first success (`ok` or
/// `ok-after-retry`), else the last attempt's outcome (`not-ready` when none was made).
pub fn verdict(attempts: &[Attempt], user_lock: Option<&LockRecord>) -> Outcome {
    if user_lock.is_some_and(blocks) {
        return Outcome::SessionBusy;
    }
    match attempts.iter().position(|a| a.outcome == Outcome::Ok) {
        Some(0) => Outcome::Ok,
        Some(_) => Outcome::OkAfterRetry,
        None => attempts.last().map_or(Outcome::NotReady, |a| a.outcome),
    }
}

/// What fixes a `session-busy` verdict, and the sessions whose stale locks
/// `--clean-on-failure` removes: a stale lock (the probe's or the user's) is removed by
/// `clean`; a live owner past the max hold is wedged, and only a restart frees it.
pub fn remedy(
    verdict: Outcome,
    locks: [&Option<LockRecord>; 2],
    container: &str,
) -> (Option<String>, Vec<String>) {
    if verdict != Outcome::SessionBusy {
        return (None, Vec::new());
    }
    let locks: Vec<&LockRecord> = locks.into_iter().flatten().collect();
    let mut stale: Vec<String> = locks
        .iter()
        .filter(|l| l.stale)
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

/// What the user-session step says when the lock could be looked for (`looked`) or not.
pub fn describe_user_session(
    key: &str,
    lock: Option<&LockRecord>,
    looked: Result<(), &str>,
) -> String {
    match (lock, looked) {
        (Some(l), _) => describe(key, Some(l)),
        (None, Ok(())) => format!("{key}: not locked"),
        (None, Err(why)) => format!("{key}: could not look ({why})"),
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

/// Classifies one attempt from its answer and, for a 5xx or a timeout, the session's lock as
/// found right after it. Pure: the evidence is gathered by the caller.
pub fn classify(
    answer: &std::result::Result<Response, HttpError>,
    lock: Option<&LockRecord>,
) -> (Outcome, String) {
    let busy = |lock: &LockRecord| {
        let held = if lock.wedged {
            "wedged: held open past its max hold".to_owned()
        } else if lock.stale {
            let why: Vec<&str> = lock.reasons.iter().map(|r| r.as_str()).collect();
            match &lock.note {
                Some(n) => format!("stale ({}: {n})", why.join(", ")),
                None => format!("stale ({})", why.join(", ")),
            }
        } else {
            match lock.owner_state {
                OwnerState::Alive => format!(
                    "held by live pid {}{}",
                    lock.pid.unwrap_or_default(),
                    lock.owner_name
                        .as_ref()
                        .map(|n| format!(" ({n})"))
                        .unwrap_or_default()
                ),
                s => format!("held, owner {}", s.as_str()),
            }
        };
        let age = lock
            .age_seconds
            .map(|a| {
                format!(
                    ", {} old",
                    crate::units::short_duration(chrono::TimeDelta::seconds(a))
                )
            })
            .unwrap_or_default();
        (
            Outcome::SessionBusy,
            format!("session lock {} is {held}{age}", lock.path),
        )
    };
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

fn body_start(b: &str) -> String {
    let one_line: String = b.split_whitespace().collect::<Vec<_>>().join(" ");
    one_line.chars().take(160).collect()
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

/// The JSON document of `probe --format json` (schema in the README).
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
    pub session_turn: Option<crate::claims::SessionTurn>,
    /// OpenClaw 2026.8+: the user's session's turn and claim, when it has one.
    pub user_session_turn: Option<crate::claims::SessionTurn>,
    /// Why the user's session could not be looked at (Docker unreachable, container missing);
    /// `null` when it was.
    pub user_session_error: Option<String>,
    /// The command that removes the stale lock blocking the session, when one does.
    pub fix: Option<String>,
    /// `--clean-on-failure` removed the stale lock.
    pub cleaned: bool,
    pub notes: Vec<String>,
}

/// Prints the timeline as it happens (text format only).
struct Timeline {
    on: bool,
}

impl Timeline {
    fn step(&self, what: &str, text: &str) {
        if self.on {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "  {what:<13} {}", crate::escape::text(text));
            let _ = out.flush();
        }
    }
}

pub fn run(args: &config::Probe) -> Result<Exit> {
    let started = Instant::now();
    let route = router::lookup(&args.users_file, &args.user)?;
    let policy = args.policy;
    let rt = pipeline::runtime()?;
    let container = args.container.clone();
    let session_user = session_user(args, &route);
    let key = |u: &str| format!("agent:{}:openai-user:{u}", args.agent);
    let t = Timeline {
        on: args.output == ProbeOutput::Text,
    };
    if t.on {
        println!(
            "probe user {} → {container}, port {}{}",
            route.user,
            route.port,
            if args.talk_as == TalkAs::User {
                " (as the user)"
            } else {
                ""
            }
        );
    }
    t.step(
        "route",
        &format!(
            "{}: port {}, token ****",
            args.users_file.display(),
            route.port
        ),
    );

    let mut report = ProbeReport {
        user: route.user.clone(),
        container: container.clone(),
        container_state: "unknown".into(),
        uptime_seconds: None,
        port: route.port,
        session_key: key(&session_user),
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
    };

    let probe = Probe {
        args,
        route: &route,
        container: &container,
        policy,
    };
    let injected: Mutex<Option<Injected>> = Mutex::new(None);
    let outcome = rt.block_on(async {
        tokio::select! {
            r = probe.run(&t, &mut report, &injected) => r.map(|()| None),
            _ = tokio::signal::ctrl_c() => Ok(Some(Exit::Interrupted(nix::sys::signal::Signal::SIGINT))),
        }
    });
    // Every path ends here, Ctrl-C included: the injected lock never outlives the probe.
    let injected = injected.lock().expect("not poisoned").take();
    if let Some((inj, what)) = injected.and_then(|i| i.release().map(|w| (i, w))) {
        t.step("inject-lock", &format!("{what}: {}", inj.path.display()));
    }
    if let Some(code) = outcome? {
        eprintln!("zaki-locks: interrupted: the injected lock, if any, was removed");
        return Ok(code);
    }
    let metrics =
        (args.metrics_file.is_some() || args.output == ProbeOutput::Prometheus).then(|| {
            let last = args.metrics_file.as_deref().and_then(|p| {
                crate::metrics::previous(p, "zaki_locks_probe_last_success_timestamp_seconds")
            });
            crate::metrics::probe(
                &report,
                started.elapsed().as_secs_f64(),
                last,
                args.metrics_user_label,
            )
        });
    match args.output {
        ProbeOutput::Json => {
            println!(
                "{}",
                serde_json::to_string_pretty(&report).expect("serialises")
            )
        }
        ProbeOutput::Prometheus => print!("{}", metrics.as_deref().unwrap_or_default()),
        ProbeOutput::Text => {}
    }
    if let (Some(path), Some(text)) = (&args.metrics_file, &metrics)
        && let Err(e) = crate::metrics::write_atomic(path, text)
    {
        return Err(eyre!(
            "cannot write the metrics file {}: {e}",
            path.display()
        ));
    }
    Ok(report.verdict.exit())
}

struct Probe<'a> {
    args: &'a config::Probe,
    route: &'a router::Route,
    container: &'a str,
    policy: Policy,
}

impl Probe<'_> {
    async fn run(
        &self,
        t: &Timeline,
        report: &mut ProbeReport,
        injected: &Mutex<Option<Injected>>,
    ) -> Result<()> {
        let args = self.args;
        // Container state, from Docker.
        match self.container_state().await {
            Ok((state, uptime)) => {
                let up = uptime
                    .map(|s| {
                        format!(
                            ", up {}",
                            crate::units::short_duration(chrono::TimeDelta::seconds(s))
                        )
                    })
                    .unwrap_or_default();
                t.step("container", &format!("{} {state}{up}", self.container));
                report.container_state = state;
                report.uptime_seconds = uptime;
            }
            Err(e) => {
                t.step("container", &format!("{}: {e}", self.container));
                report.notes.push(e);
            }
        }
        // Health.
        let started = Instant::now();
        let h = self
            .send("GET", "/health", None, Duration::from_secs(5))
            .await;
        report.health = Health {
            status: h.as_ref().ok().map(|r| r.status),
            elapsed_ms: started.elapsed().as_millis() as u64,
            error: h
                .as_ref()
                .err()
                .map(|e| http_words(e, &args.gateway_host, self.route.port)),
        };
        t.step(
            "health",
            &match &h {
                Ok(r) => format!(
                    "GET /health → {} in {} ms",
                    r.status, report.health.elapsed_ms
                ),
                Err(e) => format!(
                    "GET /health → {}",
                    http_words(e, &args.gateway_host, self.route.port)
                ),
            },
        );

        // The user's own session: looked at, never written to (unless --as-user).
        let (locks, seen_places, looked, dbs) = self.locks().await;
        let user_key = format!("agent:{}:openai-user:{}", args.agent, self.route.user);
        report.user_session_lock = find(&locks, &user_key);
        report.user_session_error = looked.clone().err();
        report.user_session_turn = find_turn(&dbs, &user_key);
        let said = match (&report.user_session_lock, &report.user_session_turn) {
            (None, Some(turn)) => describe_turn(&user_key, turn),
            (None, None) if dbs.iter().any(|d| d.era == crate::claims::Era::Sqlite) => {
                format!("{user_key}: no turn in flight, no claim (OpenClaw 2026.8+, SQLite)")
            }
            (lock, _) => describe_user_session(
                &user_key,
                lock.as_ref(),
                looked.as_ref().map(|_| ()).map_err(String::as_str),
            ),
        };
        t.step("user session", &said);

        if let Some(hold) = args.inject_lock {
            let inj = self.inject(t, report, &seen_places, hold).await?;
            let site = inj.clone_for_timer();
            *injected.lock().expect("not poisoned") = Some(inj);
            tokio::spawn(async move {
                tokio::time::sleep(hold).await;
                let _ = site.release();
            });
        }

        // The message, with the router's retries.
        let body = serde_json::json!({
            "model": "openclaw",
            "user": session_user(args, self.route),
            "messages": [{"role": "user", "content": args.message}],
        })
        .to_string();
        for n in 1..=args.attempts {
            let started = Instant::now();
            let answer = self
                .send(
                    "POST",
                    "/v1/chat/completions",
                    Some(body.as_bytes()),
                    args.timeout,
                )
                .await;
            let elapsed = started.elapsed();
            let failed_server_side = match &answer {
                Ok(r) => r.status >= 500,
                Err(HttpError::Timeout(_)) => true,
                Err(_) => false,
            };
            let (lock, turn) = if failed_server_side {
                let (locks, _, _, dbs) = self.locks().await;
                (
                    find(&locks, &report.session_key),
                    find_turn(&dbs, &report.session_key),
                )
            } else {
                (None, None)
            };
            let (outcome, detail) = match (&lock, &turn) {
                // OpenClaw 2026.8+: no lock files; an orphan turn claim answers 500 at once.
                (None, Some(t)) if t.state == crate::claims::TurnState::Orphan => {
                    (Outcome::SessionBusy, describe_turn(&report.session_key, t))
                }
                _ => classify(&answer, lock.as_ref()),
            };
            if turn
                .as_ref()
                .is_some_and(|t| t.state == crate::claims::TurnState::Orphan)
            {
                report.session_turn = turn;
            }
            if lock.is_some() {
                report.session_lock = lock;
            }
            let status = answer.as_ref().ok().map(|r| r.status);
            t.step(
                &format!("attempt {n}"),
                &format!(
                    "POST /v1/chat/completions → {} in {:.1}s: {}{}",
                    status.map_or_else(|| "no answer".into(), |s| s.to_string()),
                    elapsed.as_secs_f64(),
                    outcome.as_str(),
                    if detail.is_empty() {
                        String::new()
                    } else {
                        format!(" ({detail})")
                    }
                ),
            );
            report.attempts.push(Attempt {
                attempt: n,
                status,
                elapsed_ms: elapsed.as_millis() as u64,
                outcome,
                detail,
            });
            if outcome == Outcome::Ok {
                break;
            }
            if n < args.attempts {
                let wait = args.backoff * n;
                t.step("wait", &humantime::format_duration(wait).to_string());
                tokio::time::sleep(wait).await;
            }
        }
        report.verdict = verdict(&report.attempts, report.user_session_lock.as_ref());
        let (fix, stale_keys) = remedy(
            report.verdict,
            [&report.session_lock, &report.user_session_lock],
            self.container,
        );
        if args.clean_on_failure && !stale_keys.is_empty() {
            let mut all = true;
            for key in &stale_keys {
                all &= self.clean_session(key).await;
            }
            report.cleaned = all;
            t.step(
                "clean",
                if report.cleaned {
                    "removed the stale lock"
                } else {
                    "the stale lock could not be removed"
                },
            );
        }
        report.fix = fix;
        if report.verdict == Outcome::SessionBusy && report.session_turn.is_some() {
            report.fix = Some(format!(
                "zaki-locks clean --restart-orphaned --container {}",
                self.container
            ));
        }
        if report.fix.is_none()
            && report
                .user_session_turn
                .as_ref()
                .is_some_and(|t| t.state == crate::claims::TurnState::Orphan)
        {
            let note = format!(
                "the user's session has an orphan turn claim: every message of the user fails until the gateway restarts (zaki-locks clean --restart-orphaned --container {})",
                self.container
            );
            t.step("note", &note);
            report.notes.push(note);
        }
        if report.fix.is_none()
            && report.verdict == Outcome::SessionBusy
            && report.session_lock.as_ref().is_some_and(|l| l.wedged)
        {
            // Held open past its max hold: the gateway's run is stuck; removing the file
            // cannot help it (issue 10), restarting its container does.
            report.fix = Some(format!("docker restart {}", self.container));
        }
        if t.on {
            let fix = match (&report.fix, report.cleaned) {
                (Some(f), false) => format!("; to fix: {f}"),
                _ => String::new(),
            };
            println!(
                "verdict: {}{}",
                report.verdict.as_str(),
                crate::escape::text(&fix)
            );
        }
        Ok(())
    }

    async fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
        timeout: Duration,
    ) -> std::result::Result<Response, HttpError> {
        let auth = format!("Bearer {}", self.route.token);
        let headers = [
            ("Authorization", auth.as_str()),
            ("Content-Type", "application/json"),
        ];
        http::request(
            &self.args.gateway_host,
            self.route.port,
            method,
            path,
            &headers,
            body,
            timeout,
        )
        .await
    }

    async fn container_state(&self) -> std::result::Result<(String, Option<i64>), String> {
        let engine = docker::connect(self.args.docker_host.as_deref(), self.args.places.timeout)
            .await
            .map_err(|e| e.to_string())?;
        let list = engine.containers().await.map_err(|e| e.to_string())?;
        let Some(c) = list.iter().find(|c| c.name == self.container) else {
            return Ok(("missing".into(), None));
        };
        let uptime = if c.running() {
            engine
                .details(&c.id)
                .await
                .ok()
                .and_then(|d| d.started_at)
                .and_then(|s| chrono::DateTime::parse_from_rfc3339(&s).ok())
                .map(|s| (Utc::now() - s.with_timezone(&Utc)).num_seconds())
        } else {
            None
        };
        Ok((c.state.clone(), uptime))
    }

    /// Every lock of the user's container, judged, the places read from this host, and
    /// whether the container's state dirs could be looked at (else why not).
    async fn locks(
        &self,
    ) -> (
        Vec<Judged>,
        Vec<crate::place::Place>,
        std::result::Result<(), String>,
        Vec<crate::claims::PlaceDb>,
    ) {
        let seen = pipeline::look_async(&self.args.places, &self.policy, Utc::now()).await;
        let looked = looked_at(&seen, self.container);
        (seen.judged, seen.host_places, looked, seen.dbs)
    }

    async fn clean_session(&self, key: &str) -> bool {
        let mut seen = pipeline::look_async(&self.args.places, &self.policy, Utc::now()).await;
        seen.judged
            .retain(|j| j.obs.session_key.as_deref() == Some(key));
        let out = pipeline::act_async(&seen, false, self.args.places.timeout, 1).await;
        out.contains(&Some(Removal::Removed))
    }

    /// Places a lock on the probe's session, owned by the container's pid 1 (alive in the
    /// container, so OpenClaw waits on it), exactly as OpenClaw writes one.
    async fn inject(
        &self,
        t: &Timeline,
        report: &mut ProbeReport,
        places: &[crate::place::Place],
        hold: Duration,
    ) -> Result<Injected> {
        let place = places
            .iter()
            .find(|p| {
                p.location == Location::Container(self.container.to_owned())
                    && matches!(p.pids, PidView::Container { .. })
            })
            .ok_or_else(|| {
                eyre!(
                    "--inject-lock needs {}'s state dir bind-mounted from this host and the container running",
                    self.container
                )
            })?;
        let agent =
            crate::safefs::plain_name(&self.args.agent).map_err(|e| eyre!("--agent {e}"))?;
        let dir = place.state_dir.join("agents").join(agent).join("sessions");
        // Every component below the state dir is opened relative to its parent, never followed
        // through a symlink: the tenant owns all of them and may swap any at any time.
        let sessions = {
            use crate::safefs::{dir_at, operator_dir};
            let open = || -> std::result::Result<_, crate::safefs::OpenError> {
                let state = operator_dir(&place.state_dir)?;
                let agents = dir_at(&state, std::ffi::OsStr::new("agents"))?;
                let agent = dir_at(&agents, std::ffi::OsStr::new(agent))?;
                dir_at(&agent, std::ffi::OsStr::new("sessions"))
            };
            open().map_err(|e| {
                eyre!(
                    "cannot open {}: {e}: no lock injected",
                    crate::escape::path(&dir)
                )
            })?
        };
        let store = |key: &str| -> Result<Option<String>> {
            use crate::safefs::OpenError;
            match crate::safefs::read_at(
                &sessions,
                std::ffi::OsStr::new("sessions.json"),
                crate::sessions::MAX_STORE_BYTES,
            ) {
                Ok((b, _)) => Ok(SessionIndex::parse_key(&b, key).session_id_for(key)),
                Err(OpenError::Gone) => Ok(None),
                Err(e) => Err(eyre!(
                    "cannot read {}: {e}: no lock injected",
                    crate::escape::path(&dir.join("sessions.json"))
                )),
            }
        };
        let mut sid = store(&report.session_key)?;
        if sid.is_none() {
            // First probe on this gateway: let OpenClaw create the probe's session.
            t.step(
                "inject-lock",
                "creating the probe's session first (one message)",
            );
            let body = serde_json::json!({
                "model": "openclaw",
                "user": session_user(self.args, self.route),
                "messages": [{"role": "user", "content": self.args.message}],
            })
            .to_string();
            let r = self
                .send(
                    "POST",
                    "/v1/chat/completions",
                    Some(body.as_bytes()),
                    self.args.timeout,
                )
                .await;
            if !matches!(&r, Ok(r) if (200..300).contains(&r.status)) {
                return Err(eyre!(
                    "cannot create the probe's session to lock it: {}",
                    match r {
                        Ok(r) => format!("HTTP {}", r.status),
                        Err(e) => e.to_string(),
                    }
                ));
            }
            sid = store(&report.session_key)?;
        }
        let sid = sid.ok_or_else(|| {
            eyre!(
                "the gateway did not record the probe's session in {}",
                crate::escape::path(&dir)
            )
        })?;
        // The id comes from the tenant's store: it names a file in this dir and nothing else.
        let sid = crate::safefs::plain_name(&sid).map_err(|e| {
            eyre!(
                "the session id of {} in {}/sessions.json {e}: no lock injected",
                report.session_key,
                crate::escape::path(&dir)
            )
        })?;
        let name = format!("{sid}.jsonl.lock");
        let path = dir.join(&name);
        let payload = format!(
            "{{\n  \"pid\": 1,\n  \"createdAt\": \"{}\"\n}}",
            crate::report::rfc3339(Utc::now())
        );
        // Held open until released, as OpenClaw holds its own: to the holder rule (and to a
        // `clean` that runs meanwhile) the injected lock is a live one.
        let handle = {
            use nix::fcntl::{OFlag, openat};
            let fd = openat(
                &sessions,
                name.as_str(),
                OFlag::O_WRONLY
                    | OFlag::O_CREAT
                    | OFlag::O_EXCL
                    | OFlag::O_NOFOLLOW
                    | OFlag::O_CLOEXEC,
                nix::sys::stat::Mode::from_bits_truncate(0o644),
            )
            .map_err(|e| eyre!("cannot create {}: {e}", crate::escape::path(&path)))?;
            let mut file = std::fs::File::from(fd);
            file.write_all(payload.as_bytes())?;
            file
        };
        let snapshot = crate::observe::snapshot_at(&sessions, std::ffi::OsStr::new(&name))
            .map_err(|_| eyre!("cannot read back {}", crate::escape::path(&path)))?;
        let st = nix::sys::stat::fstat(&sessions)?;
        let rel = dir
            .strip_prefix(&place.state_dir)
            .unwrap_or(&dir)
            .to_path_buf();
        t.step(
            "inject-lock",
            &format!(
                "{} held by the container's pid 1 for {}",
                path.display(),
                humantime::format_duration(hold)
            ),
        );
        Ok(Injected {
            path,
            site: Site::Host {
                state_dir: place.state_dir.clone(),
                rel_dir: rel,
                dir_id: (st.st_dev, st.st_ino),
                name: name.into(),
            },
            snapshot,
            released: std::sync::Arc::new(Mutex::new(false)),
            hold: std::sync::Arc::new(Mutex::new(Some(handle))),
        })
    }
}

fn session_user(args: &config::Probe, route: &router::Route) -> String {
    match &args.talk_as {
        TalkAs::Probe(name) => name.clone(),
        TalkAs::User => route.user.clone(),
    }
}

/// Whether `container`'s state dirs were looked at: Docker answered, the container exists and
/// runs, and its state dir was read (from the host or by exec).
fn looked_at(seen: &pipeline::Seen, container: &str) -> std::result::Result<(), String> {
    if let Some(p) = seen.problems.first() {
        return Err(p.to_string());
    }
    match seen.containers.iter().find(|c| c.name == container) {
        None => Err(format!("container {container} not found")),
        Some(c) => match &c.error {
            Some(e) => Err(e.clone()),
            None if c.observed == "none" => Err(format!(
                "no OpenClaw state dir found in {container} (set --container-state-dir)"
            )),
            None => Ok(()),
        },
    }
}

fn find(locks: &[Judged], key: &str) -> Option<LockRecord> {
    locks
        .iter()
        .find(|j| j.obs.session_key.as_deref() == Some(key))
        .map(|j| LockRecord::new(&j.obs, j.verdict.as_ref(), Action::Kept, None))
}

fn describe(key: &str, lock: Option<&LockRecord>) -> String {
    match lock {
        None => format!("{key}: not locked"),
        Some(l) => {
            let (_, d) = classify(&Err(HttpError::Timeout(Duration::ZERO)), Some(l));
            format!("{key}: {d}")
        }
    }
}

/// The session's turn in a SQLite-era place (OpenClaw 2026.8+), if it has a turn or a claim.
fn find_turn(dbs: &[crate::claims::PlaceDb], key: &str) -> Option<crate::claims::SessionTurn> {
    dbs.iter()
        .flat_map(|d| d.sessions.iter())
        .find(|s| s.session_key == key)
        .cloned()
}

/// A session's turn in words, as the probe prints it.
fn describe_turn(key: &str, t: &crate::claims::SessionTurn) -> String {
    use crate::claims::TurnState;
    let age = |s: Option<i64>| {
        s.map(|a| {
            format!(
                ", {} old",
                crate::units::short_duration(chrono::TimeDelta::seconds(a))
            )
        })
        .unwrap_or_default()
    };
    let run = t.claim.as_ref().map_or("-", |c| c.run_id.as_str());
    match t.state {
        TurnState::Orphan => {
            let why: Vec<&str> = t.reasons.iter().map(|r| r.as_str()).collect();
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
    }
}

/// The lock `--inject-lock` placed; released once, by the timer or at the end.
struct Injected {
    path: PathBuf,
    site: Site,
    snapshot: Snapshot,
    released: std::sync::Arc<Mutex<bool>>,
    /// The handle that holds it, closed right before the removal.
    hold: std::sync::Arc<Mutex<Option<std::fs::File>>>,
}

impl Injected {
    fn clone_for_timer(&self) -> Injected {
        Injected {
            path: self.path.clone(),
            site: self.site.clone(),
            snapshot: self.snapshot.clone(),
            released: self.released.clone(),
            hold: self.hold.clone(),
        }
    }

    /// Removes the lock if it is still the one placed; `None` if it was already released.
    fn release(&self) -> Option<&'static str> {
        let mut done = self.released.lock().expect("not poisoned");
        if *done {
            return None;
        }
        *done = true;
        drop(self.hold.lock().expect("not poisoned").take());
        Some(match remove::remove(&self.site, &self.snapshot) {
            Removal::Removed => "released",
            Removal::Gone => "already gone",
            Removal::Changed(_) => "changed since it was placed: left alone",
            Removal::Failed(_) => "could not be removed",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            reasons: if stale {
                vec![crate::policy::Reason::DeadPid]
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
    fn a_lock_blocking_the_users_session_decides_the_verdict() {
        let ok = [attempt(Outcome::Ok)];
        assert_eq!(verdict(&ok, None), Outcome::Ok);
        // The probe's own session answered; the user's is stale-locked: the user is blocked.
        assert_eq!(verdict(&ok, Some(&lock(true))), Outcome::SessionBusy);
        // A live owner within OpenClaw's max hold is a reply in progress, not a block.
        assert_eq!(verdict(&ok, Some(&lock(false))), Outcome::Ok);
        let mut wedged = lock(false);
        wedged.age_seconds = Some(301);
        assert!(blocks(&wedged));
        assert_eq!(verdict(&ok, Some(&wedged)), Outcome::SessionBusy);
        let retried = [attempt(Outcome::SessionBusy), attempt(Outcome::Ok)];
        assert_eq!(verdict(&retried, None), Outcome::OkAfterRetry);
        assert_eq!(verdict(&[], None), Outcome::NotReady);
        assert_eq!(
            verdict(&[attempt(Outcome::Timeout)], Some(&lock(true))),
            Outcome::SessionBusy
        );
    }

    #[test]
    fn the_remedy_follows_the_lock() {
        let none = None;
        let (fix, keys) = remedy(Outcome::SessionBusy, [&none, &Some(lock(true))], "c");
        assert_eq!(fix.as_deref(), Some("zaki-locks clean --container c"));
        assert_eq!(keys, ["agent:main:openai-user:42"]);
        // A live owner within the max hold: busy, but nothing to remove and no restart.
        assert_eq!(
            remedy(Outcome::SessionBusy, [&Some(lock(false)), &none], "c"),
            (None, vec![])
        );
        let mut wedged = lock(false);
        wedged.age_seconds = Some(600);
        let (fix, keys) = remedy(Outcome::SessionBusy, [&none, &Some(wedged)], "c");
        assert!(fix.unwrap().starts_with("docker restart c"));
        assert!(keys.is_empty());
        assert_eq!(
            remedy(Outcome::Ok, [&Some(lock(true)), &none], "c"),
            (None, vec![])
        );
    }

    #[test]
    fn the_user_session_step_never_says_not_locked_when_it_could_not_look() {
        let key = "agent:main:openai-user:42";
        assert_eq!(
            describe_user_session(key, None, Ok(())),
            format!("{key}: not locked")
        );
        let d = describe_user_session(key, None, Err("container zaki-user-42 not found"));
        assert!(
            d.contains("could not look") && !d.contains("not locked"),
            "{d}"
        );
        assert!(describe_user_session(key, Some(&lock(true)), Ok(())).contains("stale"));
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
    fn exit_codes() {
        let codes: Vec<u8> = Outcome::ALL.iter().map(|o| o.exit_code()).collect();
        assert_eq!(codes, [0, 0, 3, 4, 5, 6, 6]);
    }
}
