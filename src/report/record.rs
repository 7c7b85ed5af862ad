//! What a run reports: one record per lock and the problems met. This is the JSON schema
//! (documented in the README); fields are only ever added, never renamed or removed.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use crate::find::survey::{ContainerReport, EngineStatus};
use crate::judge::lock::{OwnerState, Reason, Status, Verdict};
use crate::model::holder::Holder;
use crate::model::observed::Observed;
use crate::model::payload::LockKind;
use crate::model::place::{Location, Problem};
use crate::model::process::Owner;

/// Bumped only for an incompatible change of this schema.
pub const SCHEMA_VERSION: u32 = 1;

/// What was done with a lock: decided by `judge::clean`.
pub use crate::judge::clean::Action;

/// One lock, as reported.
#[derive(Debug, Clone, Serialize)]
pub struct LockRecord {
    pub location: Location,
    pub path: String,
    pub host_path: Option<String>,
    pub agent: String,
    /// `transcript` (`<id>.jsonl.lock`) or `store` (`sessions.json.lock`).
    pub kind: &'static str,
    pub session_id: Option<String>,
    pub session_key: Option<String>,
    pub pid: Option<u64>,
    pub owner_state: OwnerState,
    pub owner_name: Option<String>,
    pub created_at: Option<String>,
    pub age_seconds: Option<i64>,
    pub mtime: Option<String>,
    pub size: Option<u64>,
    pub starttime: Option<u64>,
    pub max_hold_ms: Option<u64>,
    pub stale: bool,
    /// held, wedged, unheld, stale or unjudged: what the lock is (`action`: what was done to it).
    pub status: Status,
    pub reasons: Vec<Reason>,
    pub action: Action,
    /// Why it was kept, skipped or judged so, when the reasons alone do not say it.
    pub note: Option<String>,
    /// The payload as read (lossy UTF-8, at most the payload bound).
    pub content: Option<String>,
    /// Whether some process has the lock open (the kernel's answer; `null`: not known).
    pub held_open: Option<bool>,
    /// Processes found holding the lock's inode open.
    pub holders: Vec<Holder>,
    /// `complete` when every process that could hold it was looked at, else `incomplete`
    /// (then "no holder" is not evidence, and `visibility_note` says why).
    pub visibility: &'static str,
    pub visibility_note: Option<String>,
    /// Held open past its max hold: the owner's run is stuck; restart it (see `note`).
    pub wedged: bool,
    /// What a human must do about it (a wedged lock: the restart that frees it), else `null`.
    pub fix: Option<String>,
}

impl LockRecord {
    pub fn new(o: &Observed, v: Option<&Verdict>, action: Action, note: Option<String>) -> Self {
        let snap = o.file.as_ref().ok();
        let owner_name = match &o.owner {
            Owner::Found(f) if o.payload.pid.is_some() => f.name.clone(),
            _ => None,
        };
        LockRecord {
            location: o.location.clone(),
            path: o.path.to_string_lossy().into_owned(),
            host_path: o
                .host_path
                .as_ref()
                .map(|p| p.to_string_lossy().into_owned()),
            agent: o.agent.clone(),
            kind: match o.kind {
                LockKind::Transcript => "transcript",
                LockKind::Store => "store",
            },
            session_id: o.session_id.clone(),
            session_key: o.session_key.clone(),
            pid: o.payload.pid,
            owner_state: v.map_or(OwnerState::Unknown, |v| v.owner_state),
            owner_name,
            created_at: o.payload.created_at.map(rfc3339),
            age_seconds: v.and_then(|v| v.age).map(|a| a.num_seconds()),
            mtime: snap.map(|s| rfc3339(s.id.mtime_utc())),
            size: snap.map(|s| s.id.size),
            starttime: o.payload.starttime,
            max_hold_ms: o.payload.max_hold_ms,
            stale: v.is_some_and(|v| v.stale),
            status: Status::of(v),
            reasons: v.map(|v| v.reasons.clone()).unwrap_or_default(),
            action,
            note: {
                let notes: Vec<String> = [o.note.clone(), v.and_then(|v| v.note.clone()), note]
                    .into_iter()
                    .flatten()
                    .collect();
                (!notes.is_empty()).then(|| notes.join("; "))
            },
            content: snap.map(|s| String::from_utf8_lossy(&s.content).into_owned()),
            held_open: o.held_open.or((!o.holders.is_empty()).then_some(true)),
            holders: o.holders.clone(),
            visibility: o.visibility.as_str(),
            visibility_note: o.visibility.why().map(str::to_owned),
            wedged: v.is_some_and(|v| v.wedged),
            fix: v.and_then(|v| v.fix.clone()),
        }
    }
}

pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Counts for the summary line and the JSON `summary` object.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub places: usize,
    pub locks: usize,
    pub stale: usize,
    pub held: usize,
    pub removed: usize,
    pub would_remove: usize,
    pub skipped: usize,
    pub errors: usize,
    /// SQLite-era places (OpenClaw 2026.8+), whose sessions have no lock files.
    pub sqlite_places: usize,
    /// Turns in flight in SQLite-era places.
    pub running_turns: usize,
    /// Turn claims no running turn backs: each blocks its session until the gateway restarts.
    pub orphan_claims: usize,
    /// Locks held open past their max hold (counted among `held`).
    pub wedged: usize,
    /// Orphan turn claims' gateways left for a human to restart (`would-restart`).
    pub unrestarted: usize,
    /// What needs a human: wedged locks, gateways with orphan claims not restarted, and
    /// problems (places that could not be read). `clean --quiet` prints each on stderr.
    pub needs_human: usize,
}

/// A whole run, as `--format json` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub version: u32,
    pub command: &'static str,
    pub generated_at: String,
    pub older_than_seconds: i64,
    pub dry_run: bool,
    pub summary: Summary,
    pub locks: Vec<LockRecord>,
    pub errors: Vec<Problem>,
    /// Every container looked at, with its state and any error.
    pub containers: Vec<ContainerReport>,
    /// Things worth knowing that did not stop the job.
    pub warnings: Vec<String>,
    /// Each state dir read from this host: its era (`lock-file`, `sqlite`, `unknown`), and in
    /// the SQLite era its gateway lease, unclean boots and sessions' turns and claims.
    pub places: Vec<crate::judge::claims::PlaceDb>,
    /// `clean`: each container with an orphan turn claim, and whether it was restarted
    /// (`--restart-orphaned`) or what to type to fix it.
    pub restarts: Vec<Restart>,
    /// Each Docker engine asked, and whether it answered.
    pub docker: Vec<EngineStatus>,
    /// `clean` found the run lock held and did nothing (`null` otherwise).
    pub stepped_aside: Option<SteppedAside>,
}

/// Who held the run lock when `clean` stepped aside.
#[derive(Debug, Clone, Serialize)]
pub struct SteppedAside {
    pub run_lock: String,
    pub pid: Option<u32>,
    pub command: Option<String>,
    pub message: String,
}

impl Report {
    pub fn new(
        command: &'static str,
        now: DateTime<Utc>,
        older_than_seconds: i64,
        dry_run: bool,
        places: usize,
        locks: Vec<LockRecord>,
        errors: Vec<Problem>,
    ) -> Report {
        let count = |a: Action| locks.iter().filter(|l| l.action == a).count();
        let summary = Summary {
            places,
            locks: locks.len(),
            stale: locks.iter().filter(|l| l.status == Status::Stale).count(),
            held: locks
                .iter()
                .filter(|l| {
                    matches!(l.status, Status::Held | Status::Wedged | Status::Unheld)
                        && l.action != Action::Skipped
                })
                .count(),
            removed: count(Action::Removed),
            would_remove: count(Action::WouldRemove),
            skipped: count(Action::Skipped),
            errors: errors.len(),
            wedged: locks.iter().filter(|l| l.status == Status::Wedged).count(),
            ..Summary::default()
        };
        let mut report = Report {
            version: SCHEMA_VERSION,
            command,
            generated_at: rfc3339(now),
            older_than_seconds,
            dry_run,
            summary,
            locks,
            errors,
            containers: Vec::new(),
            warnings: Vec::new(),
            places: Vec::new(),
            restarts: Vec::new(),
            docker: Vec::new(),
            stepped_aside: None,
        };
        report.tally();
        report
    }

    /// Counts the problems, the gateways left to restart and so what needs a human: again
    /// whenever errors or restarts change.
    pub fn tally(&mut self) {
        let s = &mut self.summary;
        s.errors = self.errors.len();
        s.unrestarted = self
            .restarts
            .iter()
            .filter(|r| r.action == "would-restart")
            .count();
        s.needs_human = s.wedged + s.unrestarted + s.errors;
    }

    pub fn with_containers(
        mut self,
        containers: Vec<ContainerReport>,
        warnings: Vec<String>,
    ) -> Report {
        self.containers = containers;
        self.warnings = warnings;
        self
    }

    /// Adds the places' eras and SQLite facts, and counts them in the summary. A database that
    /// could not be read in a SQLite-era place is an error: its sessions were not looked at.
    pub fn with_places(mut self, places: Vec<crate::judge::claims::PlaceDb>) -> Report {
        use crate::judge::claims::Era;
        let sqlite: Vec<_> = places.iter().filter(|p| p.era == Era::Sqlite).collect();
        self.summary.sqlite_places = sqlite.len();
        self.summary.running_turns = sqlite.iter().map(|p| p.running()).sum();
        self.summary.orphan_claims = sqlite.iter().map(|p| p.orphans().count()).sum();
        for p in &sqlite {
            if let Some(e) = &p.error {
                self.errors.push(Problem {
                    location: p.location.clone(),
                    path: Some(p.state_dir.clone().into()),
                    message: e.clone(),
                });
            }
        }
        self.places = places;
        self.tally();
        self
    }

    pub fn with_engines(mut self, engines: Vec<EngineStatus>) -> Report {
        self.docker = engines;
        self
    }
}

/// One container with an orphan turn claim (OpenClaw 2026.8+), and what `remedy` did.
#[derive(Debug, Clone, Serialize)]
pub struct Restart {
    pub container: String,
    /// The sessions whose claims were orphaned.
    pub sessions: Vec<String>,
    /// `restarted`, `would-restart` (no `--restart-orphaned`), `gone` (the claim went away
    /// before the restart), `not-running` (its next start clears the claim), `starting` (up
    /// for less than a minute), `failed`.
    pub action: &'static str,
    pub detail: String,
}
