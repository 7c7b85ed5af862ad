//! Rendering reports for people (a table, one line per action) and for programs (JSON).

use chrono::TimeDelta;

use crate::judge::lock::{OwnerState, Status};
use crate::model::escape;
use crate::model::units::short_duration;
use crate::report::record::{Action, LockRecord, Report, ReportHead, Summary};

/// The shape of log lines, `--log-format` resolved (auto is decided by `config`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogStyle {
    /// Sentences for people.
    Human,
    /// `ts=… action=…` key=value pairs.
    Kv,
    /// One JSON object per line.
    Json,
}

/// The colour of a status word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Color {
    Red,
    Green,
    Yellow,
    Magenta,
}

/// The STATUS column: what was done to the lock when something was, else what it is.
fn status(r: &LockRecord) -> (&'static str, Color) {
    let colour = match (r.action, r.status) {
        (Action::WouldRemove, _) => Color::Yellow,
        (Action::Skipped, _) => Color::Magenta,
        (Action::Removed, _) | (Action::Kept, Status::Stale | Status::Wedged) => Color::Red,
        (Action::Kept, Status::Held | Status::Unjudged) => Color::Green,
        (Action::Kept, Status::Unheld) => Color::Yellow,
    };
    let word = match r.action {
        Action::Kept => r.status.as_str(),
        done => done.as_str(),
    };
    (word, colour)
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

/// The columns of the `scan` table, in order; the lock's path comes last, as `ps` puts the
/// command last, so that it is the one cut at the terminal's edge.
const HEADER: [&str; 8] = [
    "WHERE", "STATUS", "AGE", "PID", "OWNER", "WHY", "SESSION", "LOCK",
];

/// Where a column's cell is cut when the terminal is narrow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cut {
    /// Keeps the end: a container's name its user id, a session key its id.
    Start,
    /// Keeps the start: a reason's key word (`recycled-pid`), an owner's name.
    End,
    /// A lock's path: its file name, which starts with the session id, then cut at its end.
    FileName,
}

/// How far each column may shrink when the terminal is narrow (0: never), and how it is cut.
/// WHY never shrinks below its widest first reason (see [`why_floor`]); LOCK keeps 8
/// characters of the session id.
const SHRINK: [(usize, Cut); 8] = [
    (12, Cut::Start),
    (0, Cut::End),
    (0, Cut::End),
    (0, Cut::End),
    (6, Cut::End),
    (8, Cut::End),
    (16, Cut::Start),
    (9, Cut::FileName),
];

/// Order in which columns give up width: the note first, then the owner's name, the path, the
/// session (its end, the user id, stays), the place; last, the path gives up the rest.
const SHRINK_ORDER: [usize; 6] = [5, 4, 7, 6, 0, 7];

/// The word in the STATUS column: short, so that other judgements (`wedged`, `leaked`, …) fit.
pub fn status_word(r: &LockRecord) -> &'static str {
    status(r).0
}

/// The lock's path as the table shows it: relative to its state dir (the `agents/…` part),
/// unless `full`.
pub fn shown_path(r: &LockRecord, full: bool) -> String {
    if full {
        return r.path.clone();
    }
    match r.path.find("/agents/") {
        Some(i) => r.path[i + 1..].to_owned(),
        None => r.path.clone(),
    }
}

/// A cell as a terminal may show it: control characters (a newline, ESC, a tab) written out
/// as `\n`, `\u{1b}`, `\t`, so that a name chosen inside a container can neither break the one
/// line per lock (or a tab-separated cell) nor drive the operator's terminal.
fn printable(s: String) -> String {
    // Bidi overrides and `\` too: one escaper for every rendering point (`crate::model::escape`).
    match escape::text(&s) {
        std::borrow::Cow::Borrowed(_) => s,
        std::borrow::Cow::Owned(e) => e,
    }
}

fn row(r: &LockRecord, full: bool) -> [String; 8] {
    [
        match &r.location {
            crate::model::place::Location::Container(n) => n.clone(),
            other => other.to_string(),
        },
        status_word(r).to_owned(),
        age(r),
        r.pid.map_or_else(|| "-".into(), |p| p.to_string()),
        // The STATUS says held or stale; here the owner's name when alive, else its state.
        match (&r.owner_name, r.owner_state) {
            (Some(n), OwnerState::Alive) => n.clone(),
            _ => r.owner_state.as_str().to_owned(),
        },
        {
            let w = why(r);
            if w.is_empty() { "-".into() } else { w }
        },
        // `agent:main:openai-user:42` → `openai-user:42`: the agent is in the path.
        r.session_key.as_deref().map_or_else(
            || "-".into(),
            |k| {
                k.strip_prefix(&format!("agent:{}:", r.agent))
                    .unwrap_or(k)
                    .to_owned()
            },
        ),
        shown_path(r, full),
    ]
    .map(printable)
}

/// Terminal columns, as comfy-table measures them: a CJK character takes two.
fn width(s: &str) -> usize {
    // Nearly every cell is printable ASCII, a column each: counted without the tables.
    if s.bytes().all(|b| (b' '..=b'~').contains(&b)) {
        s.len()
    } else {
        unicode_width::UnicodeWidthStr::width(s)
    }
}

/// Cuts `s` to `w` terminal columns with an ellipsis, at the start or at the end.
fn cut(s: &str, w: usize, at_start: bool) -> String {
    if width(s) <= w {
        return s.to_owned();
    }
    if w == 0 {
        return String::new();
    }
    // Whole characters, as many as fit next to the ellipsis.
    let mut room = w - 1;
    let mut keep = |c: &char| {
        let cw = unicode_width::UnicodeWidthChar::width(*c).unwrap_or(0);
        let fits = cw <= room;
        room = room.saturating_sub(cw);
        fits
    };
    if at_start {
        let mut tail: Vec<char> = s.chars().rev().take_while(&mut keep).collect();
        tail.reverse();
        format!("…{}", tail.into_iter().collect::<String>())
    } else {
        let head: String = s.chars().take_while(keep).collect();
        format!("{head}…")
    }
}

/// A cell cut to `w` columns the way its column is cut.
fn cut_cell(s: &str, w: usize, how: Cut) -> String {
    match how {
        _ if width(s) <= w => s.to_owned(),
        Cut::Start => cut(s, w, true),
        Cut::End => cut(s, w, false),
        Cut::FileName => {
            let name = s.rsplit('/').next().unwrap_or(s);
            let short = format!("…/{name}");
            if name.len() < s.len() && width(&short) <= w {
                short
            } else {
                cut(name, w, false)
            }
        }
    }
}

/// The narrowest the WHY column may be for `r`: its first reason (`recycled-pid`), whole,
/// with the ellipsis that says more follows (a note alone may be cut anywhere).
fn why_floor(r: &LockRecord) -> usize {
    r.reasons.first().map_or(0, |first| {
        width(first.as_str()) + usize::from(r.reasons.len() > 1 || r.note.is_some())
    })
}

/// Column widths that fit `max` columns (when given): the widest content (`widest`, the
/// header's included), shrunk column by column in [`SHRINK_ORDER`] down to each one's minimum.
fn fit(widest: [usize; 8], max: Option<usize>, why_floor: usize) -> [usize; 8] {
    let mut w = widest;
    let Some(max) = max else { return w };
    let total = |w: &[usize; 8]| w.iter().sum::<usize>() + 2 * (w.len() - 1);
    let mut floors = SHRINK.map(|(f, _)| f);
    floors[5] = floors[5].max(why_floor);
    for (n, &i) in SHRINK_ORDER.iter().enumerate() {
        let over = total(&w).saturating_sub(max);
        if over == 0 {
            break;
        }
        let last = n + 1 == SHRINK_ORDER.len();
        let floor = if last {
            1
        } else {
            floors[i].max(width(HEADER[i]))
        }
        .min(w[i]);
        w[i] -= over.min(w[i] - floor);
    }
    w
}

/// The `scan` table: one line per lock, its columns aligned (on a terminal and in a pipe, as
/// `docker ps` and `ps` do) and cut to fit `columns` when given (the terminal's width, or
/// `COLUMNS` in a pipe); `None`: never cut. Commands write it with [`write_table`].
#[cfg(test)]
pub fn table(
    records: &[LockRecord],
    colour: bool,
    full_paths: bool,
    columns: Option<usize>,
) -> String {
    let mut out = Vec::new();
    write_table(&mut out, records, colour, full_paths, columns).expect("a Vec takes any write");
    String::from_utf8(out).expect("the table is UTF-8")
}

/// `--format tsv`: tab-separated, never cut nor padded, for `cut`, `awk` and spreadsheets. A
/// plain join, not comfy-table, which only lays out aligned columns. Commands write it with
/// [`write_tsv`].
#[cfg(test)]
pub fn tsv(records: &[LockRecord], full_paths: bool) -> String {
    let mut out = Vec::new();
    write_tsv(&mut out, records, full_paths).expect("a Vec takes any write");
    String::from_utf8(out).expect("the lines are UTF-8")
}

/// [`tsv`]: the header, then each lock's line.
#[cfg(test)]
pub fn write_tsv(
    out: &mut impl std::io::Write,
    records: &[LockRecord],
    full_paths: bool,
) -> std::io::Result<()> {
    write_tsv_header(out)?;
    records
        .iter()
        .try_for_each(|r| write_tsv_row(out, r, full_paths))
}

/// The header of [`write_tsv`].
pub fn write_tsv_header(out: &mut impl std::io::Write) -> std::io::Result<()> {
    out.write_all(HEADER.join("\t").as_bytes())
}

/// A lock's line of [`write_tsv`], after a newline.
pub fn write_tsv_row(
    out: &mut impl std::io::Write,
    r: &LockRecord,
    full_paths: bool,
) -> std::io::Result<()> {
    out.write_all(b"\n")?;
    out.write_all(row(r, full_paths).join("\t").as_bytes())
}

/// A header and rows joined with tabs, one line each: every table's off-a-terminal form.
pub(crate) fn tab_joined<'a>(header: &[&str], rows: impl Iterator<Item = &'a [String]>) -> String {
    let mut out = header.join("\t");
    for r in rows {
        out.push('\n');
        out.push_str(&r.join("\t"));
    }
    out
}

/// Every table's on-a-terminal form, docker-ps style: no borders, two spaces between columns,
/// cells laid out as given (already cut), the second column (the status word) in its row's
/// colour when `colour` is on. Lines have no trailing spaces.
pub(crate) fn borderless(
    header: Vec<String>,
    rows: Vec<(Vec<String>, comfy_table::Color)>,
    colour: bool,
) -> String {
    use comfy_table::{Cell, ContentArrangement, Table, presets};
    let n = header.len();
    let mut t = Table::new();
    t.load_style(presets::NOTHING)
        .set_content_arrangement(ContentArrangement::Disabled)
        // Styling follows `--color`, not comfy-table's own look at stdout.
        .force_no_tty();
    if colour {
        t.enforce_styling();
        t.style_text_only();
        // `colour` already weighed NO_COLOR against `--color`; crossterm would weigh it again.
        crossterm::style::Colored::set_ansi_color_disabled(false);
    }
    t.set_header(header);
    for (cells, c) in rows {
        let row: Vec<Cell> = cells
            .into_iter()
            .enumerate()
            .map(|(i, x)| {
                if colour && i == 1 {
                    Cell::new(x).fg(c)
                } else {
                    Cell::new(x)
                }
            })
            .collect();
        t.add_row(row);
    }
    for (i, c) in t.column_iter_mut().enumerate() {
        c.set_padding(if i + 1 == n { (0, 0) } else { (0, 2) });
    }
    t.trim_fmt()
}

/// [`table`], written line by line (no trailing newline); see [`TableRows`].
#[cfg(test)]
pub fn write_table(
    out: &mut impl std::io::Write,
    records: &[LockRecord],
    colour: bool,
    full_paths: bool,
    columns: Option<usize>,
) -> std::io::Result<()> {
    let mut rows = TableRows::new(full_paths);
    records.iter().for_each(|r| rows.push(r));
    rows.write(out, colour, columns)
}

/// The `scan` table's rows, kept as each lock's record is made and let go: its cells joined
/// with tabs (a cell holds none, [`printable`] wrote it out) and its status colour, about 150
/// bytes a lock where its record is 800. The widths need every row, so the table is written
/// once the last is in ([`TableRows::write`]).
///
/// On a terminal, docker-ps style: no borders, two spaces between columns, each column cut to
/// the width [`fit`] gives it; a path keeps its tail. A terminal too narrow even for the shrunk
/// columns cuts the line at its edge, as `ps` does. The bytes are those comfy-table lays out for
/// the whole table at once ([`borderless`]): the widest content of each column, then each
/// column's width once its cells are cut, then the lines.
pub struct TableRows {
    full_paths: bool,
    rows: Vec<(Box<str>, Color)>,
    why_floor: usize,
}

impl TableRows {
    pub fn new(full_paths: bool) -> TableRows {
        TableRows {
            full_paths,
            rows: Vec::new(),
            why_floor: 0,
        }
    }

    pub fn push(&mut self, r: &LockRecord) {
        let cells = row(r, self.full_paths).join("\t").into_boxed_str();
        self.rows.push((cells, status(r).1));
        self.why_floor = self.why_floor.max(why_floor(r));
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The table, header first (no trailing newline).
    pub fn write(
        &self,
        out: &mut impl std::io::Write,
        colour: bool,
        columns: Option<usize>,
    ) -> std::io::Result<()> {
        let texts = |cells: &str| -> [String; 8] {
            let mut it = cells.split('\t');
            std::array::from_fn(|_| it.next().unwrap_or_default().to_owned())
        };
        let rows = || self.rows.iter().map(|(cells, c)| (texts(cells), *c));
        let cols = Columns::of(rows().map(|(t, _)| t), self.why_floor, columns);
        let (shown, cells) = (cols.shown, |texts: &[String; 8]| cols.cells(texts));
        // Each column as wide as its widest cell once cut (at least 1), as comfy-table lays it
        // out.
        let header = cells(&HEADER.map(str::to_owned));
        let mut laid: Vec<usize> = header.iter().map(|c| width(c).max(1)).collect();
        for (t, _) in rows() {
            for (l, c) in laid.iter_mut().zip(cells(&t)) {
                *l = (*l).max(width(&c));
            }
        }
        let mut line = String::new();
        // The header, then each row after a newline.
        let mut write_line = |nl: &str, cells: Vec<String>, c: Option<Color>| {
            line.clear();
            for (i, cell) in cells.iter().enumerate() {
                match c.filter(|_| i == 1) {
                    Some(c) => line.push_str(&format!("\x1b[38;5;{}m{cell}\x1b[39m", c.sgr())),
                    None => line.push_str(cell),
                }
                // Two spaces between columns, none after the last; trailing spaces trimmed.
                let pad = laid[i] - width(cell) + if i + 1 == shown { 0 } else { 2 };
                line.extend(std::iter::repeat_n(' ', pad));
            }
            out.write_all(nl.as_bytes())?;
            out.write_all(line.trim_end().as_bytes())
        };
        write_line("", header, None)?;
        for (t, c) in rows() {
            write_line("\n", cells(&t), colour.then_some(c))?;
        }
        Ok(())
    }
}

/// Where the table's columns go: each one's width as [`fit`] gives it, where it starts, and how
/// many start before the terminal's edge.
struct Columns {
    w: [usize; 8],
    starts: Vec<usize>,
    shown: usize,
    max: usize,
}

impl Columns {
    /// The columns of the table whose rows are `rows`, at `columns` wide; `why_floor`: the
    /// narrowest its WHY column may be.
    fn of(
        rows: impl Iterator<Item = [String; 8]>,
        why_floor: usize,
        columns: Option<usize>,
    ) -> Columns {
        let max = columns.unwrap_or(usize::MAX);
        let mut widest = HEADER.map(width);
        for r in rows {
            for (i, c) in r.iter().enumerate() {
                widest[i] = widest[i].max(width(c));
            }
        }
        let w = fit(widest, columns, why_floor);
        // Where each column starts; those starting at or past the edge are not shown.
        let starts: Vec<usize> = w
            .iter()
            .scan(0, |at, wi| {
                let s = *at;
                *at += wi + 2;
                Some(s)
            })
            .collect();
        let shown = starts.iter().take_while(|&&s| s < max).count();
        Columns {
            w,
            starts,
            shown,
            max,
        }
    }

    /// A row's cells, each cut to its column (and at the edge).
    fn cells(&self, texts: &[String; 8]) -> Vec<String> {
        (0..self.shown)
            .map(|i| {
                let how = SHRINK[i].1;
                // At the edge too, a column keeps its useful end (a session its id).
                let cell = cut_cell(&texts[i], self.w[i], how);
                cut_cell(&cell, self.max - self.starts[i], how)
            })
            .collect()
    }
}

impl Color {
    /// The terminal's own palette colour (`ESC [ 38;5;N m`), as comfy-table writes it.
    fn sgr(self) -> u8 {
        match self {
            Color::Red => 1,
            Color::Green => 2,
            Color::Yellow => 3,
            Color::Magenta => 5,
        }
    }
}

/// One line per lock that `clean` acted on (or would have): what, where, why, and the payload,
/// so that the log alone tells what was removed.
pub fn action_line(r: &LockRecord) -> String {
    let verb = r.action.verb();
    let mut line = format!("{verb} {}", r.path);
    if r.location != crate::model::place::Location::Host {
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
    // Names, paths, notes and the payload are tenant text: a newline in any of them must not
    // start a forged line, nor an ESC sequence reach the terminal or the journal.
    escape::text(&line).into_owned()
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
pub fn log_line(style: LogStyle, r: &LockRecord) -> String {
    let ts = crate::report::record::rfc3339(chrono::Utc::now());
    match style {
        LogStyle::Human => action_line(r),
        LogStyle::Json => {
            let mut v = serde_json::to_value(r).expect("a record serialises");
            v["ts"] = ts.into();
            v.to_string()
        }
        LogStyle::Kv => {
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

/// `key=value` pairs; values are escaped (see [`escape::text`]), and those with spaces,
/// quotes, `=` or escapes are double-quoted.
pub fn kv_line(kv: &[(&str, String)]) -> String {
    kv.iter()
        .map(|(k, v)| {
            let v = escape::text(v);
            if v.is_empty() {
                format!("{k}=")
            } else if v.contains([' ', '"', '=', '\\']) {
                format!("{k}=\"{}\"", v.replace('"', "\\\""))
            } else {
                format!("{k}={v}")
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

pub fn log_summary(
    style: LogStyle,
    command: &str,
    s: &Summary,
    dry_run: bool,
    secs: f64,
) -> String {
    let ts = crate::report::record::rfc3339(chrono::Utc::now());
    match style {
        LogStyle::Human => summary_line(command, s, dry_run, secs),
        LogStyle::Json => {
            let mut v = serde_json::to_value(s).expect("a summary serialises");
            v["ts"] = ts.into();
            v["action"] = "summary".into();
            v["command"] = command.into();
            v["dry_run"] = dry_run.into();
            v["duration_s"] = secs.into();
            v.to_string()
        }
        LogStyle::Kv => kv_line(&[
            ("ts", ts),
            ("action", "summary".into()),
            ("command", command.into()),
            ("dry_run", dry_run.to_string()),
            ("locks", s.locks.to_string()),
            ("stale", s.stale.to_string()),
            ("removed", s.removed.to_string()),
            ("would_remove", s.would_remove.to_string()),
            ("held", s.held.to_string()),
            ("wedged", s.wedged.to_string()),
            ("skipped", s.skipped.to_string()),
            ("errors", s.errors.to_string()),
            ("orphan_claims", s.orphan_claims.to_string()),
            ("unrestarted", s.unrestarted.to_string()),
            ("needs_human", s.needs_human.to_string()),
            ("duration_s", format!("{secs:.3}")),
        ]),
    }
}

pub fn log_warning(style: LogStyle, w: &str) -> String {
    let ts = crate::report::record::rfc3339(chrono::Utc::now());
    match style {
        LogStyle::Human => format!("zaki-locks: warning: {}", escape::text(w)),
        LogStyle::Json => {
            serde_json::json!({"ts": ts, "level": "warning", "message": w}).to_string()
        }
        LogStyle::Kv => kv_line(&[
            ("ts", ts),
            ("level", "warning".into()),
            ("message", w.into()),
        ]),
    }
}

pub fn log_problem(style: LogStyle, p: &crate::model::place::Problem) -> String {
    let ts = crate::report::record::rfc3339(chrono::Utc::now());
    match style {
        LogStyle::Human => format!("zaki-locks: error: {p}"),
        LogStyle::Json => {
            let mut v = serde_json::to_value(p).expect("a problem serialises");
            v["ts"] = ts.into();
            v["level"] = "error".into();
            v.to_string()
        }
        LogStyle::Kv => {
            let mut kv = vec![
                ("ts", ts),
                ("level", "error".into()),
                ("location", p.location.to_string()),
            ];
            // No `path=` when the problem is not about a file (an engine, a container).
            if let Some(path) = &p.path {
                kv.push(("path", path.to_string_lossy().into_owned()));
            }
            kv.push(("message", p.message.clone()));
            kv_line(&kv)
        }
    }
}

pub fn summary_line(command: &str, s: &Summary, dry_run: bool, secs: f64) -> String {
    let mut acted = if command == "scan" {
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
    if s.wedged > 0 {
        acted.push_str(&format!(" ({} wedged)", s.wedged));
    }
    let human = match s.needs_human {
        0 => String::new(),
        1 => "; 1 needs a human".into(),
        n => format!("; {n} need a human"),
    };
    format!(
        "{command}: {} in {}: {acted}, {} skipped, {} ({secs:.2}s){human}",
        plural(s.locks, "lock"),
        plural(s.places, "place"),
        s.skipped,
        plural(s.errors, "error"),
    )
}

/// A lock that needs a human (a wedged one), as one line with its fix: for stderr, where
/// `clean --quiet` still speaks, so that cron mails it and journald keeps it.
pub fn attention_line(style: LogStyle, r: &LockRecord) -> String {
    let ts = crate::report::record::rfc3339(chrono::Utc::now());
    let fix = r.fix.clone().unwrap_or_default();
    match style {
        LogStyle::Human => {
            let at = match &r.location {
                crate::model::place::Location::Host => r.path.clone(),
                other => format!("{other}:{}", r.path),
            };
            let line = format!(
                "zaki-locks: needs a human: {at} is {} [{}] session={} age={}; to fix: {fix}",
                r.status.as_str(),
                why(r),
                r.session_key.as_deref().unwrap_or("-"),
                age(r),
            );
            escape::text(&line).into_owned()
        }
        LogStyle::Json => {
            let mut v = serde_json::to_value(r).expect("a record serialises");
            v["ts"] = ts.into();
            v["level"] = "warning".into();
            v["event"] = "needs-human".into();
            v.to_string()
        }
        LogStyle::Kv => kv_line(&[
            ("ts", ts),
            ("level", "warning".into()),
            ("event", "needs-human".into()),
            ("status", r.status.as_str().into()),
            ("location", r.location.to_string()),
            ("path", r.path.clone()),
            ("session", r.session_key.clone().unwrap_or_default()),
            ("pid", r.pid.map(|p| p.to_string()).unwrap_or_default()),
            (
                "age_s",
                r.age_seconds.map(|a| a.to_string()).unwrap_or_default(),
            ),
            ("note", r.note.clone().unwrap_or_default()),
            ("fix", fix),
        ]),
    }
}

pub(crate) fn plural(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

/// The JSON report (pretty), written as it is serialised: never one string of every lock.
/// The same bytes as serde_json's pretty form of the whole report, by way of [`JsonStream`].
pub fn write_json(out: &mut impl std::io::Write, report: &Report) -> std::io::Result<()> {
    let mut json = JsonStream::start(out, &report.head())?;
    report.locks.iter().try_for_each(|r| json.lock(r))?;
    json.end(report).map(drop)
}

/// `--format json` written as the run goes: the report's head, then each lock as its record is
/// made, then the rest once the run is over (the summary among it). The bytes are serde_json's
/// pretty form of the whole report: each part is serialised so, and put in its place.
pub struct JsonStream<W> {
    out: W,
    locks: usize,
}

impl<W: std::io::Write> JsonStream<W> {
    /// Writes the head, up to the opening of `locks`.
    pub fn start(mut out: W, head: &ReportHead) -> std::io::Result<JsonStream<W>> {
        let head = serde_json::to_vec_pretty(head)?;
        // `{ … }` without its closing `\n}`: the report goes on.
        out.write_all(&head[..head.len() - 2])?;
        out.write_all(b",\n  \"locks\": [")?;
        Ok(JsonStream { out, locks: 0 })
    }

    /// One more element of `locks`, two levels in.
    pub fn lock(&mut self, r: &LockRecord) -> std::io::Result<()> {
        let sep: &[u8] = if self.locks == 0 { b"\n" } else { b",\n" };
        self.out.write_all(sep)?;
        indented(&mut self.out, &serde_json::to_vec_pretty(r)?, b"    ")?;
        self.locks += 1;
        Ok(())
    }

    /// Closes `locks` and writes the rest of `report` (whose own `locks` are not written);
    /// gives the writer back.
    pub fn end(mut self, report: &Report) -> std::io::Result<W> {
        let close: &[u8] = if self.locks == 0 { b"]" } else { b"\n  ]" };
        self.out.write_all(close)?;
        let tail = serde_json::to_vec_pretty(&report.tail())?;
        // `{\n  "summary": …}`: its fields go on after `locks`.
        self.out.write_all(b",\n")?;
        self.out.write_all(&tail[2..])?;
        Ok(self.out)
    }
}

/// `json` with `indent` after each of its newlines (a newline inside a JSON string is written
/// `\n`: every raw one is the layout's).
fn indented(out: &mut impl std::io::Write, json: &[u8], indent: &[u8]) -> std::io::Result<()> {
    out.write_all(indent)?;
    for (i, line) in json.split(|&b| b == b'\n').enumerate() {
        if i > 0 {
            out.write_all(b"\n")?;
            out.write_all(indent)?;
        }
        out.write_all(line)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(location: crate::model::place::Location, note: Option<&str>) -> LockRecord {
        LockRecord {
            location,
            path: "/home/node/.openclaw/agents/main/sessions/0f3c9a2e-05ef-4fc9-bfd6-df9a78f2811b.jsonl.lock".into(),
            host_path: None,
            agent: "main".into(),
            kind: "transcript",
            session_id: None,
            session_key: Some("agent:main:openai-user:1234567890".into()),
            pid: Some(4_194_303),
            owner_state: OwnerState::Recycled,
            owner_name: Some("node".into()),
            created_at: None,
            age_seconds: Some(90_000),
            mtime: None,
            size: None,
            starttime: None,
            max_hold_ms: None,
            stale: true,
            status: Status::Stale,
            reasons: vec![crate::judge::lock::Reason::RecycledPid, crate::judge::lock::Reason::TooOld],
            action: Action::WouldRemove,
            note: note.map(str::to_owned),
            content: None,
            held_open: Some(false),
            holders: Vec::new(),
            visibility: "complete",
            visibility_note: None,
            wedged: false,
            fix: None,
        }
    }

    /// What a terminal shows of a line: SGR sequences (`ESC [ … m`) take no column.
    fn visible(line: &str) -> String {
        let mut out = String::new();
        let mut chars = line.chars();
        while let Some(c) = chars.next() {
            if c == '\x1b' {
                assert_eq!(chars.next(), Some('['), "{line:?}");
                for d in chars.by_ref() {
                    if d == 'm' {
                        break;
                    }
                    assert!(d.is_ascii_digit() || d == ';', "{line:?}");
                }
            } else {
                out.push(c);
            }
        }
        out
    }

    #[test]
    fn the_table_fits_any_width_one_line_per_lock() {
        use crate::model::place::Location;
        let records = [
            record(
                Location::Container("zaki-user-1234567890".into()),
                Some("a long note that says why it was kept or skipped in words"),
            ),
            record(Location::Host, None),
        ];
        for cols in [40, 60, 80, 120] {
            let t = table(&records, true, false, Some(cols));
            let lines: Vec<&str> = t.lines().collect();
            assert_eq!(lines.len(), 3, "{t}");
            for l in &lines {
                let plain = visible(l);
                assert!(plain.chars().count() <= cols, "{cols}: {plain:?}");
            }
            // The user id (the session key's end) survives the cut.
            assert!(lines[1].contains("1234567890"), "{cols}: {t}");
        }
        // Wide enough: nothing cut, the relative path whole, the status word as is.
        let t = table(&records, false, false, Some(250));
        assert!(t.contains("agents/main/sessions/0f3c9a2e-05ef-4fc9-bfd6-df9a78f2811b.jsonl.lock"));
        assert!(t.contains(" would-remove "), "{t}");
        assert!(!t.contains('…'), "{t}");
        // No width (a pipe without COLUMNS): aligned, never cut; tab-separated on request.
        let t = table(&records, false, true, None);
        assert!(!t.contains('…') && !t.contains('\t'), "{t}");
        assert!(
            t.contains("  /home/node/.openclaw/agents/main/sessions/"),
            "{t}"
        );
        let t = tsv(&records, true);
        assert!(
            t.contains("\t/home/node/.openclaw/agents/main/sessions/"),
            "{t}"
        );
    }

    fn lock(action: Action, stale: bool, owner: OwnerState, name: Option<&str>) -> LockRecord {
        LockRecord {
            location: crate::model::place::Location::Host,
            action,
            stale,
            status: if stale { Status::Stale } else { Status::Held },
            owner_state: owner,
            owner_name: name.map(str::to_owned),
            reasons: if stale {
                record(crate::model::place::Location::Host, None).reasons
            } else {
                vec![]
            },
            ..record(crate::model::place::Location::Host, None)
        }
    }

    /// The layout, byte for byte, as the hand-rolled formatter drew it before comfy-table
    /// (colour codes aside): two spaces between columns, none before or after, the status word
    /// coloured alone, cuts at the start of a session and at the end of a note (its first
    /// reason whole), and a path cut to its file name, whose start is the session id.
    #[test]
    fn the_table_layout_is_exact_at_80_and_200_columns() {
        use crate::model::place::Location;
        let path = "agents/main/sessions/0f3c9a2e-05ef-4fc9-bfd6-df9a78f2811b.jsonl.lock";
        let two = [
            LockRecord {
                session_key: Some("agent:main:openai-user:1000000005".into()),
                ..lock(Action::Kept, false, OwnerState::Alive, Some("sleep"))
            },
            LockRecord {
                session_key: Some("agent:main:openai-user:1000000004".into()),
                ..lock(Action::Kept, true, OwnerState::Dead, None)
            },
        ];
        let y = "\x1b[38;5;3m";
        let (r, g, m, e) = ("\x1b[38;5;1m", "\x1b[38;5;2m", "\x1b[38;5;5m", "\x1b[39m");
        assert_eq!(
            table(&two, true, false, Some(80)),
            format!(
                "WHERE  STATUS  AGE    PID      OWNER  WHY            SESSION           LOCK\n\
                 host   {g}held{e}    1d01h  4194303  sleep  -              …user:1000000005  0f3c9a2e…\n\
                 host   {r}stale{e}   1d01h  4194303  dead   recycled-pid…  …user:1000000004  0f3c9a2e…"
            )
        );
        assert_eq!(
            table(&two, true, false, Some(200)),
            format!(
                "WHERE  STATUS  AGE    PID      OWNER  WHY                    SESSION                 LOCK\n\
                 host   {g}held{e}    1d01h  4194303  sleep  -                      openai-user:1000000005  {path}\n\
                 host   {r}stale{e}   1d01h  4194303  dead   recycled-pid, too-old  openai-user:1000000004  {path}"
            )
        );
        let four = [
            record(
                Location::Container("zaki-user-1234567890".into()),
                Some("a long note that says why it was kept or skipped in words"),
            ),
            LockRecord {
                session_key: Some("agent:main:openai-user:1".into()),
                ..lock(Action::Removed, true, OwnerState::Dead, None)
            },
            LockRecord {
                path: "/no/agents/dir.lock".into(),
                session_key: Some("agent:other:x".into()),
                note: Some("n".into()),
                ..lock(
                    Action::Skipped,
                    false,
                    OwnerState::Alive,
                    Some("openclaw-gateway-long-name"),
                )
            },
            LockRecord {
                session_key: None,
                ..lock(Action::Kept, false, OwnerState::Alive, Some("sleep"))
            },
        ];
        // So many wide columns that the path, shrunk last, starts past the 80th column.
        let t80 = table(&four, true, false, Some(80));
        assert_eq!(
            t80,
            format!(
                "WHERE         STATUS        AGE    PID      OWNER   WHY            SESSION\n\
                 …-1234567890  {y}would-remove{e}  1d01h  4194303  recyc…  recycled-pid…  …r:1234567890\n\
                 host          {r}removed{e}       1d01h  4194303  dead    recycled-pid…  openai-user:1\n\
                 host          {m}skipped{e}       1d01h  4194303  openc…  n              agent:other:x\n\
                 host          {g}held{e}          1d01h  4194303  sleep   -              -"
            )
        );
        // A coloured line takes the columns of the same line without colour.
        let plain = table(&four, false, false, Some(80));
        for (c, p) in t80.lines().zip(plain.lines()) {
            assert_eq!(visible(c), p);
            assert!(p.chars().count() <= 80, "{p:?}");
        }
        assert_eq!(
            table(&four, true, false, Some(200)),
            format!(
                "WHERE                 STATUS        AGE    PID      OWNER                       WHY                         SESSION                 LOCK\n\
                 zaki-user-1234567890  {y}would-remove{e}  1d01h  4194303  recycled                    recycled-pid, too-old: a …  openai-user:1234567890  {path}\n\
                 host                  {r}removed{e}       1d01h  4194303  dead                        recycled-pid, too-old       openai-user:1           {path}\n\
                 host                  {m}skipped{e}       1d01h  4194303  openclaw-gateway-long-name  n                           agent:other:x           agents/dir.lock\n\
                 host                  {g}held{e}          1d01h  4194303  sleep                       -                           -                       {path}"
            )
        );
    }

    /// Names written inside a container (a file name, a session key, a note) cannot add a
    /// line, a cell or a terminal command to the table.
    #[test]
    fn control_characters_are_written_out() {
        let hostile = LockRecord {
            path: "/s/agents/main/sessions/a\nb\x1b[2J\x07.jsonl.lock".into(),
            session_key: Some("agent:main:x\ty\r".into()),
            note: Some("\u{85}line".into()),
            ..record(crate::model::place::Location::Host, None)
        };
        let recs = [hostile.clone(), hostile];
        for cols in [None, Some(80), Some(250)] {
            let t = table(&recs, false, false, cols);
            assert_eq!(t.lines().count(), 3, "{cols:?}: {t:?}");
            assert!(
                !t.contains(['\x1b', '\x07', '\r', '\u{85}']),
                "{cols:?}: {t:?}"
            );
        }
        let t = tsv(&recs, false);
        assert!(t.lines().all(|l| l.split('\t').count() == 8), "{t:?}");
        assert!(!t.contains(['\x1b', '\x07', '\r', '\u{85}']), "{t:?}");
        let t = table(&recs, false, false, Some(250));
        assert!(
            t.contains(r"agents/main/sessions/a\nb\u{1b}[2J\u{7}.jsonl.lock"),
            "{t}"
        );
        assert!(t.contains(r"x\ty\r"), "{t}");
    }

    /// Wide characters (a CJK name takes two columns) are counted as the terminal counts them,
    /// so that the line still fits and the columns still line up.
    #[test]
    fn wide_characters_take_two_columns() {
        let wide = LockRecord {
            path: "/s/agents/main/sessions/会话会话会话会话会话会话会话会话会话会话.jsonl.lock"
                .into(),
            session_key: Some("agent:main:用户:一二三四五六七八九十".into()),
            ..record(crate::model::place::Location::Host, None)
        };
        let recs = [wide, record(crate::model::place::Location::Host, None)];
        for cols in [40, 60, 80, 120, 250] {
            let t = table(&recs, false, false, Some(cols));
            let w: Vec<usize> = t.lines().map(width).collect();
            assert!(w.iter().all(|&w| w <= cols), "{cols}: {w:?}\n{t}");
            // The STATUS column starts at the same column on every line.
            let at: Vec<usize> = t
                .lines()
                .map(|l| width(&l[..l.find(['S', 'w']).unwrap()]))
                .collect();
            assert!(at.iter().all(|&a| a == at[0]), "{cols}: {at:?}\n{t}");
        }
        assert_eq!(cut("一二三四", 6, true), "…三四");
        assert_eq!(cut("一二三四", 6, false), "一二…");
        assert_eq!(cut("一二三四", 4, false), "一…");
    }

    impl From<Color> for comfy_table::Color {
        /// The terminal's own palette colours 1–5 (`31`–`35`), as `ls` and `grep` use.
        fn from(c: Color) -> Self {
            match c {
                Color::Red => comfy_table::Color::DarkRed,
                Color::Green => comfy_table::Color::DarkGreen,
                Color::Yellow => comfy_table::Color::DarkYellow,
                Color::Magenta => comfy_table::Color::DarkMagenta,
            }
        }
    }

    /// The table as comfy-table laid it out whole, before it was written line by line: what
    /// [`write_table`] must write, byte for byte.
    fn table_whole(
        records: &[LockRecord],
        colour: bool,
        full_paths: bool,
        columns: Option<usize>,
    ) -> String {
        let rows: Vec<[String; 8]> = records.iter().map(|r| row(r, full_paths)).collect();
        let floor = records.iter().map(why_floor).max().unwrap_or(0);
        let cols = Columns::of(rows.iter().cloned(), floor, columns);
        let cells = |texts: &[String; 8]| cols.cells(texts);
        let body = records
            .iter()
            .zip(&rows)
            .map(|(r, texts)| (cells(texts), status(r).1.into()))
            .collect();
        borderless(cells(&HEADER.map(str::to_owned)), body, colour)
    }

    /// The table written line by line is the one comfy-table lays out whole: the same widths,
    /// cuts, padding and colours, on every kind of row (hostile, wide, long, short) and width.
    #[test]
    fn the_streamed_table_is_the_whole_one() {
        use crate::model::place::Location;
        let mut recs =
            vec![
            record(
                Location::Container("zaki-user-1234567890".into()),
                Some("a long note that says why it was kept or skipped in words"),
            ),
            record(Location::Host, None),
            LockRecord {
                path: "/s/agents/main/sessions/a\nb\x1b[2J\x07.jsonl.lock".into(),
                session_key: Some("agent:main:x\ty\r".into()),
                note: Some("\u{85}line ".into()),
                ..record(Location::Host, None)
            },
            LockRecord {
                path: "/s/agents/main/sessions/会话会话会话会话会话会话会话会话会话会话.jsonl.lock"
                    .into(),
                session_key: Some("agent:main:用户:一二三四五六七八九十".into()),
                owner_name: Some("一二三四五六七八".into()),
                ..lock(Action::Kept, false, OwnerState::Alive, None)
            },
            LockRecord {
                path: "/no/agents/dir.lock".into(),
                session_key: None,
                note: Some("n".into()),
                ..lock(Action::Skipped, false, OwnerState::Alive, Some("openclaw-gateway"))
            },
            lock(Action::Removed, true, OwnerState::Dead, None),
            LockRecord {
                pid: None,
                age_seconds: None,
                ..lock(Action::Kept, false, OwnerState::Alive, Some("sleep"))
            },
            LockRecord {
                location: Location::Container("会话-zaki-user-42".into()),
                ..lock(Action::WouldRemove, true, OwnerState::Zombie, None)
            },
        ];
        recs.extend(recs.clone().into_iter().take(2));
        assert_eq!(recs.len(), 10);
        for colour in [false, true] {
            for full in [false, true] {
                for cols in [
                    None,
                    Some(1),
                    Some(9),
                    Some(30),
                    Some(40),
                    Some(60),
                    Some(80),
                ]
                .into_iter()
                .chain([Some(97), Some(120), Some(200), Some(250)])
                {
                    assert_eq!(
                        table(&recs, colour, full, cols),
                        table_whole(&recs, colour, full, cols),
                        "colour {colour}, full paths {full}, {cols:?} columns"
                    );
                }
            }
        }
        assert_eq!(
            table(&[], false, false, Some(80)),
            table_whole(&[], false, false, Some(80))
        );
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

    #[test]
    fn tenant_text_cannot_forge_lines_or_reach_the_terminal() {
        assert_eq!(
            kv_line(&[
                ("path", "/s/a\nremoved /etc".into()),
                ("c", "\u{1b}]0;x\u{7}".into())
            ]),
            "path=\"/s/a\\nremoved /etc\" c=\"\\u{1b}]0;x\\u{7}\""
        );
        assert_eq!(kv_line(&[("p", "a\\b".into())]), "p=\"a\\\\b\"");
    }
}
