//! The SQLite era's part of `scan`'s output (OpenClaw 2026.8+): a table of running turns and
//! orphan turn claims, and what the summary line adds, so that a SQLite-era place never shows as
//! "0 locks" alone.

use chrono::TimeDelta;
use comfy_table::Color;

use crate::model::units::short_duration;
use crate::report::output::{borderless, plural, tab_joined};
use crate::report::record::Summary;

/// The SQLite era's table (OpenClaw 2026.8+): one row per session with a turn or a claim, and
/// one per SQLite-era place with neither, so that such a place never shows as "0 locks" alone.
/// Laid out like the locks' table: aligned with no borders, cut at `columns` when given, or
/// tab-separated (`tsv`); every cell with control characters written out.
pub fn table(
    places: &[crate::judge::claims::PlaceDb],
    colour: bool,
    columns: Option<usize>,
    tsv: bool,
) -> Option<String> {
    let rows = rows(places);
    if rows.is_empty() {
        return None;
    }
    let rows: Vec<(Vec<String>, Color)> = rows
        .into_iter()
        .map(|(r, c)| (r.into_iter().map(printable).collect(), c))
        .collect();
    if tsv {
        return Some(tab_joined(&HEADER, rows.iter().map(|(r, _)| &r[..])));
    }
    let t = borderless(HEADER.map(str::to_owned).to_vec(), rows, colour);
    // Cut at the terminal's edge, as `ps` does, rather than wrapped (the cells are printable).
    let max = columns.unwrap_or(usize::MAX);
    let lines: Vec<String> = t.lines().map(|l| l.chars().take(max).collect()).collect();
    Some(lines.join("\n"))
}

/// In the locks' table's order where the columns mean the same (WHERE, STATUS, AGE), the
/// longest (WHY) last, where a terminal's edge cuts it.
const HEADER: [&str; 7] = ["WHERE", "STATUS", "AGE", "ERA", "SESSION", "CLAIM", "WHY"];

/// Escaped as every tenant-written text is (`escape`): one row is one line, and no escape
/// sequence reaches the terminal.
fn printable(s: String) -> String {
    crate::model::escape::text(&s).into_owned()
}

/// The rows: (cells, the status colour).
fn rows(places: &[crate::judge::claims::PlaceDb]) -> Vec<(Vec<String>, Color)> {
    use crate::judge::claims::{Era, TurnState};
    let mut out = Vec::new();
    for p in places.iter().filter(|p| p.era == Era::Sqlite) {
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
            place_notes.push(plural(p.unclean_boots, "unclean boot"));
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
            out.push((
                vec![
                    p.location.to_string(),
                    "idle".into(),
                    "-".into(),
                    era.clone(),
                    "-".into(),
                    "-".into(),
                    format!("no turn in flight; {}", place_notes.join("; ")),
                ],
                Color::Reset,
            ));
        }
        for s in shown {
            let (st, c) = match s.state {
                TurnState::Orphan => ("orphan claim", Color::DarkRed),
                TurnState::Running => ("running", Color::DarkGreen),
                TurnState::Claimed => ("claimed", Color::DarkYellow),
                TurnState::Idle => ("idle", Color::Reset),
                TurnState::Stuck => ("stuck", Color::DarkRed),
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
            // The stuck shape by name and upstream issue, and what fixes it.
            if let Some(shape) = s.shape {
                let container = match &p.location {
                    crate::model::place::Location::Container(c) => c.as_str(),
                    _ => "",
                };
                why = format!(
                    "{shape} ({}): {why}; to fix: {}",
                    shape.issue(),
                    shape.fix(container)
                );
            }
            // A running turn's age; a claim's own age when no turn backs it.
            let age = match s.state {
                TurnState::Running => s.turn_age_seconds.or(s.claim_age_seconds),
                _ => s.claim_age_seconds.or(s.turn_age_seconds),
            }
            .map_or_else(|| "-".into(), |a| short_duration(TimeDelta::seconds(a)));
            out.push((
                vec![
                    p.location.to_string(),
                    st.into(),
                    age,
                    era.clone(),
                    s.session_key.clone(),
                    s.claim.as_ref().map_or("-".into(), |c| c.run_id.clone()),
                    why,
                ],
                c,
            ));
        }
    }
    out
}

/// What the summary line adds for SQLite-era places (empty when there are none); in a mixed
/// fleet (an upgrade under way) it also counts the lock-file places.
pub fn sqlite_summary(s: &Summary, places: &[crate::judge::claims::PlaceDb]) -> String {
    if s.sqlite_places == 0 {
        return String::new();
    }
    let lock_file = places
        .iter()
        .filter(|p| p.era == crate::judge::claims::Era::LockFile)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::judge::claims::{Era, PlaceDb, SessionTurn, TurnState};
    use crate::model::claims::Claim;
    use crate::model::place::Location;

    fn place(sessions: Vec<SessionTurn>) -> PlaceDb {
        PlaceDb {
            location: Location::Container("zaki-user-42".into()),
            state_dir: "/home/node/.openclaw".into(),
            era: Era::Sqlite,
            version: Some("2026.9.6".into()),
            leftover_sessions_dirs: 0,
            gateway: None,
            unclean_boots: 0,
            sessions,
            error: None,
            error_reason: None,
        }
    }

    #[test]
    fn one_row_per_turn_or_an_idle_row_and_no_raw_control_characters() {
        let orphan = SessionTurn {
            agent: "main".into(),
            session_key: "agent:main:openai-user:42\x1b[2J".into(),
            session_id: None,
            status: Some("done".into()),
            active_writer_run_id: None,
            turn_age_seconds: Some(61),
            claim: Some(Claim {
                owner: "local".into(),
                id: "c".into(),
                run_id: "run\n1".into(),
                generation: Some(0),
            }),
            claim_age_seconds: Some(61),
            state: TurnState::Orphan,
            reasons: vec![crate::judge::claims::OrphanReason::NoRunningTurn],
            note: None,
            shape: Some(crate::judge::claims::Shape::OrphanClaim),
            issue: Some("openclaw/openclaw#146692"),
        };
        let t = table(&[place(vec![orphan])], false, None, true).unwrap();
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 2, "{t}");
        assert!(!t.contains('\x1b'), "{t:?}");
        let cells: Vec<&str> = lines[1].split('\t').collect();
        assert_eq!(cells[3], "sqlite 2026.9.6");
        assert_eq!(cells[5], "run\\n1");
        assert_eq!(cells[1], "orphan claim");
        assert_eq!(
            cells[6],
            "orphan-claim (openclaw/openclaw#146692): no-running-turn; to fix: zaki-locks clean --restart-orphaned --container zaki-user-42"
        );
        let idle = table(&[place(Vec::new())], false, Some(120), false).unwrap();
        assert!(
            idle.contains("idle") && idle.contains("no turn in flight"),
            "{idle}"
        );
        assert!(table(&[], false, None, false).is_none());
    }
}
