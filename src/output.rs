//! Rendering reports for people (a table, one line per action) and for programs (JSON).

use std::io::IsTerminal;

use chrono::TimeDelta;
use comfy_table::{Cell, Color, ContentArrangement, Table, presets};

use crate::cli::LogFormat;
use crate::policy::OwnerState;
use crate::report::{Action, LockRecord, Report, Summary};

/// `--color`: whether to colour human output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    /// Colour when stdout is a terminal and `NO_COLOR` is not set.
    Auto,
    Always,
    Never,
}

impl ColorChoice {
    pub fn enabled(self) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                std::io::stdout().is_terminal()
                    && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            }
        }
    }
}

/// `41m`, `2h03m`, `12s`, `3d04h`: ages as an operator reads them.
pub fn short_duration(d: TimeDelta) -> String {
    let s = d.num_seconds().max(0);
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        3600..86400 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d{:02}h", s / 86400, s % 86400 / 3600),
    }
}

fn status(r: &LockRecord) -> (&'static str, Color) {
    match r.action {
        Action::Removed => ("removed", Color::Red),
        Action::WouldRemove => ("would remove", Color::Yellow),
        Action::Skipped => ("skipped", Color::Magenta),
        Action::Kept if r.stale => ("stale", Color::Red),
        Action::Kept if r.wedged => ("wedged", Color::Red),
        Action::Kept => ("held", Color::Green),
    }
}

fn owner(r: &LockRecord) -> String {
    match (&r.owner_name, r.owner_state) {
        (Some(n), OwnerState::Alive | OwnerState::Recycled | OwnerState::Thread) => {
            format!("{} ({n})", r.owner_state.as_str())
        }
        _ => r.owner_state.as_str().to_owned(),
    }
}

fn why(r: &LockRecord) -> String {
    let reasons: Vec<&str> = r.reasons.iter().map(|x| x.as_str()).collect();
    match (reasons.is_empty(), &r.note) {
        (true, None) => String::new(),
        (true, Some(n)) => n.clone(),
        (false, None) => reasons.join(", "),
        (false, Some(n)) => format!("{}: {n}", reasons.join(", ")),
    }
}

fn age(r: &LockRecord) -> String {
    r.age_seconds
        .map_or_else(|| "-".into(), |s| short_duration(TimeDelta::seconds(s)))
}

/// The `scan` table.
pub fn table(records: &[LockRecord], colour: bool) -> String {
    let mut t = Table::new();
    if std::io::stdout().is_terminal() {
        t.load_style(presets::UTF8_FULL_CONDENSED)
            .set_content_arrangement(ContentArrangement::Dynamic);
    } else {
        t.load_style(presets::ASCII_BORDERS_ONLY_CONDENSED)
            .force_no_tty();
    }
    if colour {
        t.enforce_styling();
    }
    t.set_header([
        "LOCATION", "PATH", "SESSION", "PID", "OWNER", "AGE", "STATUS", "WHY",
    ]);
    for r in records {
        let (st, c) = status(r);
        let st = if colour {
            Cell::new(st).fg(c)
        } else {
            Cell::new(st)
        };
        t.add_row(vec![
            Cell::new(&r.location),
            Cell::new(&r.path),
            Cell::new(r.session_key.as_deref().unwrap_or("-")),
            Cell::new(r.pid.map_or_else(|| "-".into(), |p| p.to_string())),
            Cell::new(owner(r)),
            Cell::new(age(r)),
            st,
            Cell::new(why(r)),
        ]);
    }
    t.to_string()
}

/// One line per lock that `clean` acted on (or would have): what, where, why, and the payload,
/// so that the log alone tells what was removed.
pub fn action_line(r: &LockRecord) -> String {
    let verb = match r.action {
        Action::Removed => "removed",
        Action::WouldRemove => "would remove",
        Action::Skipped => "skipped",
        Action::Kept => "kept",
    };
    let mut line = format!("{verb} {}", r.path);
    if r.location != crate::place::Location::Host {
        line = format!("{verb} {}:{}", r.location, r.path);
    }
    let w = why(r);
    if !w.is_empty() {
        line.push_str(&format!(" [{w}]"));
    }
    line.push_str(&format!(
        " session={} pid={} owner={} age={}",
        r.session_key.as_deref().unwrap_or("-"),
        r.pid.map_or_else(|| "-".into(), |p| p.to_string()),
        owner(r).replace(' ', ""),
        age(r),
    ));
    if r.wedged {
        line.push_str(" wedged=yes");
    }
    if let Some(h) = r.holders.first() {
        line.push_str(&format!(" holder={}", h.host_pid));
    }
    if let Some(c) = &r.content
        && matches!(r.action, Action::Removed | Action::WouldRemove)
    {
        line.push_str(&format!(" content={}", squash(c)));
    }
    line
}

/// A payload on one line: pretty JSON's newlines and indentation folded away.
fn squash(content: &str) -> String {
    let s: String = content
        .split('\n')
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(" ");
    let s = s.trim();
    if s.is_empty() {
        "(empty)".into()
    } else {
        s.to_owned()
    }
}

/// One line per action in the chosen shape: human (see [`action_line`]), `key=value` or JSON,
/// the last two with a timestamp, for journald and log shippers.
pub fn log_line(style: LogFormat, r: &LockRecord) -> String {
    let ts = crate::report::rfc3339(chrono::Utc::now());
    match style {
        LogFormat::Human | LogFormat::Auto => action_line(r),
        LogFormat::Json => {
            let mut v = serde_json::to_value(r).expect("a record serialises");
            v["ts"] = ts.into();
            v.to_string()
        }
        LogFormat::Kv => {
            let reasons: Vec<&str> = r.reasons.iter().map(|x| x.as_str()).collect();
            let mut kv = vec![
                ("ts", ts),
                ("action", r.action.as_str().to_owned()),
                ("location", r.location.to_string()),
                ("path", r.path.clone()),
                ("reasons", reasons.join(",")),
                ("session", r.session_key.clone().unwrap_or_default()),
                ("pid", r.pid.map(|p| p.to_string()).unwrap_or_default()),
                ("owner", r.owner_state.as_str().to_owned()),
                (
                    "age_s",
                    r.age_seconds.map(|a| a.to_string()).unwrap_or_default(),
                ),
            ];
            if let Some(n) = &r.note {
                kv.push(("note", n.clone()));
            }
            if matches!(r.action, Action::Removed | Action::WouldRemove) {
                kv.push(("content", squash(r.content.as_deref().unwrap_or(""))));
            }
            kv_line(&kv)
        }
    }
}

/// `key=value` pairs; values with spaces, quotes or `=` are double-quoted with escapes.
pub fn kv_line(kv: &[(&str, String)]) -> String {
    kv.iter()
        .map(|(k, v)| {
            if v.is_empty() {
                format!("{k}=")
            } else if v.contains([' ', '"', '=', '\\', '\n']) {
                format!(
                    "{k}=\"{}\"",
                    v.replace('\\', "\\\\")
                        .replace('"', "\\\"")
                        .replace('\n', "\\n")
                )
            } else {
                format!("{k}={v}")
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

pub fn log_summary(
    style: LogFormat,
    command: &str,
    s: &Summary,
    dry_run: bool,
    secs: f64,
) -> String {
    let ts = crate::report::rfc3339(chrono::Utc::now());
    match style {
        LogFormat::Human | LogFormat::Auto => summary_line(command, s, dry_run, secs),
        LogFormat::Json => {
            let mut v = serde_json::to_value(s).expect("a summary serialises");
            v["ts"] = ts.into();
            v["action"] = "summary".into();
            v["command"] = command.into();
            v["dry_run"] = dry_run.into();
            v["duration_s"] = secs.into();
            v.to_string()
        }
        LogFormat::Kv => kv_line(&[
            ("ts", ts),
            ("action", "summary".into()),
            ("command", command.into()),
            ("dry_run", dry_run.to_string()),
            ("locks", s.locks.to_string()),
            ("stale", s.stale.to_string()),
            ("removed", s.removed.to_string()),
            ("would_remove", s.would_remove.to_string()),
            ("skipped", s.skipped.to_string()),
            ("errors", s.errors.to_string()),
            ("duration_s", format!("{secs:.3}")),
        ]),
    }
}

pub fn log_warning(style: LogFormat, w: &str) -> String {
    let ts = crate::report::rfc3339(chrono::Utc::now());
    match style {
        LogFormat::Human | LogFormat::Auto => format!("zaki-locks: warning: {w}"),
        LogFormat::Json => {
            serde_json::json!({"ts": ts, "level": "warning", "message": w}).to_string()
        }
        LogFormat::Kv => kv_line(&[
            ("ts", ts),
            ("level", "warning".into()),
            ("message", w.into()),
        ]),
    }
}

pub fn log_problem(style: LogFormat, p: &crate::place::Problem) -> String {
    let ts = crate::report::rfc3339(chrono::Utc::now());
    match style {
        LogFormat::Human | LogFormat::Auto => format!("zaki-locks: error: {p}"),
        LogFormat::Json => {
            let mut v = serde_json::to_value(p).expect("a problem serialises");
            v["ts"] = ts.into();
            v["level"] = "error".into();
            v.to_string()
        }
        LogFormat::Kv => kv_line(&[
            ("ts", ts),
            ("level", "error".into()),
            ("location", p.location.to_string()),
            (
                "path",
                p.path
                    .as_ref()
                    .map(|x| x.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            ),
            ("message", p.message.clone()),
        ]),
    }
}

pub fn summary_line(command: &str, s: &Summary, dry_run: bool, secs: f64) -> String {
    let acted = if command == "scan" {
        format!("{} stale, {} held", s.stale, s.held)
    } else if dry_run {
        format!("{} would be removed, {} kept", s.would_remove, s.held)
    } else {
        format!(
            "{} removed, {} kept",
            s.removed,
            s.locks - s.removed - s.skipped
        )
    };
    format!(
        "{command}: {} in {}: {acted}, {} skipped, {} ({secs:.2}s)",
        plural(s.locks, "lock"),
        plural(s.places, "place"),
        s.skipped,
        plural(s.errors, "error"),
    )
}

fn plural(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

pub fn json(report: &Report) -> String {
    serde_json::to_string_pretty(report).expect("a report always serialises")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(short_duration(TimeDelta::seconds(5)), "5s");
        assert_eq!(short_duration(TimeDelta::seconds(61)), "1m01s");
        assert_eq!(short_duration(TimeDelta::seconds(7380)), "2h03m");
        assert_eq!(short_duration(TimeDelta::seconds(90000)), "1d01h");
        assert_eq!(short_duration(TimeDelta::seconds(-5)), "0s");
    }

    #[test]
    fn kv_quotes_what_needs_it() {
        assert_eq!(
            kv_line(&[
                ("a", "x".into()),
                ("b", "two words".into()),
                ("c", "q\"=".into()),
                ("d", String::new())
            ]),
            "a=x b=\"two words\" c=\"q\\\"=\" d="
        );
    }

    #[test]
    fn squashes_pretty_json() {
        assert_eq!(
            squash("{\n  \"pid\": 1,\n  \"createdAt\": \"x\"\n}"),
            "{ \"pid\": 1, \"createdAt\": \"x\" }"
        );
        assert_eq!(squash(""), "(empty)");
    }
}
