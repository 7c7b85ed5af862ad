//! What a run reports: one record per lock and the problems met. This is the JSON schema
//! (`JSON_FIELDS` below, printed by `man zaki-locks`; docs/reference.md has an example):
//! fields are only ever added, never renamed or removed.

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

/// Every field of the JSON report (`--format json` of `scan` and `clean`), with its meaning:
/// the list `man zaki-locks` prints under JSON OUTPUT. A field of a nested object or of an
/// array's objects is `parent.field` or `parent[].field`; deeper ones are named in their
/// parent's meaning. A test serializes a full report and fails on a field missing here.
pub const JSON_FIELDS: &[(&str, &str)] = &[
    (
        "version",
        "the schema version (1); changes only for an incompatible change",
    ),
    ("command", "scan or clean"),
    ("generated_at", "when the report was made (RFC 3339, UTC)"),
    ("older_than_seconds", "--older-than, in seconds"),
    ("dry_run", "clean --dry-run: nothing was removed"),
    ("summary", "the counts below"),
    ("summary.places", "places looked at"),
    ("summary.locks", "locks seen"),
    ("summary.stale", "locks whose status is stale"),
    ("summary.held", "locks held or wedged"),
    ("summary.removed", "locks removed"),
    ("summary.would_remove", "locks clean --dry-run would remove"),
    ("summary.skipped", "locks not judged or not acted on"),
    ("summary.errors", "entries in errors[]"),
    (
        "summary.sqlite_places",
        "SQLite-era places (OpenClaw 2026.8+, no lock files)",
    ),
    (
        "summary.running_turns",
        "turns in flight in SQLite-era places",
    ),
    (
        "summary.orphan_claims",
        "orphan turn claims: each blocks its session until the gateway restarts",
    ),
    (
        "summary.wedged",
        "locks held open past their max hold (counted among held)",
    ),
    (
        "summary.unrestarted",
        "gateways with an orphan turn claim left for a human: would-restart, unearned or survives-restart",
    ),
    (
        "summary.needs_human",
        "what needs a human: wedged locks, gateways to restart and errors (clean --quiet prints each on stderr, with its fix)",
    ),
    ("locks", "one object per lock, with the fields below"),
    (
        "locks[].location",
        "host, or container:<name> (also for a container's bind mount read from the host)",
    ),
    (
        "locks[].path",
        "the lock's path at that location (inside the container for a container's lock)",
    ),
    (
        "locks[].host_path",
        "the same file's path on the host (null for a lock only seen through exec)",
    ),
    ("locks[].agent", "the agent directory"),
    (
        "locks[].kind",
        "transcript (<id>.jsonl.lock) or store (sessions.json.lock)",
    ),
    ("locks[].session_id", "from the file name"),
    (
        "locks[].session_key",
        "from sessions.json (null if not found)",
    ),
    (
        "locks[].pid",
        "the payload's pid (null when absent or invalid)",
    ),
    (
        "locks[].owner_state",
        "what the pid turned out to be (OWNER STATES)",
    ),
    (
        "locks[].owner_name",
        "the owner's command name, when observed",
    ),
    (
        "locks[].created_at",
        "the payload's createdAt, in UTC (null when invalid)",
    ),
    (
        "locks[].age_seconds",
        "age by createdAt (never negative; null when createdAt is invalid)",
    ),
    ("locks[].mtime", "the file's modification time"),
    ("locks[].size", "the file's size in bytes"),
    (
        "locks[].starttime",
        "the payload's starttime (OpenClaw 2026.3+)",
    ),
    (
        "locks[].max_hold_ms",
        "the payload's maxHoldMs (OpenClaw 2026.5.22+)",
    ),
    ("locks[].stale", "the verdict: true when status is stale"),
    (
        "locks[].status",
        "held, wedged, stale or unjudged (STATUS); what the table, the summary and the metrics count by",
    ),
    (
        "locks[].reasons",
        "the reason codes (REASONS); a kept lock may carry some, see note",
    ),
    (
        "locks[].action",
        "kept, removed, would-remove (dry run) or skipped (not a regular file, unreadable, gone, failed)",
    ),
    (
        "locks[].note",
        "why, in words, when the reasons alone do not say it (for a wedged lock: the fix)",
    ),
    (
        "locks[].content",
        "the payload as read (at most 4 KiB, lossy UTF-8)",
    ),
    (
        "locks[].held_open",
        "whether some process has the lock open, as the kernel answered (null: not known)",
    ),
    (
        "locks[].holders",
        "the processes found with the lock open: host_pid, ns_pid (in its own PID namespace), comm, container (null on the host), access (write, read-only, or unknown in an exec listing, which counts as a writer)",
    ),
    (
        "locks[].visibility",
        "complete when every process that could hold it was looked at, else incomplete (then \"no holder\" is no evidence)",
    ),
    ("locks[].visibility_note", "why visibility is incomplete"),
    (
        "locks[].wedged",
        "held open past its max hold: never removed",
    ),
    (
        "locks[].fix",
        "what a human must do about it (a wedged lock: the restart that frees it), or null",
    ),
    ("errors", "each thing that could not be done (exit 1)"),
    ("errors[].location", "where"),
    ("errors[].path", "the path concerned, or null"),
    ("errors[].message", "what went wrong"),
    ("containers", "each container looked at"),
    ("containers[].name", "its name"),
    ("containers[].docker_host", "the engine that runs it"),
    ("containers[].id", "its short id"),
    ("containers[].state", "running, exited, paused, ..."),
    (
        "containers[].observed",
        "host (its bind mounts read from this host), exec, both or none",
    ),
    ("containers[].state_dirs", "its OpenClaw state dirs"),
    (
        "containers[].error",
        "why it could not be looked at, or null",
    ),
    ("warnings", "things worth knowing that did not stop the job"),
    ("places", "each state dir read from this host"),
    ("places[].location", "host, or container:<name>"),
    (
        "places[].state_dir",
        "the state dir (inside the container for a container's)",
    ),
    (
        "places[].era",
        "lock-file (OpenClaw up to 2026.7), sqlite (2026.8+) or unknown",
    ),
    ("places[].version", "the OpenClaw release found, or null"),
    (
        "places[].leftover_sessions_dirs",
        "agents/*/sessions/ dirs left beside the databases",
    ),
    (
        "places[].gateway",
        "the gateway-owner lease: pid, starttime, heartbeat_age_seconds, expired, owner_state, liveness (alive, gone, unknown), openclaw (whether the owner's command line names OpenClaw, or null)",
    ),
    (
        "places[].unclean_boots",
        "boots recorded without an outcome: unclean shutdowns",
    ),
    (
        "places[].sessions",
        "each session with a running turn or a claim: agent, session_key, session_id, status, active_writer_run_id, turn_age_seconds, claim (owner, id, run_id, generation), claim_age_seconds, state (running, claimed, orphan, stuck), reasons (no-running-turn, run-id-mismatch, gateway-gone), note, shape (the stuck shape that blocks its user: orphan-claim, killed-session-claim, recovery-wedge; or null) and issue (that shape's upstream issue)",
    ),
    (
        "places[].error",
        "why its databases could not be read, or null",
    ),
    (
        "places[].error_reason",
        "that error's kind, as zaki_locks_place_errors counts it (timeout, not-regular, too-large, leased, changing, not-confined, reader-failed, interrupted, unreadable), or null",
    ),
    (
        "restarts",
        "clean: each container with an orphan turn claim",
    ),
    ("restarts[].container", "the container"),
    (
        "restarts[].sessions",
        "the sessions whose claims were orphaned",
    ),
    (
        "restarts[].action",
        "restarted, would-restart, gone, not-running, starting, unearned (no live OpenClaw gateway owns the database: the detail says why), survives-restart (back after this tool's restart: backed off), deferred (past the run's --restart-max or --restart-budget) or failed",
    ),
    (
        "restarts[].detail",
        "what happened, or the command that fixes it",
    ),
    ("docker", "each Docker engine asked"),
    ("docker[].docker_host", "its address"),
    ("docker[].up", "whether it answered"),
    ("docker[].error", "why it could not be reached, or null"),
    (
        "stepped_aside",
        "clean: null, or the run lock it found held (it did nothing)",
    ),
    ("stepped_aside.run_lock", "the run lock's path"),
    ("stepped_aside.pid", "the holder's pid"),
    ("stepped_aside.command", "the holder's command line"),
    ("stepped_aside.message", "what it said, with what to do"),
];

/// What was done with a lock: decided by `judge::clean`.
pub use crate::judge::clean::Action;

/// One lock, as reported. Kept compact, as a run holds one per lock (100,000 of them at
/// 50,000 tenants): a host path equal to the path is not stored twice, times are kept as times;
/// the JSON has every field as [`JSON_FIELDS`] says (see its `Serialize`).
#[derive(Debug, Clone)]
pub struct LockRecord {
    pub location: Location,
    pub path: String,
    pub host_path: Option<HostPath>,
    /// `main` (nearly always) is not allocated for every lock.
    pub agent: std::borrow::Cow<'static, str>,
    /// `transcript` (`<id>.jsonl.lock`) or `store` (`sessions.json.lock`).
    pub kind: &'static str,
    pub session_id: Option<String>,
    pub session_key: Option<String>,
    pub pid: Option<u64>,
    pub owner_state: OwnerState,
    pub owner_name: Option<String>,
    /// The payload's `createdAt` (in the JSON: RFC 3339, UTC, in milliseconds).
    pub created_at: Option<DateTime<Utc>>,
    pub age_seconds: Option<i64>,
    /// The file's modification time (as `created_at` in the JSON).
    pub mtime: Option<DateTime<Utc>>,
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
        let path = o.path.to_string_lossy().into_owned();
        LockRecord {
            location: o.location.clone(),
            host_path: o.host_path.as_ref().map(|p| match p.to_string_lossy() {
                p if p == path.as_str() => HostPath::Same,
                p => HostPath::Other(p.into_owned()),
            }),
            path,
            agent: match o.agent.as_str() {
                "main" => "main".into(),
                a => a.to_owned().into(),
            },
            kind: match o.kind {
                LockKind::Transcript => "transcript",
                LockKind::Store => "store",
            },
            session_id: o.session_id.clone(),
            session_key: o.session_key.clone(),
            pid: o.payload.pid,
            owner_state: v.map_or(OwnerState::Unknown, |v| v.owner_state),
            owner_name,
            created_at: o.payload.created_at,
            age_seconds: v.and_then(|v| v.age).map(|a| a.num_seconds()),
            mtime: snap.map(|s| s.id.mtime_utc()),
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

/// A lock's path on the host, when it was read from there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostPath {
    /// The lock's own `path` (a lock read on the host): not stored twice.
    Same,
    /// Another path (a container's lock read through its bind mount).
    Other(String),
}

impl Serialize for LockRecord {
    /// The JSON record: every field in order, as the schema has it.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Json<'a> {
            location: &'a Location,
            path: &'a str,
            host_path: Option<&'a str>,
            agent: &'a str,
            kind: &'static str,
            session_id: &'a Option<String>,
            session_key: &'a Option<String>,
            pid: Option<u64>,
            owner_state: OwnerState,
            owner_name: &'a Option<String>,
            created_at: Option<String>,
            age_seconds: Option<i64>,
            mtime: Option<String>,
            size: Option<u64>,
            starttime: Option<u64>,
            max_hold_ms: Option<u64>,
            stale: bool,
            status: Status,
            reasons: &'a [Reason],
            action: Action,
            note: &'a Option<String>,
            content: &'a Option<String>,
            held_open: Option<bool>,
            holders: &'a [Holder],
            visibility: &'static str,
            visibility_note: &'a Option<String>,
            wedged: bool,
            fix: &'a Option<String>,
        }
        Json {
            location: &self.location,
            path: &self.path,
            host_path: self.host_path.as_ref().map(|h| match h {
                HostPath::Same => self.path.as_str(),
                HostPath::Other(p) => p.as_str(),
            }),
            agent: &self.agent,
            kind: self.kind,
            session_id: &self.session_id,
            session_key: &self.session_key,
            pid: self.pid,
            owner_state: self.owner_state,
            owner_name: &self.owner_name,
            created_at: self.created_at.map(rfc3339),
            age_seconds: self.age_seconds,
            mtime: self.mtime.map(rfc3339),
            size: self.size,
            starttime: self.starttime,
            max_hold_ms: self.max_hold_ms,
            stale: self.stale,
            status: self.status,
            reasons: &self.reasons,
            action: self.action,
            note: &self.note,
            content: &self.content,
            held_open: self.held_open,
            holders: &self.holders,
            visibility: self.visibility,
            visibility_note: &self.visibility_note,
            wedged: self.wedged,
            fix: &self.fix,
        }
        .serialize(s)
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
    /// Before the summary: a command streams them as they are made, and the summary counts them.
    pub locks: Vec<LockRecord>,
    pub summary: Summary,
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
    /// What the summary and the metrics count of the locks, whether or not they are kept in
    /// `locks` (a command that streams them keeps none).
    #[serde(skip)]
    pub counts: LockCounts,
}

/// What a run counts of its locks, a record at a time ([`LockCounts::add`]): the summary's
/// figures and the metrics', so that neither needs every record kept.
#[derive(Debug, Clone, Default)]
pub struct LockCounts {
    /// The summary's lock figures (`locks` … `wedged`; the rest is the run's, not the locks').
    pub summary: Summary,
    /// By where (`host`, `container`) and state (`held`, `stale`, `skipped`), in
    /// [`LockCounts::WHERE`] and [`LockCounts::STATES`] order.
    pub by_where_and_state: [[usize; 3]; 2],
    /// Locks whose owner (a pid in the payload) could not be judged alive or dead.
    pub owner_unknown: usize,
    /// Judged locks whose holders were not all visible.
    pub holders_unseen: usize,
    /// The age of the oldest lock not stale whose owner is alive.
    pub oldest_live_age: Option<i64>,
}

impl LockCounts {
    pub const WHERE: [&'static str; 2] = ["host", "container"];
    pub const STATES: [&'static str; 3] = ["held", "stale", "skipped"];

    pub fn of(locks: &[LockRecord]) -> LockCounts {
        let mut c = LockCounts::default();
        for l in locks {
            c.add(l);
        }
        c
    }

    /// Counts one more lock.
    pub fn add(&mut self, l: &LockRecord) {
        let s = &mut self.summary;
        s.locks += 1;
        let live = matches!(l.status, Status::Held | Status::Wedged | Status::Unheld);
        s.stale += usize::from(l.status == Status::Stale);
        s.held += usize::from(live && l.action != Action::Skipped);
        s.removed += usize::from(l.action == Action::Removed);
        s.would_remove += usize::from(l.action == Action::WouldRemove);
        s.skipped += usize::from(l.action == Action::Skipped);
        s.wedged += usize::from(l.status == Status::Wedged);
        let place = usize::from(!matches!(l.location, Location::Host));
        let state = match l.status {
            Status::Held | Status::Wedged | Status::Unheld => 0,
            Status::Stale => 1,
            Status::Unjudged => 2,
        };
        self.by_where_and_state[place][state] += 1;
        self.owner_unknown += usize::from(l.owner_state == OwnerState::Unknown && l.pid.is_some());
        self.holders_unseen +=
            usize::from(l.visibility != "complete" && l.action != Action::Skipped);
        if l.status != Status::Stale && l.owner_state == OwnerState::Alive {
            self.oldest_live_age = self.oldest_live_age.max(l.age_seconds);
        }
    }
}

/// What a JSON report begins with, known before any lock is looked at (see
/// `output::JsonStream`): [`Report`]'s first fields.
#[derive(Debug, Serialize)]
pub struct ReportHead {
    pub version: u32,
    pub command: &'static str,
    pub generated_at: String,
    pub older_than_seconds: i64,
    pub dry_run: bool,
}

impl ReportHead {
    pub fn new(
        command: &'static str,
        now: DateTime<Utc>,
        older_than_seconds: i64,
        dry_run: bool,
    ) -> ReportHead {
        ReportHead {
            version: SCHEMA_VERSION,
            command,
            generated_at: rfc3339(now),
            older_than_seconds,
            dry_run,
        }
    }
}

/// What a JSON report ends with, after its locks: [`Report`]'s fields that follow `locks`.
#[derive(Debug, Serialize)]
pub struct ReportTail<'a> {
    pub summary: &'a Summary,
    pub errors: &'a [Problem],
    pub containers: &'a [ContainerReport],
    pub warnings: &'a [String],
    pub places: &'a [crate::judge::claims::PlaceDb],
    pub restarts: &'a [Restart],
    pub docker: &'a [EngineStatus],
    pub stepped_aside: &'a Option<SteppedAside>,
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
        let counts = LockCounts::of(&locks);
        let summary = Summary {
            places,
            errors: errors.len(),
            ..counts.summary.clone()
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
            counts,
        };
        report.tally();
        report
    }

    /// The report of a pass whose records were streamed (not in `locks`): its counts are those
    /// of every record made.
    pub fn counted(mut self, counts: LockCounts) -> Report {
        self.summary = Summary {
            places: self.summary.places,
            errors: self.errors.len(),
            sqlite_places: self.summary.sqlite_places,
            running_turns: self.summary.running_turns,
            orphan_claims: self.summary.orphan_claims,
            ..counts.summary.clone()
        };
        self.counts = counts;
        self.tally();
        self
    }

    /// Counts the problems, the gateways left to restart and so what needs a human: again
    /// whenever errors or restarts change.
    pub fn tally(&mut self) {
        let s = &mut self.summary;
        s.errors = self.errors.len();
        s.unrestarted = self
            .restarts
            .iter()
            // Left to a human: not restarted by choice, or no longer by this tool.
            .filter(|r| matches!(r.action, "would-restart" | "unearned" | "survives-restart"))
            .count();
        s.needs_human = s.wedged + s.unrestarted + s.errors;
    }

    /// The fields before `locks` (the JSON written as the run goes begins with them).
    pub fn head(&self) -> ReportHead {
        ReportHead {
            version: self.version,
            command: self.command,
            generated_at: self.generated_at.clone(),
            older_than_seconds: self.older_than_seconds,
            dry_run: self.dry_run,
        }
    }

    /// The fields after `locks`.
    pub fn tail(&self) -> ReportTail<'_> {
        ReportTail {
            summary: &self.summary,
            errors: &self.errors,
            containers: &self.containers,
            warnings: &self.warnings,
            places: &self.places,
            restarts: &self.restarts,
            docker: &self.docker,
            stepped_aside: &self.stepped_aside,
        }
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
    /// for less than a minute), `unearned` (no live OpenClaw gateway owns the database),
    /// `survives-restart` (back after our restart: backed off), `deferred` (past the run's
    /// budget), `failed`.
    pub action: &'static str,
    pub detail: String,
    /// Not restarted for want of evidence (an owner that could not be looked at, an unreadable
    /// memory): counted among the run's errors, as every missing evidence is.
    #[serde(skip)]
    pub missing_evidence: bool,
}

/// Every [`Restart::action`], as the metrics label them.
pub const RESTART_ACTIONS: [&str; 9] = [
    "restarted",
    "would-restart",
    "gone",
    "not-running",
    "starting",
    "unearned",
    "survives-restart",
    "deferred",
    "failed",
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::find::survey::{ContainerReport, EngineStatus};
    use crate::judge::claims::{Era, PlaceDb};
    use crate::model::place::{Location, Problem};

    /// A report with one of everything: every array holds an object and every object is set.
    fn full_report() -> Report {
        let lock = LockRecord {
            location: Location::Host,
            path: "/s/a.jsonl.lock".into(),
            host_path: None,
            agent: "main".into(),
            kind: "transcript",
            session_id: None,
            session_key: None,
            pid: Some(1),
            owner_state: OwnerState::Alive,
            owner_name: None,
            created_at: None,
            age_seconds: None,
            mtime: None,
            size: None,
            starttime: None,
            max_hold_ms: None,
            stale: false,
            status: Status::Held,
            reasons: vec![Reason::TooOld],
            action: Action::Kept,
            note: None,
            content: None,
            held_open: Some(true),
            holders: Vec::new(),
            visibility: "complete",
            visibility_note: None,
            wedged: false,
            fix: None,
        };
        let problem = Problem::host("/s", "x");
        let mut r = Report::new(
            "clean",
            Utc::now(),
            1800,
            false,
            1,
            vec![lock],
            vec![problem],
        );
        r.containers.push(ContainerReport {
            name: "zaki-user-1".into(),
            docker_host: "unix:///var/run/docker.sock".into(),
            id: "eb5bdeee4509".into(),
            state: "running".into(),
            observed: "host",
            state_dirs: Vec::new(),
            error: None,
        });
        r.warnings.push("w".into());
        r.places.push(PlaceDb {
            location: Location::Host,
            state_dir: "/s".into(),
            era: Era::Sqlite,
            version: None,
            leftover_sessions_dirs: 0,
            gateway: None,
            unclean_boots: 0,
            sessions: Vec::new(),
            error: None,
            error_reason: None,
        });
        r.restarts.push(Restart {
            container: "zaki-user-1".into(),
            sessions: Vec::new(),
            action: "would-restart",
            detail: String::new(),
            missing_evidence: false,
        });
        r.docker.push(EngineStatus {
            docker_host: "unix:///var/run/docker.sock".into(),
            up: true,
            error: None,
        });
        r.stepped_aside = Some(SteppedAside {
            run_lock: "/run/zaki-locks.lock".into(),
            pid: None,
            command: None,
            message: String::new(),
        });
        r
    }

    /// `field`, `object.field` and `array[].field`: the paths `JSON_FIELDS` names.
    fn paths(v: &serde_json::Value) -> Vec<String> {
        let mut out = Vec::new();
        for (k, v) in v.as_object().unwrap() {
            out.push(k.clone());
            let (inner, sep) = match v {
                serde_json::Value::Array(a) => (a.first(), "[]."),
                o @ serde_json::Value::Object(_) => (Some(o), "."),
                _ => (None, ""),
            };
            if let Some(serde_json::Value::Object(o)) = inner {
                out.extend(o.keys().map(|f| format!("{k}{sep}{f}")));
            }
        }
        out
    }

    /// Every field the report has is in `JSON_FIELDS` (the man page's list), and every field
    /// listed there is one the report has: a field cannot be added, or renamed, undocumented.
    #[test]
    fn every_json_field_is_documented_and_every_documented_one_exists() {
        let have = paths(&serde_json::to_value(full_report()).unwrap());
        let listed: Vec<&str> = JSON_FIELDS.iter().map(|(f, _)| *f).collect();
        for p in &have {
            assert!(
                listed.contains(&p.as_str()),
                "JSON field `{p}` is not in record::JSON_FIELDS (so not in the man page)"
            );
        }
        for f in &listed {
            assert!(
                have.iter().any(|p| p == f),
                "JSON_FIELDS lists `{f}`, which the report lacks"
            );
        }
        let mut sorted = listed.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), listed.len(), "a field listed twice");
        assert!(JSON_FIELDS.iter().all(|(_, m)| !m.is_empty()));
    }

    /// The JSON written as the run goes (head, each lock, the rest) is the whole report's,
    /// byte for byte: with every field set, with two locks, and with none.
    #[test]
    fn the_streamed_json_is_the_whole_report() {
        let mut report = full_report();
        let lock = report.locks[0].clone();
        report.locks.push(LockRecord {
            path: "/s/b\n\u{1b}[2J.jsonl.lock".into(),
            ..lock
        });
        for locks in [2, 1, 0] {
            report.locks.truncate(locks);
            let mut streamed = Vec::new();
            crate::report::output::write_json(&mut streamed, &report).unwrap();
            let whole = serde_json::to_string_pretty(&report).unwrap();
            assert_eq!(String::from_utf8(streamed).unwrap(), whole, "{locks} locks");
        }
    }
}
