//! The SQLite era's part of `scan`'s output (OpenClaw 2026.8+): a table of running turns and
//! orphan turn claims, and what the summary line adds, so that a SQLite-era place never shows as
//! "0 locks" alone.

use std::io::IsTerminal;

use chrono::TimeDelta;
use comfy_table::{Cell, Color, ContentArrangement, Table, presets};

use crate::output::short_duration;
use crate::report::Summary;

fn plural(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

/// The SQLite era's table (OpenClaw 2026.8+): one row per session with a turn or a claim, and
/// one per SQLite-era place with neither, so that such a place never shows as "0 locks" alone.
pub fn table(places: &[crate::claims::PlaceDb], colour: bool) -> Option<String> {
    use crate::claims::{Era, TurnState};
    let sqlite: Vec<_> = places.iter().filter(|p| p.era == Era::Sqlite).collect();
    if sqlite.is_empty() {
        return None;
    }
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
        "LOCATION", "ERA", "SESSION", "RUN", "CLAIM", "AGE", "STATUS", "WHY",
    ]);
    for p in sqlite {
        let era = match &p.version {
            Some(v) => format!("sqlite {v}"),
            None => "sqlite".into(),
        };
        let gateway = p.gateway.as_ref().map(|g| {
            format!(
                "gateway pid {} {}{}",
                g.pid.map_or_else(|| "-".into(), |p| p.to_string()),
                g.owner_state.as_str(),
                g.heartbeat_age_seconds
                    .map(|a| format!(", heartbeat {} ago", short_duration(TimeDelta::seconds(a))))
                    .unwrap_or_default()
            )
        });
        let mut place_notes: Vec<String> = gateway.into_iter().collect();
        if p.unclean_boots > 0 {
            place_notes.push(format!("{} unclean boots", p.unclean_boots));
        }
        if p.leftover_sessions_dirs > 0 {
            place_notes.push("migrated from lock files".into());
        }
        if let Some(e) = &p.error {
            place_notes.push(e.clone());
        }
        let shown: Vec<_> = p
            .sessions
            .iter()
            .filter(|s| s.state != TurnState::Idle)
            .collect();
        if shown.is_empty() {
            t.add_row(vec![
                Cell::new(&p.location),
                Cell::new(&era),
                Cell::new("-"),
                Cell::new("-"),
                Cell::new("-"),
                Cell::new("-"),
                Cell::new("idle"),
                Cell::new(format!("no turn in flight; {}", place_notes.join("; "))),
            ]);
        }
        for s in shown {
            let (st, c) = match s.state {
                TurnState::Orphan => ("orphan claim", Color::Red),
                TurnState::Running => ("running", Color::Green),
                TurnState::Claimed => ("claimed", Color::Yellow),
                TurnState::Idle => ("idle", Color::Reset),
            };
            let st = if colour {
                Cell::new(st).fg(c)
            } else {
                Cell::new(st)
            };
            let reasons: Vec<&str> = s.reasons.iter().map(|r| r.as_str()).collect();
            let mut why = match (&s.note, reasons.is_empty()) {
                (Some(n), false) => format!("{}: {n}", reasons.join(", ")),
                (Some(n), true) => n.clone(),
                (None, _) => reasons.join(", "),
            };
            if s.state == TurnState::Orphan && !place_notes.is_empty() {
                why = format!("{why}; {}", place_notes.join("; "));
            }
            let age = s
                .turn_age_seconds
                .or(s.claim_age_seconds)
                .map_or_else(|| "-".into(), |a| short_duration(TimeDelta::seconds(a)));
            t.add_row(vec![
                Cell::new(&p.location),
                Cell::new(&era),
                Cell::new(&s.session_key),
                Cell::new(s.active_writer_run_id.as_deref().unwrap_or("-")),
                Cell::new(s.claim.as_ref().map_or("-", |c| c.run_id.as_str())),
                Cell::new(age),
                st,
                Cell::new(why),
            ]);
        }
    }
    Some(t.to_string())
}

/// What the summary line adds for SQLite-era places (empty when there are none); in a mixed
/// fleet (an upgrade under way) it also counts the lock-file places.
pub fn sqlite_summary(s: &Summary, places: &[crate::claims::PlaceDb]) -> String {
    if s.sqlite_places == 0 {
        return String::new();
    }
    let lock_file = places
        .iter()
        .filter(|p| p.era == crate::claims::Era::LockFile)
        .count();
    let mixed = if lock_file > 0 {
        format!("{}, ", plural(lock_file, "lock-file place"))
    } else {
        String::new()
    };
    format!(
        "; {mixed}{} (OpenClaw 2026.8+, no lock files): {}, {}",
        plural(s.sqlite_places, "SQLite-era place"),
        plural(s.running_turns, "running turn"),
        plural(s.orphan_claims, "orphan claim"),
    )
}
