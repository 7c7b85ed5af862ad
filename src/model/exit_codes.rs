//! The exit statuses, as documented in `--help`, the man pages and the README (all three are
//! written from the tables below). Commands combine what happened with
//! [`Exit::merge`], which keeps the most severe status, as fd's `ExitCode` does.

use std::process::ExitCode;

/// How a `scan`, `clean` or `watch` run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// The job was done.
    Success,
    /// Part of the job could not be done (a place not looked at, a failed removal); the rest
    /// was done and reported.
    Partial,
    /// Usage error (clap exits with this too).
    Usage,
    /// `scan --fail-on-stale` found a stale lock (or `--fail-on-held` a lock held too long).
    StaleFound,
    /// A probe verdict other than ok (its own codes, see [`PROBE`]).
    Probe(u8),
    /// Ended by a signal after finishing the removal under way (128 + the signal's number).
    Interrupted(i32),
}

impl Exit {
    /// The number the process exits with.
    pub fn code(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::Partial => 1,
            Exit::Usage => 2,
            Exit::StaleFound => 3,
            Exit::Probe(c) => c,
            // The conventional status of a run ended by a signal: 128 + its number.
            Exit::Interrupted(sig) => 128u8.saturating_add(u8::try_from(sig).unwrap_or(u8::MAX)),
        }
    }

    /// How bad it is: an interruption beats a finding, a finding beats a partial run (a
    /// monitor must see the stale lock even when one container was unreachable).
    fn severity(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::Partial => 1,
            Exit::Probe(_) => 2,
            Exit::StaleFound => 3,
            Exit::Usage => 4,
            Exit::Interrupted(_) => 5,
        }
    }

    /// The more severe of the two.
    pub fn merge(self, other: Exit) -> Exit {
        if other.severity() > self.severity() {
            other
        } else {
            self
        }
    }

    /// `Partial` when `failed`, else `Success`.
    pub fn partial_if(failed: bool) -> Exit {
        if failed { Exit::Partial } else { Exit::Success }
    }
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e.code())
    }
}

type Rows = &'static [(&'static str, &'static str)];

const DONE: (&str, &str) = ("0", "the job was done");
const PARTIAL: (&str, &str) = (
    "1",
    "part of the job could not be done: a place not looked at (Docker unreachable, a given \
     directory missing or holding no OpenClaw state), a failed removal, an unwritable metrics \
     file; the rest was done and reported",
);
const USAGE: (&str, &str) = ("2", "usage error (a bad option or value)");

/// `scan`'s exit statuses: (code, meaning).
pub const SCAN: Rows = &[
    DONE,
    PARTIAL,
    USAGE,
    (
        "3",
        "--fail-on-stale: a stale lock or an orphan turn claim (OpenClaw 2026.8+) is present; \
         --held-over [D] --fail-on-held: a live lock is held longer than D (or its own max hold) \
         (takes precedence over 1)",
    ),
];

/// `clean`'s exit statuses.
pub const CLEAN: Rows = &[
    (
        "0",
        "every stale lock was removed (or none was found), or another clean or a watch holds \
         the run lock and this one stepped aside",
    ),
    PARTIAL,
    USAGE,
    (
        "130, 143",
        "interrupted by SIGINT or SIGTERM: the removal under way was finished, nothing more \
         was removed",
    ),
];

/// `watch`'s exit statuses.
pub const WATCH: Rows = &[
    ("0", "stopped by SIGTERM or SIGINT after the pass under way"),
    (
        "1",
        "could not start: another clean or watch holds the run lock, or it cannot be opened",
    ),
    USAGE,
];

/// `probe`'s exit statuses.
pub const PROBE: Rows = &[
    ("0", "ok, or ok-after-retry"),
    (
        "1",
        "the probe itself could not run (no such user, unreadable router table, ...)",
    ),
    ("2", "usage error"),
    (
        "3",
        "session-busy: a lock blocks the user's session, or blocked every attempt",
    ),
    ("4", "timeout"),
    (
        "5",
        "not-ready: the container is not running, or nothing listens on the port",
    ),
    ("6", "auth-failed (401/403) or http-error"),
    (
        "130",
        "interrupted by Ctrl-C (an injected lock was removed)",
    ),
];

/// `completions` and `man`.
pub const OTHER: Rows = &[("0", "printed"), USAGE];

/// The table of a command by name (`zaki-locks` itself: the union of scan's and clean's).
pub fn table(command: &str) -> Rows {
    match command {
        "scan" => SCAN,
        "clean" => CLEAN,
        "watch" => WATCH,
        "probe" => PROBE,
        "completions" | "man" => OTHER,
        _ => MAIN,
    }
}

const MAIN: Rows = &[
    DONE,
    PARTIAL,
    USAGE,
    (
        "3",
        "scan --fail-on-stale: a stale lock or an orphan turn claim is present; scan \
         --fail-on-held: a live lock is held too long",
    ),
    ("130, 143", "clean interrupted by SIGINT or SIGTERM"),
];

/// A table as `--help` prints it: "  code  meaning", wrapped at 80 columns.
pub fn help_text(rows: Rows) -> String {
    let mut s = String::from("Exit status:\n");
    for (code, meaning) in rows {
        let lead = format!("  {code:<3} ");
        let mut line = lead.clone();
        for word in meaning.split_whitespace() {
            if line.len() + word.len() + 1 > 80 && line.trim().len() > code.len() {
                s.push_str(line.trim_end());
                s.push('\n');
                line = " ".repeat(lead.len());
            }
            line.push_str(word);
            line.push(' ');
        }
        s.push_str(line.trim_end());
        s.push('\n');
    }
    s.trim_end().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_keeps_the_most_severe() {
        use Exit::*;
        assert_eq!(Success.merge(Partial), Partial);
        assert_eq!(Partial.merge(Success), Partial);
        assert_eq!(Partial.merge(StaleFound), StaleFound);
        assert_eq!(StaleFound.merge(Partial), StaleFound);
        assert_eq!(StaleFound.merge(Interrupted(15)).code(), 143);
        assert_eq!(Interrupted(2).code(), 130);
        assert_eq!(Success.merge(Success), Success);
        assert_eq!(Partial.merge(Probe(3)), Probe(3));
    }

    #[test]
    fn help_text_fits_80_columns() {
        for c in ["scan", "clean", "watch", "probe", "man", "zaki-locks"] {
            let t = help_text(table(c));
            assert!(t.lines().all(|l| l.len() <= 80), "{t}");
        }
        assert!(help_text(CLEAN).contains("\n  130, 143 interrupted"));
    }
}
