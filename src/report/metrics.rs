//! Prometheus text format for node_exporter's textfile collector, written atomically (a temp
//! file in the same directory, then rename) so the collector never reads half a file.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use crate::report::probe::{Outcome, ProbeReport};
use crate::report::record::{LockCounts, Report};

/// One metric family (all are gauges): its name, its labels (the probe's also get `user` with
/// `--metrics-user-label`) and its `# HELP` text. Every family written is one of
/// [`FAMILIES`], the list `man zaki-locks` prints under METRICS and that the shipped alerting
/// rules (`contrib/prometheus/`) are checked against.
#[derive(Debug)]
pub struct Family {
    pub name: &'static str,
    pub labels: &'static [&'static str],
    pub help: &'static str,
}

pub const LOCKS: Family = Family {
    name: "zaki_locks_locks",
    labels: &["command", "location", "state"],
    help: "Session locks seen by the last run, by location (host or container) and state (held, stale, skipped).",
};

pub const STALE_LOCKS: Family = Family {
    name: "zaki_locks_stale_locks",
    labels: &["command"],
    help: "Stale session locks seen by the last run (before any removal).",
};

pub const REMOVED_LOCKS: Family = Family {
    name: "zaki_locks_removed_locks",
    labels: &["command"],
    help: "Stale session locks the last run removed (always 0 for scan and dry runs).",
};

pub const OWNER_UNKNOWN_LOCKS: Family = Family {
    name: "zaki_locks_owner_unknown_locks",
    labels: &["command"],
    help: "Locks whose owner could not be observed (another PID namespace, Docker unreachable).",
};

pub const WEDGED_LOCKS: Family = Family {
    name: "zaki_locks_wedged_locks",
    labels: &["command"],
    help: "Locks held open past their max hold: the owner's run is stuck; restart its container or process.",
};

pub const HOLDERS_UNSEEN_LOCKS: Family = Family {
    name: "zaki_locks_holders_unseen_locks",
    labels: &["command"],
    help: "Locks for which not every possible holder could be looked at: judged by their pid, never removed for their age while their owner may be alive, kept outright when the check was refused.",
};

pub const OLDEST_LIVE_LOCK_AGE_SECONDS: Family = Family {
    name: "zaki_locks_oldest_live_lock_age_seconds",
    labels: &["command"],
    help: "Age of the oldest lock held by a live owner (0 when there is none).",
};

pub const HELD_OVER_LOCKS: Family = Family {
    name: "zaki_locks_held_over_locks",
    labels: &["command"],
    help: "Live locks held longer than the --held-over threshold.",
};

pub const HELD_OVER_THRESHOLD_SECONDS: Family = Family {
    name: "zaki_locks_held_over_threshold_seconds",
    labels: &["command"],
    help: "The --held-over threshold.",
};

pub const CONTAINERS: Family = Family {
    name: "zaki_locks_containers",
    labels: &["command", "result"],
    help: "Containers looked at by the last run, by result (ok or failed).",
};

pub const DOCKER_UP: Family = Family {
    name: "zaki_locks_docker_up",
    labels: &["command", "engine"],
    help: "1 when the Docker engine answered the last run, 0 when it could not be reached.",
};

pub const ERRORS: Family = Family {
    name: "zaki_locks_errors",
    labels: &["command"],
    help: "Problems the last run reported (each makes it exit 1).",
};

pub const STEPPED_ASIDE: Family = Family {
    name: "zaki_locks_stepped_aside",
    labels: &["command"],
    help: "1 when the last run found the run lock held (by a watch or another clean) and did nothing.",
};

pub const LAST_RUN_DURATION_SECONDS: Family = Family {
    name: "zaki_locks_last_run_duration_seconds",
    labels: &["command"],
    help: "Wall time of the last run.",
};

pub const LAST_RUN_SUCCESS: Family = Family {
    name: "zaki_locks_last_run_success",
    labels: &["command"],
    help: "1 when the last run did its whole job, else 0.",
};

pub const LAST_SUCCESS_TIMESTAMP_SECONDS: Family = Family {
    name: "zaki_locks_last_success_timestamp_seconds",
    labels: &["command"],
    help: "When a run last did its whole job (Unix time).",
};

pub const PLACES: Family = Family {
    name: "zaki_locks_places",
    labels: &["command", "era"],
    help: "State dirs read from this host, by era (lock-file: OpenClaw up to 2026.7; sqlite: 2026.8+).",
};

pub const RUNNING_TURNS: Family = Family {
    name: "zaki_locks_running_turns",
    labels: &["command"],
    help: "Turns in flight in SQLite-era places.",
};

pub const ORPHAN_CLAIMS: Family = Family {
    name: "zaki_locks_orphan_claims",
    labels: &["command"],
    help: "Turn claims no running turn backs (each blocks its session until the gateway restarts).",
};

pub const STUCK_SESSIONS: Family = Family {
    name: "zaki_locks_stuck_sessions",
    labels: &["command", "shape"],
    help: "Sessions stuck in a known OpenClaw 2026.8-2026.9 shape (orphan-claim #146692, killed-session-claim #125555, recovery-wedge #140467): each blocks its user.",
};

pub const RESTARTS: Family = Family {
    name: "zaki_locks_restarts",
    labels: &["command", "action"],
    help: "Containers with an orphan turn claim, by what --restart-orphaned did (restarted, unearned: no live OpenClaw gateway owns the database, survives-restart: backed off, deferred: past the run's budget, ...).",
};

pub const PROBE_SUCCESS: Family = Family {
    name: "zaki_locks_probe_success",
    labels: &[],
    help: "1 when the last probe got an answer (ok or ok-after-retry), else 0.",
};

pub const PLACE_ERRORS: Family = Family {
    name: "zaki_locks_place_errors",
    labels: &["command", "reason"],
    help: "SQLite-era places whose databases were not read, by reason (timeout: past --place-timeout; not-regular, too-large, leased, changing: what the tenant left there; not-confined, reader-failed: the confined reader; interrupted; unreadable). Their sessions were not looked at.",
};

pub const RUN_LOCK_HOLDER_BUSY_SECONDS: Family = Family {
    name: "zaki_locks_run_lock_holder_busy_seconds",
    labels: &["command"],
    help: "How long the run lock's holder has been busy with one pass, written only when over --hung-after (then last_run_success is 0).",
};

pub const RUN_LOCK_HOLDER_PID: Family = Family {
    name: "zaki_locks_run_lock_holder_pid",
    labels: &["command"],
    help: "The pid of that run lock holder (0 when unknown).",
};

pub const PROBE_VERDICT: Family = Family {
    name: "zaki_locks_probe_verdict",
    labels: &["verdict"],
    help: "The last probe's verdict (1 for the one it came to).",
};

pub const PROBE_ATTEMPTS: Family = Family {
    name: "zaki_locks_probe_attempts",
    labels: &[],
    help: "Attempts the last probe made.",
};

pub const PROBE_DURATION_SECONDS: Family = Family {
    name: "zaki_locks_probe_duration_seconds",
    labels: &[],
    help: "Wall time of the last probe.",
};

pub const PROBE_HTTP_STATUS: Family = Family {
    name: "zaki_locks_probe_http_status",
    labels: &[],
    help: "HTTP status of the last attempt (0 when there was no answer).",
};

pub const PROBE_LAST_SUCCESS_TIMESTAMP_SECONDS: Family = Family {
    name: "zaki_locks_probe_last_success_timestamp_seconds",
    labels: &[],
    help: "When a probe last got an answer (Unix time).",
};

/// Every family `scan`, `clean`, `watch` and `probe` write, in the order they write them.
pub const FAMILIES: &[&Family] = &[
    &LOCKS,
    &STALE_LOCKS,
    &REMOVED_LOCKS,
    &OWNER_UNKNOWN_LOCKS,
    &WEDGED_LOCKS,
    &HOLDERS_UNSEEN_LOCKS,
    &OLDEST_LIVE_LOCK_AGE_SECONDS,
    &HELD_OVER_LOCKS,
    &HELD_OVER_THRESHOLD_SECONDS,
    &CONTAINERS,
    &DOCKER_UP,
    &ERRORS,
    &STEPPED_ASIDE,
    &LAST_RUN_DURATION_SECONDS,
    &LAST_RUN_SUCCESS,
    &LAST_SUCCESS_TIMESTAMP_SECONDS,
    &PLACES,
    &RUNNING_TURNS,
    &ORPHAN_CLAIMS,
    &STUCK_SESSIONS,
    &RESTARTS,
    &PLACE_ERRORS,
    &RUN_LOCK_HOLDER_BUSY_SECONDS,
    &RUN_LOCK_HOLDER_PID,
    &PROBE_SUCCESS,
    &PROBE_VERDICT,
    &PROBE_ATTEMPTS,
    &PROBE_DURATION_SECONDS,
    &PROBE_HTTP_STATUS,
    &PROBE_LAST_SUCCESS_TIMESTAMP_SECONDS,
];

/// One metric family being written.
pub struct Text {
    out: String,
}

impl Text {
    pub fn new() -> Text {
        Text { out: String::new() }
    }

    /// Writes `# HELP`, `# TYPE` and every sample of one gauge.
    pub fn gauge(&mut self, family: &Family, samples: &[(Vec<(&str, String)>, f64)]) {
        let (name, help) = (family.name, family.help);
        debug_assert!(
            samples.iter().all(|(l, _)| l
                .iter()
                .map(|(k, _)| *k)
                .filter(|k| *k != "user")
                .eq(family.labels.iter().copied())),
            "{name}: labels other than {:?}",
            family.labels
        );
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} gauge");
        for (labels, value) in samples {
            let labels: Vec<String> = labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
                .collect();
            let labels = if labels.is_empty() {
                String::new()
            } else {
                format!("{{{}}}", labels.join(","))
            };
            let _ = writeln!(self.out, "{name}{labels} {}", number(*value));
        }
    }

    pub fn finish(self) -> String {
        self.out
    }
}

impl Default for Text {
    fn default() -> Self {
        Text::new()
    }
}

/// A label value in the text format's escapes (`\\`, `\"`, `\n`, the only ones its parsers
/// accept); any other control or formatting character from tenant text is written as the
/// printable text `\xNN` / `\u{…}` (its backslash escaped), never raw.
fn escape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c if crate::model::escape::unsafe_char(c) => {
                out.push_str(&crate::model::escape::text(&c.to_string()).replace('\\', "\\\\"))
            }
            c => out.push(c),
        }
    }
    out
}

fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// The metrics of a clean (or watch) pass that will be written to `file`: a success is the
/// pass with no error; otherwise the file's last success time is carried over.
pub fn clean_pass(report: &Report, command: &str, duration_seconds: f64, file: &Path) -> String {
    run(
        report,
        &RunFacts {
            command,
            duration_seconds,
            success: report.errors.is_empty(),
            held_over: None,
            last_success: previous(file, "zaki_locks_last_success_timestamp_seconds"),
        },
    )
}

/// What a `scan` or `clean` run adds to its report for the metrics.
pub struct RunFacts<'a> {
    pub command: &'a str,
    pub duration_seconds: f64,
    pub success: bool,
    /// `--held-over`: the threshold and how many live locks exceed it.
    pub held_over: Option<(f64, usize)>,
    /// The success timestamp to keep when this run failed (from the previous file).
    pub last_success: Option<f64>,
}

/// The metrics of a scan, clean or watch pass.
pub fn run(report: &Report, f: &RunFacts<'_>) -> String {
    let mut t = Text::new();
    lock_gauges(&mut t, report, f);
    sqlite_era(&mut t, report, f.command);
    container_gauges(&mut t, report, f.command);
    run_gauges(&mut t, report, f);
    t.finish()
}

/// The locks by location and status, and what is worth an alert about them.
fn lock_gauges(t: &mut Text, report: &Report, f: &RunFacts<'_>) {
    let cmd = || ("command", f.command.to_owned());
    let counts = &report.counts;
    // Every (location kind, state) pair, 0 when none, in label order.
    let mut by = std::collections::BTreeMap::new();
    for (k, by_state) in LockCounts::WHERE.iter().zip(counts.by_where_and_state) {
        for (s, n) in LockCounts::STATES.iter().zip(by_state) {
            by.insert((k, s), n);
        }
    }
    let samples: Vec<_> = by
        .into_iter()
        .map(|((k, s), n)| {
            let labels = vec![cmd(), ("location", k.to_string()), ("state", s.to_string())];
            (labels, n as f64)
        })
        .collect();
    t.gauge(&LOCKS, &samples);
    let one = |v: f64| vec![(vec![cmd()], v)];
    t.gauge(&STALE_LOCKS, &one(report.summary.stale as f64));
    t.gauge(&REMOVED_LOCKS, &one(report.summary.removed as f64));
    t.gauge(&OWNER_UNKNOWN_LOCKS, &one(counts.owner_unknown as f64));
    t.gauge(&WEDGED_LOCKS, &one(report.summary.wedged as f64));
    t.gauge(&HOLDERS_UNSEEN_LOCKS, &one(counts.holders_unseen as f64));
    let oldest = counts.oldest_live_age.unwrap_or(0);
    t.gauge(&OLDEST_LIVE_LOCK_AGE_SECONDS, &one(oldest as f64));
    if let Some((threshold, n)) = f.held_over {
        t.gauge(&HELD_OVER_LOCKS, &one(n as f64));
        t.gauge(&HELD_OVER_THRESHOLD_SECONDS, &one(threshold));
    }
}

/// The containers looked at and the engines asked.
fn container_gauges(t: &mut Text, report: &Report, command: &str) {
    let cmd = || ("command", command.to_owned());
    let failed = report
        .containers
        .iter()
        .filter(|c| c.error.is_some())
        .count();
    t.gauge(
        &CONTAINERS,
        &[
            (
                vec![cmd(), ("result", "ok".into())],
                (report.containers.len() - failed) as f64,
            ),
            (vec![cmd(), ("result", "failed".into())], failed as f64),
        ],
    );
    if !report.docker.is_empty() {
        let samples: Vec<_> = report
            .docker
            .iter()
            .map(|e| {
                (
                    vec![cmd(), ("engine", e.docker_host.clone())],
                    if e.up { 1.0 } else { 0.0 },
                )
            })
            .collect();
        t.gauge(&DOCKER_UP, &samples);
    }
}

/// How the run itself went.
fn run_gauges(t: &mut Text, report: &Report, f: &RunFacts<'_>) {
    let cmd = || ("command", f.command.to_owned());
    let one = |v: f64| vec![(vec![cmd()], v)];
    t.gauge(&ERRORS, &one(report.errors.len() as f64));
    t.gauge(&STEPPED_ASIDE, &one(0.0));
    t.gauge(&LAST_RUN_DURATION_SECONDS, &one(f.duration_seconds));
    t.gauge(&LAST_RUN_SUCCESS, &one(if f.success { 1.0 } else { 0.0 }));
    let now = chrono::Utc::now().timestamp_millis() as f64 / 1000.0;
    let last = if f.success { Some(now) } else { f.last_success };
    if let Some(ts) = last {
        t.gauge(&LAST_SUCCESS_TIMESTAMP_SECONDS, &one(ts));
    }
}

/// Metrics of a `clean` that stepped aside because the run lock was held. The holder (a watch
/// or a slow clean) is doing the job under the same run lock, so the run counts as a success
/// and the success time is now: a clean kept by cron next to a watch does not go stale. The
/// lock counts are left out: the holder's own metrics carry them.
pub fn stepped_aside(command: &str, duration_seconds: f64) -> String {
    let mut t = Text::new();
    let one = |v: f64| vec![(vec![("command", command.to_owned())], v)];
    t.gauge(&STEPPED_ASIDE, &one(1.0));
    t.gauge(&ERRORS, &one(0.0));
    t.gauge(&LAST_RUN_DURATION_SECONDS, &one(duration_seconds));
    t.gauge(&LAST_RUN_SUCCESS, &one(1.0));
    t.gauge(
        &LAST_SUCCESS_TIMESTAMP_SECONDS,
        &one(chrono::Utc::now().timestamp_millis() as f64 / 1000.0),
    );
    t.finish()
}

/// Metrics of a run whose run lock holder looks hung (busy with one pass for longer than
/// `--hung-after`): a stepped-aside clean, or watch about its own pass. Not a success.
pub fn hung(command: &str, duration_seconds: f64, pid: Option<u32>, busy: f64) -> String {
    let mut t = Text::new();
    let one = |v: f64| vec![(vec![("command", command.to_owned())], v)];
    t.gauge(
        &STEPPED_ASIDE,
        &one(if command == "watch" { 0.0 } else { 1.0 }),
    );
    t.gauge(&RUN_LOCK_HOLDER_BUSY_SECONDS, &one(busy));
    t.gauge(&RUN_LOCK_HOLDER_PID, &one(pid.map_or(0.0, f64::from)));
    t.gauge(&LAST_RUN_DURATION_SECONDS, &one(duration_seconds));
    t.gauge(&LAST_RUN_SUCCESS, &one(0.0));
    t.finish()
}

/// Places by era, and the SQLite era's turns and orphan claims (OpenClaw 2026.8+).
fn sqlite_era(t: &mut Text, report: &Report, command: &str) {
    use crate::judge::claims::Era;
    let cmd = || ("command", command.to_owned());
    let samples: Vec<_> = [Era::LockFile, Era::Sqlite, Era::Unknown]
        .iter()
        .map(|e| {
            let n = report.places.iter().filter(|p| p.era == *e).count();
            (vec![cmd(), ("era", e.as_str().to_owned())], n as f64)
        })
        .collect();
    t.gauge(&PLACES, &samples);
    t.gauge(
        &RUNNING_TURNS,
        &[(vec![cmd()], report.summary.running_turns as f64)],
    );
    t.gauge(
        &ORPHAN_CLAIMS,
        &[(vec![cmd()], report.summary.orphan_claims as f64)],
    );
    let stuck: Vec<_> = crate::judge::claims::Shape::MEANINGS
        .iter()
        .map(|(shape, _)| {
            let n = report
                .places
                .iter()
                .flat_map(|p| &p.sessions)
                .filter(|s| s.shape == Some(*shape))
                .count();
            (vec![cmd(), ("shape", shape.as_str().to_owned())], n as f64)
        })
        .collect();
    t.gauge(&STUCK_SESSIONS, &stuck);
    let restarts: Vec<_> = crate::report::record::RESTART_ACTIONS
        .iter()
        .map(|a| {
            let n = report.restarts.iter().filter(|r| r.action == *a).count();
            (vec![cmd(), ("action", (*a).to_owned())], n as f64)
        })
        .collect();
    t.gauge(&RESTARTS, &restarts);
    let errors: Vec<_> = crate::model::claims::PlaceErrorReason::ALL
        .iter()
        .map(|r| {
            let n = report
                .places
                .iter()
                .filter(|p| p.era == Era::Sqlite && p.error_reason == Some(*r))
                .count();
            (vec![cmd(), ("reason", r.as_str().to_owned())], n as f64)
        })
        .collect();
    t.gauge(&PLACE_ERRORS, &errors);
}

/// Metrics of a `probe`. Without `user_label` the series carry no `user` label: one probe
/// run per file keeps the cardinality bounded whatever the number of users.
pub fn probe(
    r: &ProbeReport,
    duration_seconds: f64,
    last_success: Option<f64>,
    user_label: bool,
) -> String {
    let mut t = Text::new();
    let base = || -> Vec<(&str, String)> {
        if user_label {
            vec![("user", r.user.clone())]
        } else {
            Vec::new()
        }
    };
    let one = |v: f64| vec![(base(), v)];
    let ok = r.verdict.exit_code() == 0;
    t.gauge(&PROBE_SUCCESS, &one(if ok { 1.0 } else { 0.0 }));
    let samples: Vec<_> = Outcome::ALL
        .iter()
        .map(|v| {
            (
                {
                    let mut l = base();
                    l.push(("verdict", v.as_str().to_owned()));
                    l
                },
                if *v == r.verdict { 1.0 } else { 0.0 },
            )
        })
        .collect();
    t.gauge(&PROBE_VERDICT, &samples);
    t.gauge(&PROBE_ATTEMPTS, &one(r.attempts.len() as f64));
    t.gauge(&PROBE_DURATION_SECONDS, &one(duration_seconds));
    t.gauge(
        &PROBE_HTTP_STATUS,
        &one(r.attempts.last().and_then(|a| a.status).unwrap_or(0) as f64),
    );
    let now = chrono::Utc::now().timestamp_millis() as f64 / 1000.0;
    if let Some(ts) = if ok { Some(now) } else { last_success } {
        t.gauge(&PROBE_LAST_SUCCESS_TIMESTAMP_SECONDS, &one(ts));
    }
    t.finish()
}

/// The value of a last-success gauge in a previous metrics file, to carry it over a failed run.
pub fn previous(path: &Path, name: &str) -> Option<f64> {
    let bytes = crate::sys::safefs::read_operator_file(path, 16 * 1024 * 1024).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// Writes `text` to `path` atomically: a temp file in the same directory, fsynced, renamed.
/// The temp file is created with `O_CREAT | O_EXCL | O_NOFOLLOW` (mode 0644), so a symlink or
/// any file planted at its name in the collector dir is never followed nor overwritten: the
/// write fails instead, and the next attempt picks another name.
pub fn write_atomic(path: &Path, text: &str) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    // A name planted in the collector dir makes the exclusive create fail: try a few others.
    let mut attempt = 0;
    let (tmp, mut f) = loop {
        let tmp = dir.join(format!(
            ".{name}.tmp.{}.{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_CLOEXEC)
            .open(&tmp)
        {
            Ok(f) => break (tmp, f),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempt < 8 => attempt += 1,
            Err(e) => return Err(e),
        }
    };
    let result = (|| {
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        // Ours: created exclusively above, so removing it removes nothing else.
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_format() {
        let mut t = Text::new();
        let x = Family {
            name: "x_total",
            labels: &["a"],
            help: "Help.",
        };
        t.gauge(
            &x,
            &[
                (vec![("a", "q\"\\\n".into())], 1.5),
                (vec![("a", String::new())], 2.0),
            ],
        );
        assert_eq!(
            t.finish(),
            "# HELP x_total Help.\n# TYPE x_total gauge\nx_total{a=\"q\\\"\\\\\\n\"} 1.5\nx_total{a=\"\"} 2\n"
        );
    }

    /// The names of the families in a metrics text.
    fn families(text: &str) -> Vec<String> {
        text.lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .map(|l| l.split(' ').next().unwrap().to_owned())
            .collect()
    }

    /// Every family a run, a stepped-aside clean and a probe (with and without the user label)
    /// write is one of `FAMILIES` (the man page's list), and each of `FAMILIES` is written by
    /// one of them: a metric cannot be added, or dropped, without the docs following.
    #[test]
    fn families_written_are_the_families_listed() {
        let mut report = Report::new(
            "scan",
            chrono::Utc::now(),
            1800,
            false,
            0,
            Vec::new(),
            Vec::new(),
        );
        report.docker.push(crate::find::survey::EngineStatus {
            docker_host: "unix:///var/run/docker.sock".into(),
            up: true,
            error: None,
        });
        let facts = RunFacts {
            command: "scan",
            duration_seconds: 0.1,
            success: true,
            held_over: Some((60.0, 0)),
            last_success: None,
        };
        let mut probe = ProbeReport::new("42", "zaki-user-42", 1, "k".into());
        probe.verdict = Outcome::Ok;
        let mut written = Vec::new();
        for text in [
            run(&report, &facts),
            stepped_aside("clean", 0.1),
            hung("clean", 0.1, Some(7), 1200.0),
            super::probe(&probe, 0.1, None, false),
            super::probe(&probe, 0.1, None, true),
        ] {
            written.extend(families(&text));
        }
        let listed: Vec<&str> = FAMILIES.iter().map(|f| f.name).collect();
        for w in &written {
            assert!(
                listed.contains(&w.as_str()),
                "{w} is not in metrics::FAMILIES"
            );
        }
        for l in &listed {
            assert!(
                written.iter().any(|w| w == l),
                "FAMILIES lists {l}, never written"
            );
        }
        let mut unique = listed.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), listed.len());
    }

    #[test]
    fn tenant_text_in_a_label_is_never_raw() {
        assert_eq!(
            escape("a\u{1b}]0;x\u{7}\u{202e}"),
            "a\\\\u{1b}]0;x\\\\u{7}\\\\u{202e}"
        );
    }

    #[test]
    fn previous_value_and_atomic_write() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.prom");
        write_atomic(&p, "# HELP a b\na{command=\"clean\"} 17.5\nab 3\n").unwrap();
        assert_eq!(previous(&p, "a"), Some(17.5));
        assert_eq!(previous(&p, "ab"), Some(3.0));
        assert_eq!(previous(&p, "zz"), None);
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temp file left"
        );
    }
}
