//! The probe's run, step by step: route, container, health, the user's session, the optional
//! injected lock, the attempts with the router's backoff, the verdict and its fix. Each step
//! gathers evidence and prints its line of the timeline; [`super::classify`] decides.

use std::time::Instant;

use chrono::Utc;
use color_eyre::eyre::Result;

use crate::act::remove::Outcome as Removal;
use crate::commands::config::{self, TalkAs};
use crate::commands::pass;
use crate::judge::claims::TurnState;
use crate::model::place::Place;
use crate::report::probe::Outcome;
use crate::sys::docker::{self, DockerError};
use crate::sys::http::HttpError;
use crate::sys::router;

use super::classify::{
    Findings, advise, classify_attempt, describe_user_session, http_words, needs_evidence,
    retry_path, verdict,
};
use super::evidence::Evidence;
use super::gateway::{self, Gateway};
use super::inject::{InjectError, Injected, Owner, SessionsDir, released_after};
use super::timeline::{self, Timeline};
use crate::report::probe::{Attempt, Health, ProbeReport};

/// How a probe ended.
#[derive(Debug)]
pub enum Ended {
    /// It came to a verdict (`report.verdict`, whose exit status is the probe's).
    Done(Box<ProbeReport>),
    /// Ctrl-C: stopped where it was, the injected lock (if any) removed; nothing to report.
    Interrupted,
}

/// Probes the user's gateway as `args` says, printing the timeline on `t` as it goes.
pub fn run(args: &config::Probe, t: &Timeline) -> Result<Ended> {
    let route = router::lookup(&args.users_file, &args.user)?;
    let rt = pass::runtime()?;
    let talking_as = gateway::session_user(&args.talk_as, &route.user);
    t.header(
        &route.user,
        &args.container,
        route.port,
        args.talk_as == TalkAs::User,
    );
    t.step(
        "route",
        &format!(
            "{}: port {}, token ****",
            args.users_file.display(),
            route.port
        ),
    );
    let mut report = ProbeReport::new(
        &route.user,
        &args.container,
        route.port,
        gateway::session_key(&args.agent, talking_as),
    );
    let probe = Probe {
        args,
        gateway: Gateway {
            host: &args.gateway_host,
            port: route.port,
            token: &route.token,
        },
        user: &route.user,
        t,
    };
    let mut injected = None;
    let interrupted = rt.block_on(async {
        tokio::select! {
            r = probe.run(&mut report, &mut injected) => r.map(|()| false),
            _ = tokio::signal::ctrl_c() => Ok(true),
        }
    });
    // Every path ends here, Ctrl-C included: the injected lock never outlives the probe.
    if let Some(inj) = injected.as_mut() {
        if let Some(what) = inj.release() {
            t.step("inject-lock", &format!("{what}: {}", inj.path.display()));
        }
        rt.block_on(inj.end_owner());
    }
    Ok(if interrupted? {
        Ended::Interrupted
    } else {
        Ended::Done(Box::new(report))
    })
}

/// One probe of one user's gateway.
struct Probe<'a> {
    args: &'a config::Probe,
    gateway: Gateway<'a>,
    /// The user probed (its key in the router table).
    user: &'a str,
    t: &'a Timeline,
}

impl Probe<'_> {
    /// Every step; an injected lock is left in `injected` for the caller to release.
    async fn run(
        &self,
        report: &mut ProbeReport,
        injected: &mut Option<Injected>,
    ) -> std::result::Result<(), InjectError> {
        self.container_step(report).await;
        self.health_step(report).await;
        let evidence = self.user_session_step(report).await;
        if let Some(hold) = self.args.inject_lock {
            *injected = Some(
                self.inject(&report.session_key, &evidence.host_places, hold)
                    .await?,
            );
        }
        let hold = self.args.inject_lock.unwrap_or_default();
        released_after(self.attempts_and_verdict(report), injected.as_mut(), hold).await;
        Ok(())
    }

    /// The container's state and uptime, from Docker; when Docker cannot say, a note.
    async fn container_step(&self, report: &mut ProbeReport) {
        let container = &self.args.container;
        match self.container_state().await {
            Ok((state, uptime)) => {
                let up = timeline::uptime(uptime);
                self.t
                    .step("container", &format!("{container} {state}{up}"));
                report.container_state = state;
                report.uptime_seconds = uptime;
            }
            Err(e) => {
                self.t.step("container", &format!("{container}: {e}"));
                report.notes.push(e.to_string());
            }
        }
    }

    async fn container_state(&self) -> std::result::Result<(String, Option<i64>), DockerError> {
        let engine = docker::connect(self.args.docker_host(), self.args.places.timeout).await?;
        let list = engine.containers().await?;
        let Some(c) = list.iter().find(|c| c.name == self.args.container) else {
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

    async fn health_step(&self, report: &mut ProbeReport) {
        let started = Instant::now();
        let h = self.gateway.health().await;
        let words = |e: &HttpError| http_words(e, self.gateway.host, self.gateway.port);
        report.health = Health {
            status: h.as_ref().ok().map(|r| r.status),
            elapsed_ms: started.elapsed().as_millis() as u64,
            error: h.as_ref().err().map(words),
        };
        let said = match &h {
            Ok(r) => format!(
                "GET /health → {} in {} ms",
                r.status, report.health.elapsed_ms
            ),
            Err(e) => format!("GET /health → {}", words(e)),
        };
        self.t.step("health", &said);
    }

    /// The user's own session: looked at, never written to (unless `--as-user`).
    async fn user_session_step(&self, report: &mut ProbeReport) -> Evidence {
        let evidence = self.look().await;
        let key = gateway::session_key(&self.args.agent, self.user);
        report.user_session_lock = evidence.lock(&key);
        report.user_session_turn = evidence.turn(&key);
        report.user_session_error = evidence.looked.as_ref().err().map(ToString::to_string);
        let said = describe_user_session(
            &key,
            report.user_session_lock.as_ref(),
            report.user_session_turn.as_ref(),
            evidence.sqlite(),
            report.user_session_error.as_deref(),
        );
        self.t.step("user session", &said);
        evidence
    }

    /// Locks the probe's session `key` (creating the session first when the gateway has not
    /// seen the probe yet).
    async fn inject(
        &self,
        key: &str,
        places: &[Place],
        hold: std::time::Duration,
    ) -> std::result::Result<Injected, InjectError> {
        let dir = SessionsDir::open(places, &self.args.container, &self.args.agent)?;
        let mut sid = dir.session_id(key)?;
        if sid.is_none() {
            // First probe on this gateway: let OpenClaw create the probe's session.
            self.t.step(
                "inject-lock",
                "creating the probe's session first (one message)",
            );
            match self.gateway.chat(&self.body(), self.args.timeout).await {
                Ok(r) if (200..300).contains(&r.status) => {}
                Ok(r) => return Err(InjectError::CreateSession(format!("HTTP {}", r.status))),
                Err(e) => return Err(InjectError::CreateSession(e.to_string())),
            }
            sid = dir.session_id(key)?;
        }
        let owner_error = |error| InjectError::Owner {
            container: self.args.container.clone(),
            error,
        };
        let timeout = self.args.places.timeout;
        let engine = docker::connect(self.args.docker_host(), timeout)
            .await
            .map_err(owner_error)?;
        let holder = engine
            .hold(&self.args.container, timeout)
            .await
            .map_err(owner_error)?;
        let owner = Owner {
            pid: holder.pid,
            starttime: holder.starttime,
        };
        let injected = match dir.lock(key, sid.as_deref(), owner) {
            Ok(injected) => injected.owned_by(engine, holder),
            Err(e) => {
                holder.release(&engine).await;
                return Err(e);
            }
        };
        self.t.step(
            "inject-lock",
            &format!(
                "{} held for {}, owned by pid {} in the container (a process of the probe's own)",
                injected.path.display(),
                humantime::format_duration(hold),
                owner.pid
            ),
        );
        Ok(injected)
    }

    /// The message with the router's retries, then the verdict, its fix, and
    /// `--clean-on-failure`.
    async fn attempts_and_verdict(&self, report: &mut ProbeReport) {
        let body = self.body();
        for n in 1..=self.args.attempts {
            if self.attempt(n, &body, report).await == Outcome::Ok {
                break;
            }
            if n < self.args.attempts {
                let wait = self.args.backoff * n;
                self.t
                    .step("wait", &humantime::format_duration(wait).to_string());
                tokio::time::sleep(wait).await;
            }
        }
        report.verdict = verdict(
            &report.attempts,
            report.user_session_lock.as_ref(),
            report.user_session_turn.as_ref(),
        );
        if let Some(hold) = self.args.inject_lock {
            let (exercised, why) = retry_path(&report.attempts, hold, self.args.timeout);
            report.retry_exercised = Some(exercised);
            if let Some(why) = why {
                self.t.step("note", &why);
                report.notes.push(why);
            }
        }
        let advice = advise(
            Findings {
                verdict: report.verdict,
                session_lock: report.session_lock.as_ref(),
                user_session_lock: report.user_session_lock.as_ref(),
                session_turn: report.session_turn.as_ref(),
                user_session_turn: report.user_session_turn.as_ref(),
            },
            &self.args.container,
        );
        if self.args.clean_on_failure && !advice.stale_keys.is_empty() {
            report.cleaned = self.clean(&advice.stale_keys).await;
            self.t.step(
                "clean",
                if report.cleaned {
                    "removed the stale lock"
                } else {
                    "the stale lock could not be removed"
                },
            );
        }
        if let Some(note) = advice.note {
            self.t.step("note", &note);
            report.notes.push(note);
        }
        report.fix = advice.fix;
        self.t
            .verdict(report.verdict, report.fix.as_deref(), report.cleaned);
    }

    /// Attempt `n`: the message, and after a 5xx or a timeout the session's lock or turn.
    async fn attempt(&self, n: u32, body: &str, report: &mut ProbeReport) -> Outcome {
        let started = Instant::now();
        let answer = self.gateway.chat(body, self.args.timeout).await;
        let elapsed = started.elapsed();
        let key = &report.session_key;
        let (lock, turn) = if needs_evidence(&answer) {
            let evidence = self.look().await;
            (evidence.lock(key), evidence.turn(key))
        } else {
            (None, None)
        };
        let (outcome, detail) = classify_attempt(&answer, lock.as_ref(), turn.as_ref(), key);
        if turn.as_ref().is_some_and(|t| t.state == TurnState::Orphan) {
            report.session_turn = turn;
        }
        if lock.is_some() {
            report.session_lock = lock;
        }
        let status = answer.as_ref().ok().map(|r| r.status);
        self.t.step(
            &format!("attempt {n}"),
            &timeline::attempt_line(status, elapsed, outcome, &detail),
        );
        report.attempts.push(Attempt {
            attempt: n,
            status,
            elapsed_ms: elapsed.as_millis() as u64,
            outcome,
            detail,
        });
        outcome
    }

    /// The request the router would send for the session the probe talks in.
    fn body(&self) -> String {
        let user = gateway::session_user(&self.args.talk_as, self.user);
        gateway::chat_body(user, &self.args.message)
    }

    /// One pass of the pipeline over the user's container.
    async fn look(&self) -> Evidence {
        let seen = pass::look(&self.args.places, &self.args.policy, Utc::now()).await;
        Evidence::new(seen, &self.args.container)
    }

    /// `--clean-on-failure`: removes the stale locks of `keys`; whether every one went.
    async fn clean(&self, keys: &[String]) -> bool {
        let mut all = true;
        for key in keys {
            all &= self.clean_session(key).await;
        }
        all
    }

    async fn clean_session(&self, key: &str) -> bool {
        let mut seen = pass::look(&self.args.places, &self.args.policy, Utc::now()).await;
        seen.judged
            .retain(|j| j.obs.session_key.as_deref() == Some(key));
        let out = pass::act(
            &seen.judged,
            &seen.engines,
            false,
            self.args.places.timeout,
            1,
        )
        .await;
        out.contains(&Some(Removal::Removed))
    }
}
