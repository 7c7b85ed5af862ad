//! The text timeline, printed as it happens: progress while the probe runs (each attempt can
//! take a minute), not the final render, which the caller makes from the report.

use std::io::Write;
use std::time::Duration;

use crate::report::probe::Outcome;

/// Prints the timeline to stdout, or nothing (JSON and Prometheus output).
pub struct Timeline {
    on: bool,
}

impl Timeline {
    pub fn new(on: bool) -> Timeline {
        Timeline { on }
    }

    /// The first line: who is probed, through which container and port.
    pub fn header(&self, user: &str, container: &str, port: u16, as_user: bool) {
        self.line(&format!(
            "probe user {user} → {container}, port {port}{}",
            if as_user { " (as the user)" } else { "" }
        ));
    }

    /// One step, its text escaped (it may quote tenant text: paths, bodies, names).
    pub fn step(&self, what: &str, text: &str) {
        self.line(&format!(
            "  {what:<13} {}",
            crate::model::escape::text(text)
        ));
    }

    /// The last line: the verdict, and the fix unless `--clean-on-failure` applied it.
    pub fn verdict(&self, verdict: Outcome, fix: Option<&str>, cleaned: bool) {
        let fix = match (fix, cleaned) {
            (Some(f), false) => format!("; to fix: {f}"),
            _ => String::new(),
        };
        self.line(&format!(
            "verdict: {}{}",
            verdict.as_str(),
            crate::model::escape::text(&fix)
        ));
    }

    fn line(&self, s: &str) {
        if self.on {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{s}");
            let _ = out.flush();
        }
    }
}

/// An attempt's step: what the gateway answered, how fast, and what it means.
pub fn attempt_line(
    status: Option<u16>,
    elapsed: Duration,
    outcome: Outcome,
    detail: &str,
) -> String {
    format!(
        "POST /v1/chat/completions → {} in {:.1}s: {}{}",
        status.map_or_else(|| "no answer".into(), |s| s.to_string()),
        elapsed.as_secs_f64(),
        outcome.as_str(),
        if detail.is_empty() {
            String::new()
        } else {
            format!(" ({detail})")
        }
    )
}

/// `, up 3m`, or nothing when the uptime is not known.
pub fn uptime(seconds: Option<i64>) -> String {
    seconds
        .map(|s| {
            format!(
                ", up {}",
                crate::model::units::short_duration(chrono::TimeDelta::seconds(s))
            )
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_attempt_says_status_time_outcome_and_why() {
        assert_eq!(
            attempt_line(Some(200), Duration::from_millis(1234), Outcome::Ok, ""),
            "POST /v1/chat/completions → 200 in 1.2s: ok"
        );
        assert_eq!(
            attempt_line(
                None,
                Duration::from_secs(60),
                Outcome::Timeout,
                "no answer within 1m"
            ),
            "POST /v1/chat/completions → no answer in 60.0s: timeout (no answer within 1m)"
        );
        assert_eq!(uptime(None), "");
        assert_eq!(uptime(Some(180)), ", up 3m00s");
    }
}
