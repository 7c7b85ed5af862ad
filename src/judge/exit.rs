//! How a `scan` or `clean` run ends: its exit status from what the run found and what it could
//! not do. Pure; the statuses and their merge rule are `model::exit_codes`.

use crate::model::exit_codes::Exit;

/// What a run's exit status depends on.
#[derive(Debug, Clone, Copy, Default)]
pub struct Run {
    /// Something could not be done (a place not looked at, a failed removal, evidence a lock
    /// needed that could not be had).
    pub problems: bool,
    /// `--metrics-file` was asked for and could not be written.
    pub metrics_unwritten: bool,
    /// `scan --fail-on-stale`, and a stale lock or an orphan turn claim was found (an orphan
    /// claim blocks its session as surely as a stale lock).
    pub stale_found: bool,
    /// `scan --fail-on-held`, and a lock held past the threshold (or wedged) was found.
    pub held_found: bool,
    /// The signal that ended a `clean` (after the removal under way).
    pub interrupted: Option<i32>,
}

/// The exit status of a run: the most severe of what happened.
pub fn status(r: Run) -> Exit {
    let mut exit = Exit::partial_if(r.problems || r.metrics_unwritten);
    if r.stale_found || r.held_found {
        exit = exit.merge(Exit::StaleFound);
    }
    if let Some(sig) = r.interrupted {
        exit = exit.merge(Exit::Interrupted(sig));
    }
    exit
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_most_severe_wins() {
        assert_eq!(status(Run::default()), Exit::Success);
        let problems = Run {
            problems: true,
            ..Run::default()
        };
        assert_eq!(status(problems), Exit::Partial);
        let unwritten = Run {
            metrics_unwritten: true,
            ..Run::default()
        };
        assert_eq!(status(unwritten), Exit::Partial);
        // A monitor must see the stale lock even when one place could not be read.
        let both = Run {
            problems: true,
            stale_found: true,
            ..Run::default()
        };
        assert_eq!(status(both), Exit::StaleFound);
        let held = Run {
            held_found: true,
            ..Run::default()
        };
        assert_eq!(status(held).code(), 3);
        let stopped = Run {
            problems: true,
            interrupted: Some(15),
            ..Run::default()
        };
        assert_eq!(status(stopped).code(), 143);
    }
}
