//! The SQLite era's only remedy: an orphan turn claim (OpenClaw 2026.8+) is cleared by the
//! gateway at start-up (measured on 2026.9.6), and the database is never edited here. So
//! `--restart-orphaned` restarts exactly the containers whose gateway holds one, one at a time,
//! each only after a fresh look shows that the same claim is still there.

use crate::commands::config::{Places, Restarts};
use crate::judge::claims::{Liveness, PlaceDb};
use crate::judge::lock::Policy;
use crate::judge::restart::{Decision, Recheck, Remembered, decide, spent, survived, unearned};
use crate::model::place::Location;
use crate::report::output::LogStyle;
use crate::report::record::Restart;

/// The restarts that could not be done or decided (a failed restart, evidence missing) are
/// errors of the run: counted, and in the exit code and the metrics, as a place not read is.
pub fn count_errors(report: &mut crate::report::record::Report) {
    let errors = report
        .restarts
        .iter()
        .filter(|r| r.action == "failed" || r.missing_evidence);
    let problems: Vec<_> = errors
        .map(|r| crate::model::place::Problem {
            location: Location::Container(r.container.clone()),
            path: None,
            message: r.detail.clone(),
        })
        .collect();
    report.errors.extend(problems);
    report.tally();
}

/// A container's orphan claims: its name, (session key, claim id) of each, and whether its
/// gateway may be alive.
type Orphaned = (String, Vec<(String, String)>, bool);

/// The orphans of each running container, from a report's places.
fn orphans(places: &[PlaceDb]) -> Vec<Orphaned> {
    let mut out: Vec<Orphaned> = Vec::new();
    for p in places {
        let Location::Container(name) = &p.location else {
            continue;
        };
        let claims: Vec<(String, String)> = p
            .orphans()
            .filter_map(|s| Some((s.session_key.clone(), s.claim.as_ref()?.id.clone())))
            .collect();
        if claims.is_empty() {
            continue;
        }
        let alive = p
            .gateway
            .as_ref()
            .is_none_or(|g| g.liveness != Liveness::Gone);
        match out.iter_mut().find(|(n, _, _)| n == name) {
            Some(e) => e.1.extend(claims),
            None => out.push((name.clone(), claims, alive)),
        }
    }
    out
}

/// The command that fixes what `places` shows, for `clean` without `--restart-orphaned`.
pub fn advice(places: &[PlaceDb]) -> Vec<Restart> {
    let mut out: Vec<Restart> = orphans(places)
        .into_iter()
        .map(|(name, claims, alive)| Restart {
            sessions: claims.into_iter().map(|c| c.0).collect(),
            action: if alive {
                "would-restart"
            } else {
                "not-running"
            },
            detail: if alive {
                format!("to fix: zaki-locks clean --restart-orphaned --container {name}")
            } else {
                "its gateway is not running: its next start clears the claim".into()
            },
            container: name,
            missing_evidence: false,
        })
        .collect();
    for p in places {
        if p.location == Location::Host && p.orphans().next().is_some() {
            out.push(Restart {
                container: String::new(),
                sessions: p.orphans().map(|s| s.session_key.clone()).collect(),
                action: "would-restart",
                detail: format!(
                    "to fix: restart the gateway whose state dir is {} (it clears claims at start-up)",
                    p.state_dir
                ),
                missing_evidence: false,
            });
        }
    }
    out
}

/// Restarts each container with an orphan claim, one at a time, after checking again that the
/// same claim is still there and that a live OpenClaw gateway owns the database; a claim back
/// after our restart is backed off, and past the run's budget the rest is deferred. `log` is
/// called once per container, as it happens.
pub async fn restart_orphaned(
    search: &Places,
    policy: &Policy,
    bounds: &Restarts,
    places: &[PlaceDb],
    mut log: impl FnMut(&Restart),
) -> Vec<Restart> {
    let mut run = Run {
        search,
        policy,
        bounds,
        memory: crate::sys::restarts::load(&bounds.memory),
        restarted: 0,
        started: std::time::Instant::now(),
        missing: false,
    };
    if let Err(e) = &run.memory {
        eprintln!(
            "zaki-locks: error: {e}: no container is restarted while past restarts cannot be known (remove the file to start afresh)"
        );
    }
    let mut done = Vec::new();
    for (name, claims, alive) in orphans(places) {
        if crate::sys::interrupt::caught().is_some() {
            break;
        }
        let sessions: Vec<String> = claims.iter().map(|c| c.0.clone()).collect();
        let (action, detail) = run.one(&name, &claims, &sessions, alive).await;
        let x = Restart {
            container: name,
            sessions,
            action,
            detail,
            missing_evidence: std::mem::take(&mut run.missing),
        };
        log(&x);
        done.push(x);
    }
    done
}

/// One run's restarts: its bounds, its memory of past runs' restarts, what it spent.
struct Run<'a> {
    search: &'a Places,
    policy: &'a Policy,
    bounds: &'a Restarts,
    memory: Result<crate::sys::restarts::Memory, String>,
    restarted: u32,
    started: std::time::Instant,
    /// The last container was not restarted for want of evidence.
    missing: bool,
}

impl Run<'_> {
    /// The action and detail for one container with orphan claims.
    async fn one(
        &mut self,
        name: &str,
        claims: &[(String, String)],
        sessions: &[String],
        alive: bool,
    ) -> (&'static str, String) {
        let now = chrono::Utc::now();
        if !alive {
            return (
                "not-running",
                "its gateway is not running: its next start clears the claim".into(),
            );
        }
        let Ok(memory) = &mut self.memory else {
            self.missing = true;
            return (
                "unearned",
                "past restarts cannot be known (see stderr): not restarted".into(),
            );
        };
        if let Some(m) = survived(memory.get(name), sessions, now) {
            let detail = survives_detail(name, &m);
            memory.insert(name.to_owned(), m);
            self.save(now);
            return ("survives-restart", detail);
        }
        if spent(self.bounds.budget, self.restarted, self.started.elapsed()) {
            return (
                "deferred",
                "this run's restart budget is spent (--restart-max, --restart-budget): looked at again on the next run".into(),
            );
        }
        let again = recheck(self.search, self.policy, name, claims).await;
        match decide(&again.facts, self.bounds.min_uptime) {
            Decision::Gone => (
                "gone",
                "the claim was gone when looked at again: not restarted".into(),
            ),
            Decision::NotRunning => (
                "not-running",
                "the container is not running: its next start clears the claim".into(),
            ),
            Decision::Starting(up) => (
                "starting",
                format!(
                    "started {} ago: its start-up clears claims; looked at again on the next run",
                    crate::model::units::short_duration(up)
                ),
            ),
            Decision::Restart => match unearned(again.lease.as_ref()) {
                Some(u) => {
                    self.missing = u.missing;
                    ("unearned", format!("{}: not restarted", u.why))
                }
                None => self.restart(name, sessions, &again.engines).await,
            },
        }
    }

    /// Restarts the container, and remembers it (before anything else can go wrong).
    async fn restart(
        &mut self,
        name: &str,
        sessions: &[String],
        engines: &[crate::sys::docker::Engine],
    ) -> (&'static str, String) {
        match restart(engines, name).await {
            Ok(()) => {
                self.restarted += 1;
                let now = chrono::Utc::now();
                if let Ok(m) = &mut self.memory {
                    m.insert(
                        name.to_owned(),
                        Remembered {
                            restarted_at: now.timestamp(),
                            sessions: sessions.to_vec(),
                            survived: m.get(name).map_or(0, |r| r.survived),
                            backoff_until: None,
                        },
                    );
                }
                self.save(now);
                (
                    "restarted",
                    "the gateway clears turn claims at start-up".into(),
                )
            }
            Err(Some(e)) => ("failed", format!("cannot restart: {e}")),
            Err(None) => ("failed", "cannot restart: no Docker engine knows it".into()),
        }
    }

    fn save(&self, now: chrono::DateTime<chrono::Utc>) {
        if let Ok(m) = &self.memory
            && let Err(e) = crate::sys::restarts::save(&self.bounds.memory, m, now)
        {
            eprintln!(
                "zaki-locks: error: {e}: a claim back after this run's restarts is restarted again"
            );
        }
    }
}

/// What a claim back after our restart gets said: until when it is left, and what works.
fn survives_detail(name: &str, m: &Remembered) -> String {
    let until = m
        .backoff_until
        .and_then(|u| chrono::DateTime::from_timestamp(u, 0))
        .map_or_else(|| "-".into(), crate::report::record::rfc3339);
    format!(
        "the claim came back after this tool restarted the container (openclaw/openclaw#128762, #137043): not restarted again before {until}; \
         to fix: docker stop {name}, then docker start {name} when the user can spare it (the start-up clears claims; `openclaw doctor --fix` and `doctor --session-sqlite recover` do not, measured on 2026.9.6), and if it comes back again report it upstream"
    )
}

/// A container with an orphan claim, looked at again just before a restart, and the engines
/// that can restart it.
struct Again {
    facts: Recheck,
    engines: Vec<crate::sys::docker::Engine>,
    /// The gateway-owner lease as read again: whether a live OpenClaw gateway owns it.
    lease: Option<crate::judge::claims::GatewayLease>,
}

/// Reads the container's claims again from this host (they are only read there), never by
/// exec, with its state and uptime.
async fn recheck(
    search: &Places,
    policy: &Policy,
    name: &str,
    claims: &[(String, String)],
) -> Again {
    let mut one = search.only_container(name);
    if let Some(c) = one.containers.as_mut() {
        c.via_exec = false;
    }
    let seen = crate::commands::pass::look(&one, policy, chrono::Utc::now()).await;
    let still = seen.dbs.iter().any(|p| {
        p.location == Location::Container(name.to_owned())
            && p.orphans().any(|s| {
                claims.iter().any(|(k, id)| {
                    &s.session_key == k && s.claim.as_ref().is_some_and(|c| &c.id == id)
                })
            })
    });
    let lease = seen
        .dbs
        .iter()
        .find(|p| p.location == Location::Container(name.to_owned()))
        .and_then(|p| p.gateway.clone());
    let running = seen
        .containers
        .iter()
        .any(|c| c.name == name && c.state == "running");
    let uptime = match seen.engines.first() {
        Some(e) => e
            .details(name)
            .await
            .ok()
            .and_then(|d| d.started_at)
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(&t).ok())
            .map(|t| chrono::Utc::now() - t.with_timezone(&chrono::Utc)),
        None => None,
    };
    Again {
        facts: Recheck {
            still,
            running,
            uptime,
        },
        engines: seen.engines,
        lease,
    }
}

/// Restarts `name` through the first engine that can; else the last engine's error (`None`:
/// no engine was there to ask).
async fn restart(
    engines: &[crate::sys::docker::Engine],
    name: &str,
) -> Result<(), Option<crate::sys::docker::DockerError>> {
    let mut last = None;
    for e in engines {
        match e.restart(name).await {
            Ok(()) => return Ok(()),
            Err(err) => last = Some(err),
        }
    }
    Err(last)
}

/// One log line for a restart (or its advice), in the run's log style.
pub fn line(style: LogStyle, r: &Restart) -> String {
    let ts = crate::report::record::rfc3339(chrono::Utc::now());
    match style {
        LogStyle::Json => {
            let mut v = serde_json::to_value(r).expect("serialises");
            v["ts"] = ts.into();
            v["event"] = "orphan-claim".into();
            v.to_string()
        }
        LogStyle::Kv => crate::report::output::kv_line(&[
            ("ts", ts),
            ("action", r.action.to_owned()),
            ("reason", "orphan-claim".into()),
            ("location", format!("container:{}", r.container)),
            ("sessions", r.sessions.join(",")),
            ("detail", r.detail.clone()),
        ]),
        _ => {
            let verb = match r.action {
                "restarted" => "restarted",
                "would-restart" => "orphan turn claim in",
                "gone" | "unearned" => "not restarted",
                "survives-restart" => "orphan turn claim survives restart in",
                "not-running" | "starting" | "deferred" => "orphan turn claim in",
                _ => "could not restart",
            };
            let what = if r.container.is_empty() {
                "a host gateway".to_owned()
            } else {
                format!("container:{}", r.container)
            };
            format!(
                "{verb} {} [orphan-claim] sessions={}: {}",
                crate::model::escape::text(&what),
                crate::model::escape::text(&r.sessions.join(",")),
                r.detail
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::judge::claims::{Era, GatewayLease, SessionTurn, TurnState};
    use crate::judge::lock::OwnerState;
    use crate::model::claims::Claim;

    fn place(location: Location, state: TurnState, liveness: Liveness) -> PlaceDb {
        PlaceDb {
            location,
            state_dir: "/home/node/.openclaw".into(),
            era: Era::Sqlite,
            version: Some("2026.9.6".into()),
            leftover_sessions_dirs: 0,
            gateway: Some(GatewayLease {
                pid: Some(1),
                starttime: Some(5),
                heartbeat_age_seconds: Some(3),
                expired: false,
                owner_state: OwnerState::Alive,
                liveness,
                openclaw: Some(true),
            }),
            unclean_boots: 0,
            sessions: vec![SessionTurn {
                agent: "main".into(),
                session_key: "agent:main:openai-user:42".into(),
                session_id: Some("s".into()),
                status: Some("done".into()),
                active_writer_run_id: None,
                turn_age_seconds: None,
                claim: Some(Claim {
                    owner: "local".into(),
                    id: "c".into(),
                    run_id: "r".into(),
                    generation: Some(0),
                }),
                claim_age_seconds: Some(60),
                state,
                reasons: Vec::new(),
                note: None,
                shape: None,
                issue: None,
            }],
            error: None,
            error_reason: None,
        }
    }

    #[test]
    fn advice_names_exactly_the_containers_with_orphans() {
        let c = |n: &str| Location::Container(n.into());
        let places = [
            place(c("zaki-user-42"), TurnState::Orphan, Liveness::Alive),
            place(c("zaki-user-43"), TurnState::Running, Liveness::Alive),
            place(c("zaki-user-44"), TurnState::Orphan, Liveness::Gone),
            place(Location::Host, TurnState::Orphan, Liveness::Alive),
        ];
        let a = advice(&places);
        let got: Vec<(&str, &str)> = a.iter().map(|r| (r.container.as_str(), r.action)).collect();
        assert_eq!(
            got,
            [
                ("zaki-user-42", "would-restart"),
                ("zaki-user-44", "not-running"),
                ("", "would-restart")
            ]
        );
        assert!(
            a[0].detail
                .ends_with("zaki-locks clean --restart-orphaned --container zaki-user-42")
        );
        assert!(
            a[2].detail
                .contains("restart the gateway whose state dir is")
        );
        let line = line(LogStyle::Kv, &a[0]);
        assert!(line.contains("action=would-restart reason=orphan-claim location=container:zaki-user-42 sessions=agent:main:openai-user:42"), "{line}");
    }
}
