//! The one staleness policy, pure: facts in, verdict out. No I/O happens here, so the host, the
//! containers and the tests all judge a lock the same way.
//!
//! It is OpenClaw's `inspectLockPayload` + `shouldReclaimContendedLockFile` with the same reason
//! names, made stricter about what counts as a live owner (threads, zombies, legacy recycling)
//! and more careful where it cannot see the owner (never stale for a pid reason then).

use std::time::Duration;

use crate::model::names::named;
use chrono::{DateTime, TimeDelta, Utc};

use crate::judge::version;
use crate::model::holder::{Holder, Visibility};
use crate::model::payload::{LockKind, Payload};
use crate::model::process::{Owner, ProcFacts};
use crate::model::release::parse_version;
use crate::model::units::short_duration;

named! {
    /// OpenClaw's names for why a lock is stale, and ours. A kept lock may carry some: the
    /// holder rule (see `by_evidence`) decides whether they remove it. Each meaning is the line
    /// `man zaki-locks` prints for it.
    pub enum Reason {
        MissingPid => "missing-pid":
            "the payload has no valid pid (an empty or half-written lock is stale only once its \
             mtime is older than --older-than)",
        DeadPid => "dead-pid":
            "no process has that pid (in the PID namespace of the container that owns the \
             lock), or it is a zombie, or a thread id of another process",
        RecycledPid => "recycled-pid":
            "the process with that pid is not the one that took the lock: its starttime differs \
             from the payload's, or it started after the lock's createdAt",
        InvalidCreatedAt => "invalid-createdAt": "createdAt is missing or cannot be parsed",
        TooOld => "too-old":
            "createdAt is older than --older-than (30m). Age alone never removes a lock a \
             process holds open, nor one whose owner is alive and whose payload has maxHoldMs, \
             nor one whose owner may be alive where its holders cannot be seen",
        /// OpenClaw 2026.5.12+: the live owner's command line is not an OpenClaw process.
        NonOpenclawOwner => "non-openclaw-owner":
            "OpenClaw 2026.5.12+: the live owner's command line is not an OpenClaw process",
        /// OpenClaw 2026.5.28+: older than the payload's `maxHoldMs` (report-only on its own).
        HoldExceeded => "hold-exceeded":
            "OpenClaw 2026.5.28+: older than the payload's maxHoldMs; report-only on its own",
        /// Ours: no process holds it open, and every process that could was looked at.
        NoHolder => "no-holder":
            "ours: no process has the lock open (the kernel's answer, visibility complete) and \
             it has been unchanged for 10 s",
        /// Ours: its owner is alive but no longer holds it (openclaw/openclaw#93383, #91327).
        Leaked => "leaked":
            "ours, with no-holder: its owner is alive but no longer holds it open",
        /// Ours: held open past its max hold; the owner's run is stuck (never removed).
        Wedged => "wedged":
            "ours: held open past its max hold (the payload's maxHoldMs, else --older-than): \
             never removed; restart the container or process that holds it",
    }
}

named! {
    /// What the lock's pid turned out to be.
    pub enum OwnerState {
        /// A running process that may well hold the lock.
        Alive => "alive": "a running process that may well hold the lock",
        /// No such pid.
        Dead => "dead": "no process has that pid",
        /// The process has exited and waits to be reaped.
        Zombie => "zombie": "the process has exited and waits to be reaped",
        /// The pid is a thread of another process, never a lock owner.
        Thread => "thread": "the pid is a thread of another process, never a lock owner",
        /// The pid belongs to a process that started after the lock was taken.
        Recycled => "recycled": "the pid belongs to a process that started after the lock was taken",
        /// The owner could not be observed from here.
        Unknown => "unknown":
            "the owner could not be observed from here (another PID namespace, Docker \
             unreachable, /proc hidden): never makes a lock stale",
        /// The payload names no pid (empty, half-written or malformed lock).
        None => "none": "the payload names no pid (an empty, half-written or malformed lock)",
    }
}

impl OwnerState {
    /// The owner may still be running, and so may be in its lock's release window: alive, or
    /// not observable from here.
    pub fn may_be_alive(self) -> bool {
        matches!(self, OwnerState::Alive | OwnerState::Unknown)
    }

    /// The owner is known to be gone: no process, a zombie, a thread's id, or another process.
    /// (`None`, a payload without a pid, names no owner at all.)
    pub fn is_gone(self) -> bool {
        matches!(
            self,
            OwnerState::Dead | OwnerState::Zombie | OwnerState::Thread | OwnerState::Recycled
        )
    }
}

/// The thresholds a run judges with.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// Age past which a lock is `too-old` (OpenClaw's `staleMs`, 30 min).
    pub stale_after: TimeDelta,
    /// How much later than `createdAt` an owner may appear to have started and still be the
    /// owner: `btime` is whole seconds and the wall clock may have been adjusted since.
    pub start_slack: TimeDelta,
    /// How long a lock that nobody holds open may stay unchanged before it is stale (with
    /// complete visibility). OpenClaw holds its handle from create to release, so this only
    /// covers clock skew and versions not verified; 10 s is far below any acquire timeout.
    pub leak_grace: TimeDelta,
    /// Whether an unheld lock whose owner may be alive must be seen unheld twice,
    /// [`SECOND_LOOK`] apart, before it is stale: on for every run that removes locks; off for
    /// `scan`, which removes nothing and so need not wait out a release window.
    pub second_look: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            stale_after: TimeDelta::minutes(30),
            start_slack: TimeDelta::seconds(1),
            leak_grace: TimeDelta::seconds(10),
            second_look: true,
        }
    }
}

/// `--held-over`: a fixed threshold, or each lock's own max hold (as the wedged rule has it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeldOver {
    After(Duration),
    /// [`Policy::max_hold`]: the payload's `maxHoldMs`, else the policy's threshold.
    MaxHold,
}

impl HeldOver {
    /// The threshold for a lock with this `maxHoldMs`.
    pub fn threshold(self, policy: &Policy, max_hold_ms: Option<u64>) -> Duration {
        match self {
            HeldOver::After(d) => d,
            HeldOver::MaxHold => policy.max_hold(max_hold_ms),
        }
    }
}

impl Policy {
    /// How long a lock may be held open before it is wedged: its payload's `maxHoldMs`, else
    /// the threshold (`--older-than`). `--held-over` without a value uses the same line.
    pub fn max_hold(&self, max_hold_ms: Option<u64>) -> Duration {
        max_hold_ms.map_or_else(
            || self.stale_after.to_std().unwrap_or(Duration::MAX),
            Duration::from_millis,
        )
    }
}

/// OpenClaw's own watchdog releases a lock after 5 minutes: a live owner may hold one that long.
pub const MIN_SAFE_THRESHOLD: Duration = Duration::from_secs(300);

named! {
    /// What a lock is, once judged: the one status the table, the logs, the metrics and the
    /// JSON summary read (what was done to it is the report's `Action`). Each meaning is the
    /// line `man zaki-locks` prints for it.
    pub enum Status {
        /// Some process holds it, or may: never removed.
        Held => "held":
            "kept: a process has it open, or its owner may still be using it (who holds it \
             cannot be seen): never removed, whatever its age",
        /// Held open past its max hold: never removed; its owner's run is stuck.
        Wedged => "wedged":
            "held open past its max hold: never removed (that would let a second writer in); \
             the owner's run is stuck: restart the container or process the note names",
        /// Nobody holds it open, but not yet long enough (the grace, or a second look): kept
        /// for now, stale if it stays so.
        Unheld => "unheld":
            "nobody holds it open, but not yet for long enough (the no-holder grace, or one \
             look of two): kept for now, stale if it stays so",
        /// Nobody holds it: removed by `clean`.
        Stale => "stale":
            "nobody holds it and a reason says its owner is gone or it is too old: clean removes \
             it, if it is unchanged since it was judged",
        /// It could not be read, so was not judged (and is never removed).
        Unjudged => "unjudged": "it could not be read, so it was not judged (never removed)",
    }
}

impl Status {
    /// The status of a lock with this verdict (`None`: not judged).
    pub fn of(verdict: Option<&Verdict>) -> Status {
        match verdict {
            None => Status::Unjudged,
            Some(v) if v.stale => Status::Stale,
            Some(v) if v.wedged => Status::Wedged,
            Some(v) if v.unheld => Status::Unheld,
            Some(_) => Status::Held,
        }
    }
}

impl HeldOver {
    /// `--held-over`: whether a lock is held longer than the threshold: alive owner, not stale,
    /// `age` (seconds, with milliseconds) past the threshold for its `maxHoldMs`. A wedged lock
    /// counts whatever the threshold.
    pub fn exceeded(
        self,
        policy: &Policy,
        status: Status,
        owner: OwnerState,
        age: Option<f64>,
        max_hold_ms: Option<u64>,
    ) -> bool {
        status == Status::Wedged
            || (status != Status::Stale
                && owner == OwnerState::Alive
                && age.is_some_and(|a| a > self.threshold(policy, max_hold_ms).as_secs_f64()))
    }
}

/// What is known of the place a lock lives in.
#[derive(Debug, Clone, Copy, Default)]
pub struct PlaceFacts<'a> {
    /// The place's OpenClaw release, as read (`None`: not known).
    pub version: Option<&'a str>,
    /// The place keeps its sessions in SQLite (OpenClaw 2026.8+): its lock files are leftovers.
    pub sqlite: bool,
}

/// Everything the judge looks at for one lock: what was observed, nothing looked up here.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    pub payload: &'a Payload,
    pub kind: LockKind,
    /// The lock file's modification time.
    pub mtime: DateTime<Utc>,
    /// What was observed for `payload.pid` (ignored when there is no pid).
    pub owner: &'a Owner,
    /// The live owner's command line (at most 4 KiB; `None`: not read).
    pub owner_cmdline: Option<&'a [u8]>,
    pub now: DateTime<Utc>,
    /// The processes found with the lock's inode open, each with how it has it open.
    pub holders: &'a [Holder],
    /// Some process has it open (the kernel said so), named in `holders` or not.
    pub held: bool,
    /// `holders` names every process that has it open (a complete search of `/proc`).
    pub holders_all_named: bool,
    /// Whether "nobody holds it" can be trusted.
    pub visibility: &'a Visibility,
    /// When this same file (same inode, size, mtime and bytes) was seen with no writer holding
    /// it on an earlier look of this run (`None`: this is the first look).
    pub unheld_since: Option<DateTime<Utc>>,
    pub place: PlaceFacts<'a>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub stale: bool,
    /// OpenClaw's reasons; a kept lock may carry some (see `note`).
    pub reasons: Vec<Reason>,
    pub owner_state: OwnerState,
    /// Age by `createdAt` (never negative, as in OpenClaw); `None` when it is invalid.
    pub age: Option<TimeDelta>,
    /// Why the verdict is what it is, when the reasons alone do not say it.
    pub note: Option<String>,
    /// Held open past its max hold: never removed, reported with a fix.
    pub wedged: bool,
    /// What a human must do about it (a wedged lock: restart its holder); `None`: nothing.
    pub fix: Option<String>,
    /// Nobody holds it open (complete visibility), not yet long enough to be stale.
    pub unheld: bool,
    /// Nobody holds it, but it was seen so only once: look again, at least [`SECOND_LOOK`]
    /// later, before it may be called stale (an owner closes its handle a few ms before it
    /// deletes the file).
    pub look_again: bool,
    /// The evidence this lock needs could not be had (the holder check was refused): kept, and
    /// the run says so on stderr and in its exit status.
    pub evidence_missing: Option<String>,
}

/// How long after a first look with nobody holding a lock the second look must be: far longer
/// than OpenClaw's close-then-delete (1.4 / 4.0 / 15.9 ms min / median / max, 2026.6.35).
pub const SECOND_LOOK: TimeDelta = TimeDelta::seconds(1);

/// OpenClaw 2026.1.29 – 2026.2.12 reclaim a store lock once its mtime is this old.
pub const STORE_LOCK_STALE: TimeDelta = TimeDelta::seconds(30);

/// A verdict being reached: the reasons and notes so far.
#[derive(Default)]
struct Draft {
    reasons: Vec<Reason>,
    notes: Vec<String>,
    stale: bool,
    wedged: bool,
    fix: Option<String>,
    look_again: bool,
    evidence_missing: Option<String>,
    unheld: bool,
    /// An empty or half-written payload, and how long unmodified: it may be a lock being
    /// created, said once the evidence is in (see [`Draft::creating_note`]).
    creating: Option<String>,
    /// Who holds it open decided the verdict (held, or no holder with complete visibility).
    by_holders: bool,
}

impl Draft {
    fn only(&self, allowed: &[Reason]) -> bool {
        !self.reasons.is_empty() && self.reasons.iter().all(|r| allowed.contains(r))
    }

    fn keep(&mut self, note: String) {
        self.stale = false;
        self.notes.push(note);
    }

    /// What an incomplete payload's note says once the verdict is reached: removed, it was
    /// not being created (nobody held it); kept, it may be, and the mtime rule says when it
    /// turns stale only where the holders did not decide.
    fn creating_note(&mut self, stale_after: TimeDelta) {
        let Some(what) = self.creating.take() else {
            return;
        };
        self.notes.push(match (self.stale, self.by_holders) {
            (true, _) => format!("{what}: nobody holds it open, so nobody is creating it"),
            (false, true) => format!("{what}: may be a lock being created"),
            (false, false) => format!(
                "{what}: may be a lock being created; stale once unmodified for {}",
                short_duration(stale_after)
            ),
        });
    }
}

impl Policy {
    /// The one decision about a lock: OpenClaw's reasons, what the place's release changes, the
    /// age rules, then the evidence of who holds it open.
    pub fn judge(&self, f: Facts<'_>) -> Verdict {
        let p = f.payload;
        let age = p.created_at.map(|c| (f.now - c).max(TimeDelta::zero()));
        let mut d = Draft::default();
        let owner_state = if compact_store_lock(&f) {
            self.store_lock(&f, &mut d)
        } else {
            let owner_state = self.pid_rules(&f, &mut d);
            self.age_rules(&f, age, &mut d);
            d.stale = self.payload_rules(&f, &mut d);
            version_rules(&f, owner_state, &mut d);
            self.age_alone(&f, age, owner_state, &mut d);
            owner_state
        };
        self.by_evidence(&f, age, owner_state, &mut d);
        d.creating_note(self.stale_after);
        if f.place.sqlite {
            d.notes.insert(
                0,
                "leftover of the migration to SQLite (OpenClaw 2026.8+ never reads nor removes it)"
                    .into(),
            );
        }
        Verdict {
            stale: d.stale,
            reasons: d.reasons,
            owner_state,
            age,
            note: (!d.notes.is_empty()).then(|| d.notes.join("; ")),
            wedged: d.wedged,
            fix: d.fix,
            unheld: !d.stale && d.unheld,
            look_again: d.look_again,
            evidence_missing: d.evidence_missing,
        }
    }

    /// OpenClaw's pid rules: what the payload's pid is, and the reason it makes stale.
    fn pid_rules(&self, f: &Facts<'_>, d: &mut Draft) -> OwnerState {
        let Some(pid) = f.payload.pid else {
            d.reasons.push(Reason::MissingPid);
            return OwnerState::None;
        };
        let (state, note) = self.owner_state(pid, f.payload, f.owner);
        d.notes.extend(note);
        match state {
            OwnerState::Dead | OwnerState::Zombie | OwnerState::Thread => {
                d.reasons.push(Reason::DeadPid)
            }
            OwnerState::Recycled => d.reasons.push(Reason::RecycledPid),
            _ => {}
        }
        state
    }

    /// `createdAt`: invalid, in the future, or older than the threshold (`too-old`).
    fn age_rules(&self, f: &Facts<'_>, age: Option<TimeDelta>, d: &mut Draft) {
        match (f.payload.created_at, age) {
            (Some(c), _) if c > f.now + self.start_slack => d
                .notes
                .push(format!("createdAt {} is in the future", c.to_rfc3339())),
            (None, _) => d.reasons.push(Reason::InvalidCreatedAt),
            (_, Some(a)) if a > self.stale_after => d.reasons.push(Reason::TooOld),
            _ => {}
        }
    }

    /// Whether the reasons so far make the lock stale, with OpenClaw's mtime fallback: a lock
    /// whose only faults are a missing pid or createdAt may be one being written right now (it
    /// exists empty between create and write).
    fn payload_rules(&self, f: &Facts<'_>, d: &mut Draft) -> bool {
        if !d.only(&[Reason::MissingPid, Reason::InvalidCreatedAt]) {
            return !d.reasons.is_empty();
        }
        let mtime_age = (f.now - f.mtime).max(TimeDelta::zero());
        let old = mtime_age > self.stale_after;
        if !old {
            let what = f
                .payload
                .problem
                .map_or("incomplete payload", |pr| pr.describe());
            d.creating = Some(format!(
                "{what}, modified {} ago",
                short_duration(mtime_age)
            ));
        }
        old
    }

    /// Age alone never removes a lock whose owner may be alive: OpenClaw 2026.5.28+ (payloads
    /// with `maxHoldMs`) made `too-old` and `hold-exceeded` report-only, and where nobody can
    /// tell who holds it (incomplete visibility) its age is no evidence either.
    fn age_alone(
        &self,
        f: &Facts<'_>,
        age: Option<TimeDelta>,
        owner_state: OwnerState,
        d: &mut Draft,
    ) {
        let max_hold = max_hold(f.payload);
        if let (Some(limit), Some(a)) = (max_hold, age)
            && a > limit
        {
            d.reasons.push(Reason::HoldExceeded);
        }
        if !d.stale || !d.only(&[Reason::TooOld, Reason::HoldExceeded]) {
            return;
        }
        if max_hold.is_some() && owner_state == OwnerState::Alive {
            d.keep("its owner is alive and its payload has maxHoldMs: age alone is report-only (OpenClaw 2026.5.28+)".into());
        } else if !f.visibility.is_complete() && owner_state.may_be_alive() {
            d.keep(format!(
                "its owner may be alive and who holds it cannot be seen ({}): age alone never removes it",
                f.visibility.why().unwrap_or("incomplete")
            ));
        }
    }

    /// The 2026.1.29 – 2026.2.12 store lock: written, closed at once, unlinked about 30 ms
    /// later. Nobody holds it open, so that is no evidence: OpenClaw's own rule applies, stale
    /// once unmodified for 30 s.
    fn store_lock(&self, f: &Facts<'_>, d: &mut Draft) -> OwnerState {
        let quiet = (f.now - f.mtime).max(TimeDelta::zero());
        let owner_state = f.payload.pid.map_or(OwnerState::None, |pid| {
            self.owner_state(pid, f.payload, f.owner).0
        });
        if quiet > STORE_LOCK_STALE {
            d.stale = true;
            d.reasons.push(Reason::TooOld);
            d.notes.push(format!(
                "store lock of OpenClaw 2026.1.29 – 2026.2.12, unmodified for {}: OpenClaw reclaims it after {}",
                short_duration(quiet),
                short_duration(STORE_LOCK_STALE)
            ));
        } else {
            d.notes.push(format!(
                "store lock of OpenClaw 2026.1.29 – 2026.2.12 (its writer closes it at once): kept until unmodified for {}, as OpenClaw does",
                short_duration(STORE_LOCK_STALE)
            ));
        }
        owner_state
    }

    /// The holder rule: a lock a writer holds open is never stale (wedged when held past its
    /// max hold); a refused check keeps it and says so; one that no writer holds, with complete
    /// visibility, is stale once unchanged for the grace and, while its owner may be alive, seen
    /// so twice. With incomplete visibility the rules above stand.
    fn by_evidence(
        &self,
        f: &Facts<'_>,
        age: Option<TimeDelta>,
        owner_state: OwnerState,
        d: &mut Draft,
    ) {
        // Readers alone leave a lock unheld only when its owner is known to be gone (a live,
        // unseen or unnamed owner, such as an empty lock's creator, that has its lock open in
        // any mode holds it), or for the store lock whose writer never keeps it open.
        let readers_only = (owner_state.is_gone() || compact_store_lock(f))
            && f.holders_all_named
            && !f.holders.is_empty()
            && f.holders.iter().all(|h| !h.writes());
        if (f.held || !f.holders.is_empty()) && !readers_only {
            d.by_holders = true;
            return self.held(f, age, d);
        }
        if readers_only {
            let who: Vec<String> = f.holders.iter().map(Holder::describe).collect();
            d.notes.push(format!(
                "open read-only by {}: a reader, not a holder (OpenClaw opens its locks write-only)",
                who.join(", ")
            ));
        }
        if let Visibility::Refused(why) = f.visibility {
            d.stale = false;
            d.notes
                .push(format!("kept: who holds it cannot be checked ({why})"));
            d.evidence_missing = Some(why.clone());
            return;
        }
        if !f.visibility.is_complete() || compact_store_lock(f) {
            return;
        }
        d.by_holders = true;
        d.unheld = true;
        let quiet = (f.now - f.mtime).max(TimeDelta::zero());
        if quiet > self.leak_grace {
            d.stale = true;
            d.reasons.push(Reason::NoHolder);
            if owner_state == OwnerState::Alive {
                d.reasons.push(Reason::Leaked);
                d.notes.push(format!(
                    "its owner is alive but no process holds it open (leaked), unchanged for {}",
                    short_duration(quiet)
                ));
            }
        } else if !d.stale {
            d.notes.push(format!(
                "no process holds it open; stale if still unheld once unchanged for {}",
                short_duration(self.leak_grace)
            ));
        }
        self.second_look(f, owner_state, d);
    }

    /// A stale lock whose owner may be alive may be in its release window (closed, not yet
    /// deleted; up to 2026.5.7 deleted by path, so removing it lets a waiter's new lock be
    /// deleted): stale only once seen unheld twice, on the same file, [`SECOND_LOOK`] apart.
    fn second_look(&self, f: &Facts<'_>, owner_state: OwnerState, d: &mut Draft) {
        if !self.second_look || !d.stale || !owner_state.may_be_alive() {
            return;
        }
        match f.unheld_since {
            Some(first) if f.now - first >= SECOND_LOOK => {}
            _ => {
                d.stale = false;
                d.look_again = true;
                d.notes.push(format!(
                    "nobody holds it open, seen once: stale if still unheld and unchanged {} later",
                    short_duration(SECOND_LOOK)
                ));
            }
        }
    }

    /// Held open by a writer: kept; wedged when held past its max hold (or the threshold).
    fn held(&self, f: &Facts<'_>, age: Option<TimeDelta>, d: &mut Draft) {
        let writers: Vec<&Holder> = f.holders.iter().filter(|h| h.writes()).collect();
        let mut who: Vec<String> = writers.iter().map(|h| h.describe()).collect();
        if who.is_empty() {
            who.push("a process that could not be named".into());
        }
        let quiet = (f.now - f.mtime).max(TimeDelta::zero());
        let held_for = age.unwrap_or(quiet);
        let limit =
            TimeDelta::from_std(self.max_hold(f.payload.max_hold_ms)).unwrap_or(TimeDelta::MAX);
        d.stale = false;
        if held_for > limit {
            d.wedged = true;
            d.reasons.push(Reason::Wedged);
            let fix = match (
                writers.iter().find_map(|h| h.container.as_deref()),
                writers.first(),
            ) {
                (Some(c), _) => format!("docker restart {c}"),
                (None, Some(h)) => format!("restart process {}", h.host_pid),
                (None, None) => "restart the process that holds it open".into(),
            };
            // The reason already says `wedged`: the note says by whom, how long, and the fix.
            d.notes.push(format!(
                "held open by {} for {}, past its max hold of {}; removing the file cannot help and would let a second writer in: {fix}",
                who.join(", "),
                short_duration(held_for),
                short_duration(limit),
            ));
            d.fix = Some(fix);
        } else if !d.reasons.is_empty() {
            d.notes
                .push(format!("held open by {}: never removed", who.join(", ")));
        }
    }

    fn owner_state(&self, pid: u64, p: &Payload, owner: &Owner) -> (OwnerState, Option<String>) {
        let facts = match owner {
            Owner::Unknown(why) => {
                return (
                    OwnerState::Unknown,
                    Some(format!("owner pid {pid} not judged: {why}")),
                );
            }
            Owner::Gone => return (OwnerState::Dead, None),
            Owner::Found(facts) => facts,
        };
        let ProcFacts {
            tgid,
            state,
            starttime,
            started_at,
            ..
        } = facts;
        let label = facts.name.as_deref().unwrap_or("?");
        if matches!(state, Some('Z') | Some('X') | Some('x')) {
            return (OwnerState::Zombie, None);
        }
        match tgid {
            Some(tgid) if *tgid != pid => {
                return (
                    OwnerState::Thread,
                    Some(format!(
                        "pid {pid} is a thread ({label}) of process {tgid}, not a lock owner"
                    )),
                );
            }
            Some(_) => {}
            None => {
                return (
                    OwnerState::Unknown,
                    Some(format!("pid {pid}: its status shows no Tgid")),
                );
            }
        }
        if let Some(stored) = p.starttime {
            // OpenClaw 2026.3+: an exact comparison; an unreadable current value is not evidence.
            return match starttime {
                Some(now) if *now != stored => (
                    OwnerState::Recycled,
                    Some(format!(
                        "pid {pid} ({label}) has starttime {now}, the lock recorded {stored}"
                    )),
                ),
                _ => (OwnerState::Alive, None),
            };
        }
        if let (Some(created), Some(started)) = (p.created_at, started_at)
            && *started > created + self.start_slack
        {
            return (
                OwnerState::Recycled,
                Some(format!(
                    "pid {pid} ({label}) started at {}, after the lock was created at {}",
                    started.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                    created.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                )),
            );
        }
        (OwnerState::Alive, None)
    }
}

/// The payload's `maxHoldMs` as a duration.
fn max_hold(p: &Payload) -> Option<TimeDelta> {
    p.max_hold_ms
        .map(|ms| TimeDelta::milliseconds(i64::try_from(ms).unwrap_or(i64::MAX)))
}

/// The compact store lock of OpenClaw 2026.1.29 – 2026.2.12: `{"pid":N,"startedAt":ms}`.
fn compact_store_lock(f: &Facts<'_>) -> bool {
    f.kind == LockKind::Store && f.payload.started_at_ms.is_some() && f.payload.created_at.is_none()
}

/// What the place's release changes (see `judge::version`): `non-openclaw-owner` where that
/// release reclaims such a lock itself (stale, unless someone holds it: the holder rule comes
/// after), and a name for a legacy lock an upgraded gateway will never remove.
fn version_rules(f: &Facts<'_>, owner_state: OwnerState, d: &mut Draft) {
    if f.place.sqlite {
        return; // a leftover: labelled as such
    }
    let out = version::judge(version::VersionFacts {
        version: f.place.version.and_then(parse_version),
        version_text: f.place.version,
        owner_alive: owner_state == OwnerState::Alive,
        pid_exists: matches!(
            owner_state,
            OwnerState::Alive | OwnerState::Thread | OwnerState::Recycled
        ),
        has_starttime: f.payload.starttime.is_some(),
        owner_is_openclaw: (owner_state == OwnerState::Alive)
            .then_some(f.owner_cmdline)
            .flatten()
            .and_then(version::cmdline_is_openclaw),
    });
    if out.non_openclaw_owner {
        d.reasons.push(Reason::NonOpenclawOwner);
        d.stale = true;
    }
    d.notes.extend(out.note);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::holder::Access;
    use crate::model::payload::Payload;

    fn now() -> DateTime<Utc> {
        "2026-11-24T12:00:00Z".parse().unwrap()
    }

    fn payload(pid: Option<u64>, created_ago_s: Option<i64>, starttime: Option<u64>) -> Payload {
        Payload {
            pid,
            created_at: created_ago_s.map(|s| now() - TimeDelta::seconds(s)),
            starttime,
            ..Payload::default()
        }
    }

    fn process(pid: u64, started_ago_s: i64, starttime: u64) -> Owner {
        Owner::Found(ProcFacts {
            tgid: Some(pid),
            state: Some('S'),
            starttime: Some(starttime),
            started_at: Some(now() - TimeDelta::seconds(started_ago_s)),
            name: Some("node".into()),
            nspid: vec![pid],
        })
    }

    /// Today's pid rules alone: nobody was found holding it, and that is not evidence.
    fn judge(p: &Payload, owner: &Owner, mtime_ago_s: i64) -> Verdict {
        judge_seen(
            p,
            owner,
            mtime_ago_s,
            &[],
            &Visibility::Incomplete("test".into()),
        )
    }

    fn judge_seen(
        p: &Payload,
        owner: &Owner,
        mtime_ago_s: i64,
        holders: &[Holder],
        visibility: &Visibility,
    ) -> Verdict {
        Policy::default().judge(facts(p, owner, mtime_ago_s, holders, visibility))
    }

    /// A first look at a transcript lock in a place of unknown release.
    fn facts<'a>(
        p: &'a Payload,
        owner: &'a Owner,
        mtime_ago_s: i64,
        holders: &'a [Holder],
        visibility: &'a Visibility,
    ) -> Facts<'a> {
        Facts {
            payload: p,
            kind: LockKind::Transcript,
            mtime: now() - TimeDelta::seconds(mtime_ago_s),
            owner,
            owner_cmdline: None,
            now: now(),
            holders,
            held: !holders.is_empty(),
            holders_all_named: false,
            visibility,
            unheld_since: None,
            place: PlaceFacts::default(),
        }
    }

    /// The same facts seen a second time, `SECOND_LOOK` after the first look found it unheld.
    fn again(f: Facts<'_>) -> Verdict {
        Policy::default().judge(Facts {
            unheld_since: Some(now() - SECOND_LOOK),
            ..f
        })
    }

    fn holder(container: Option<&str>) -> Holder {
        Holder {
            host_pid: 3946,
            ns_pid: 13,
            comm: "openclaw-gatewa".into(),
            container: container.map(str::to_owned),
            access: Access::Write,
        }
    }

    fn with_max_hold(mut p: Payload, ms: u64) -> Payload {
        p.max_hold_ms = Some(ms);
        p
    }

    #[test]
    fn held_open_is_never_stale_whatever_the_pid_says() {
        let h = [holder(Some("zaki-user-1"))];
        let complete = Visibility::Complete;
        // Dead pid, recycled pid, empty file, too old: all kept while held.
        for (p, owner) in [
            (payload(Some(7), Some(5), None), Owner::Gone),
            (payload(Some(7), Some(10), Some(11)), process(7, 3600, 10)),
            (Payload::default(), Owner::Gone),
            (
                payload(Some(7), Some(600), None),
                Owner::Unknown("x".into()),
            ),
        ] {
            for vis in [&complete, &Visibility::Incomplete("x".into())] {
                let v = judge_seen(&p, &owner, 600, &h, vis);
                assert!(!v.stale, "{p:?} {owner:?}: {v:?}");
                assert!(!v.wedged);
            }
        }
    }

    #[test]
    fn held_by_an_unnamed_process_is_kept_too() {
        let p = payload(Some(7), Some(3600), None);
        let v = Policy::default().judge(Facts {
            held: true,
            ..facts(&p, &Owner::Gone, 3600, &[], &Visibility::Complete)
        });
        assert!(!v.stale && v.wedged, "{v:?}");
        assert!(
            v.note
                .unwrap()
                .contains("restart the process that holds it open")
        );
    }

    #[test]
    fn held_past_max_hold_is_wedged_never_removed() {
        let h = [holder(Some("zaki-user-1"))];
        // No maxHoldMs: the threshold (30 min) is the limit.
        let v = judge_seen(
            &payload(Some(7), Some(1801), None),
            &process(7, 9000, 1),
            1801,
            &h,
            &Visibility::Complete,
        );
        assert!(!v.stale && v.wedged);
        assert_eq!(names(&v), vec!["too-old", "wedged"]);
        assert!(v.note.unwrap().contains("docker restart zaki-user-1"));
        // maxHoldMs 5 min, held 6 min: hold-exceeded and wedged, fix names the process.
        let p = with_max_hold(payload(Some(7), Some(360), Some(1)), 300_000);
        let v = judge_seen(
            &p,
            &process(7, 9000, 1),
            360,
            &[holder(None)],
            &Visibility::Complete,
        );
        assert!(!v.stale && v.wedged);
        assert_eq!(names(&v), vec!["hold-exceeded", "wedged"]);
        assert!(v.note.unwrap().contains("restart process 3946"));
        // 1 h max hold, 40 min old, held: kept, not wedged (the 2026.7 case).
        let p = with_max_hold(payload(Some(7), Some(2400), Some(1)), 3_600_000);
        let v = judge_seen(&p, &process(7, 9000, 1), 2400, &h, &Visibility::Complete);
        assert!(!v.stale && !v.wedged);
        assert_eq!(names(&v), vec!["too-old"]);
    }

    #[test]
    fn max_hold_payload_with_live_owner_is_report_only_by_age() {
        // OpenClaw 2026.5.28+: a live owner's lock is never removed for age alone.
        let p = with_max_hold(payload(Some(7), Some(2400), Some(1)), 3_600_000);
        let v = judge(&p, &process(7, 9000, 1), 2400);
        assert!(!v.stale, "{v:?}");
        assert_eq!(names(&v), vec!["too-old"]);
        // Without maxHoldMs (older payloads) too-old still removes once nobody holds it (seen
        // twice), never on age alone when who holds it cannot be seen.
        let old = payload(Some(7), Some(2400), Some(1));
        let owner = process(7, 9000, 1);
        assert!(!judge(&old, &owner, 2400).stale);
        let seen = facts(&old, &owner, 2400, &[], &Visibility::Complete);
        assert!(again(seen).stale);
        // A dead owner still makes it stale.
        assert!(judge(&p, &Owner::Gone, 2400).stale);
    }

    #[test]
    fn no_holder_with_complete_visibility() {
        let c = Visibility::Complete;
        // Live owner, not held, unchanged past the grace: leaked, once seen so twice.
        let (p, owner) = (payload(Some(7), Some(60), Some(1)), process(7, 9000, 1));
        let first = judge_seen(&p, &owner, 60, &[], &c);
        assert!(!first.stale && first.look_again, "{first:?}");
        let v = again(facts(&p, &owner, 60, &[], &c));
        assert!(v.stale && !v.look_again);
        assert_eq!(v.owner_state, OwnerState::Alive);
        assert_eq!(names(&v), vec!["no-holder", "leaked"]);
        // Within the grace: kept.
        let v = judge_seen(
            &payload(Some(7), Some(5), Some(1)),
            &process(7, 9000, 1),
            5,
            &[],
            &c,
        );
        assert!(!v.stale);
        assert!(v.note.unwrap().contains("no process holds it"));
        // An unknown owner (container stopped, another namespace) with no holder: no-holder,
        // once seen so twice.
        let (p, unknown) = (
            payload(Some(7), Some(60), None),
            Owner::Unknown("paused".into()),
        );
        assert!(judge_seen(&p, &unknown, 60, &[], &c).look_again);
        let v = again(facts(&p, &unknown, 60, &[], &c));
        assert!(v.stale);
        assert_eq!(names(&v), vec!["no-holder"]);
        // An empty lock nobody holds, past the grace: its creator is gone.
        let v = judge_seen(&Payload::default(), &Owner::Gone, 30, &[], &c);
        assert!(v.stale);
        assert_eq!(
            names(&v),
            vec!["missing-pid", "invalid-createdAt", "no-holder"]
        );
        // A dead pid stays stale at once, as today.
        let v = judge_seen(&payload(Some(7), Some(1), None), &Owner::Gone, 1, &[], &c);
        assert!(v.stale);
        assert_eq!(names(&v), vec!["dead-pid"]);
    }

    #[test]
    fn no_holder_is_not_evidence_when_incomplete() {
        let inc = Visibility::Incomplete("NFS".into());
        let v = judge_seen(
            &payload(Some(7), Some(60), Some(1)),
            &process(7, 9000, 1),
            60,
            &[],
            &inc,
        );
        assert!(!v.stale);
        assert!(v.reasons.is_empty());
        let v = judge_seen(
            &payload(Some(7), Some(60), None),
            &Owner::Unknown("paused".into()),
            60,
            &[],
            &inc,
        );
        assert!(!v.stale);
    }

    fn names(v: &Verdict) -> Vec<&'static str> {
        v.reasons.iter().map(|r| r.as_str()).collect()
    }

    #[test]
    fn live_owner_is_held() {
        let v = judge(&payload(Some(7), Some(5), None), &process(7, 3600, 10), 5);
        assert!(!v.stale);
        assert_eq!(v.owner_state, OwnerState::Alive);
        assert!(v.reasons.is_empty());
        assert_eq!(v.age, Some(TimeDelta::seconds(5)));
    }

    #[test]
    fn dead_zombie_thread() {
        let p = payload(Some(7), Some(5), None);
        let v = judge(&p, &Owner::Gone, 5);
        assert!(v.stale);
        assert_eq!(
            (v.owner_state, names(&v)),
            (OwnerState::Dead, vec!["dead-pid"])
        );

        let Owner::Found(mut f) = process(7, 3600, 10) else {
            unreachable!()
        };
        f.state = Some('Z');
        let v = judge(&p, &Owner::Found(f.clone()), 5);
        assert_eq!((v.owner_state, v.stale), (OwnerState::Zombie, true));

        f.state = Some('S');
        f.tgid = Some(1);
        let v = judge(&p, &Owner::Found(f), 5);
        assert_eq!((v.owner_state, v.stale), (OwnerState::Thread, true));
        assert_eq!(names(&v), vec!["dead-pid"]);
    }

    #[test]
    fn legacy_recycling_by_start_time() {
        // Owner started 2 s after the lock was created: not its owner.
        let v = judge(&payload(Some(7), Some(10), None), &process(7, 8, 10), 10);
        assert_eq!((v.owner_state, v.stale), (OwnerState::Recycled, true));
        assert_eq!(names(&v), vec!["recycled-pid"]);
        // Within the slack: still the owner.
        let v = judge(&payload(Some(7), Some(10), None), &process(7, 10, 10), 10);
        assert_eq!((v.owner_state, v.stale), (OwnerState::Alive, false));
    }

    #[test]
    fn starttime_compared_exactly() {
        let v = judge(
            &payload(Some(7), Some(10), Some(11)),
            &process(7, 3600, 10),
            10,
        );
        assert_eq!((v.owner_state, v.stale), (OwnerState::Recycled, true));
        // Equal starttime wins over the wall-clock comparison.
        let v = judge(
            &payload(Some(7), Some(10), Some(10)),
            &process(7, 1, 10),
            10,
        );
        assert_eq!((v.owner_state, v.stale), (OwnerState::Alive, false));
    }

    #[test]
    fn unknown_owner_never_stale_for_pid_reasons() {
        let unknown = Owner::Unknown("another PID namespace".into());
        let v = judge(&payload(Some(7), Some(5), None), &unknown, 5);
        assert_eq!((v.owner_state, v.stale), (OwnerState::Unknown, false));
        assert!(v.note.unwrap().contains("another PID namespace"));
        // …nor for its age while who holds it cannot be seen (fail closed)…
        let old = payload(Some(7), Some(3600), None);
        let v = judge(&old, &unknown, 3600);
        assert_eq!(names(&v), vec!["too-old"]);
        assert!(!v.stale);
        assert!(v.note.unwrap().contains("age alone never removes it"));
        // …but it is, once nobody holds it (seen twice).
        let v = again(facts(&old, &unknown, 3600, &[], &Visibility::Complete));
        assert_eq!(names(&v), vec!["too-old", "no-holder"]);
        assert!(v.stale);
    }

    #[test]
    fn too_old_when_alive_only_with_evidence() {
        // Who holds it cannot be seen: age alone never removes a live owner's lock.
        let (p, owner) = (payload(Some(7), Some(1801), None), process(7, 9000, 10));
        let v = judge(&p, &owner, 1801);
        assert_eq!(names(&v), vec!["too-old"]);
        assert!(!v.stale);
        // Nobody holds it, seen twice: stale (the owner leaked it).
        let v = again(facts(&p, &owner, 1801, &[], &Visibility::Complete));
        assert_eq!(names(&v), vec!["too-old", "no-holder", "leaked"]);
        assert!(v.stale);
        let v = judge(
            &payload(Some(7), Some(1800), None),
            &process(7, 9000, 10),
            1800,
        );
        assert!(!v.stale, "exactly the threshold is not older than it");
    }

    /// `p`, written 5 s ago, held open by a writer nobody could name.
    fn fresh_held(p: &Payload) -> Verdict {
        let mut f = facts(p, &Owner::Gone, 5, &[], &Visibility::Complete);
        f.held = true;
        Policy::default().judge(f)
    }

    #[test]
    fn mtime_fallback_for_incomplete_payloads() {
        let empty = Payload {
            problem: Some(crate::model::payload::PayloadProblem::Empty),
            ..Payload::default()
        };
        let fresh = judge(&empty, &Owner::Gone, 10);
        assert!(!fresh.stale);
        assert_eq!(fresh.owner_state, OwnerState::None);
        assert_eq!(names(&fresh), vec!["missing-pid", "invalid-createdAt"]);
        let note = fresh.note.unwrap();
        assert!(
            note.contains("being created; stale once unmodified for 30m"),
            "{note}"
        );
        assert!(judge(&empty, &Owner::Gone, 1801).stale);
        // Nobody holds it (complete visibility): stale, and its note does not say otherwise.
        let unheld = judge_seen(&empty, &Owner::Gone, 60, &[], &Visibility::Complete);
        assert!(unheld.stale, "{unheld:?}");
        let note = unheld.note.unwrap();
        assert!(!note.contains("being created"), "{note}");
        assert!(note.contains("nobody is creating it"), "{note}");
        // Within the grace: it may be, and the holder rule (not 30 min) says when it is stale.
        let young = judge_seen(&empty, &Owner::Gone, 5, &[], &Visibility::Complete);
        let note = young.note.clone().unwrap();
        assert!(
            note.contains("being created") && !note.contains("30m"),
            "{note}"
        );
        // Its status says what it is: nobody holds it, not stale yet (not `held`).
        assert_eq!(Status::of(Some(&young)), Status::Unheld);
        assert_eq!(Status::of(Some(&fresh_held(&empty))), Status::Held);

        // A live pid with a bad createdAt also waits for the mtime.
        let p = payload(Some(7), None, None);
        assert!(!judge(&p, &process(7, 100, 1), 10).stale);
        assert!(judge(&p, &process(7, 100, 1), 1801).stale);
        // A dead pid with a bad createdAt does not wait.
        assert!(judge(&p, &Owner::Gone, 10).stale);
    }

    #[test]
    fn future_created_at() {
        let p = payload(Some(7), Some(-3600), None);
        let v = judge(&p, &process(7, 9000, 1), 0);
        assert_eq!(v.age, Some(TimeDelta::zero()));
        assert!(!v.stale);
        assert!(v.note.unwrap().contains("future"));
    }

    fn verdict(stale: bool, wedged: bool) -> Verdict {
        Verdict {
            stale,
            reasons: Vec::new(),
            owner_state: OwnerState::Alive,
            age: None,
            note: None,
            wedged,
            fix: None,
            unheld: false,
            look_again: false,
            evidence_missing: None,
        }
    }

    #[test]
    fn one_status_from_the_verdict() {
        assert_eq!(Status::of(None), Status::Unjudged);
        assert_eq!(Status::of(Some(&verdict(true, false))), Status::Stale);
        assert_eq!(Status::of(Some(&verdict(false, true))), Status::Wedged);
        assert_eq!(Status::of(Some(&verdict(false, false))), Status::Held);
        assert_eq!(Status::Wedged.as_str(), "wedged");
    }

    #[test]
    fn held_over_needs_a_live_owner_past_the_threshold_or_a_wedged_lock() {
        let p = &Policy::default();
        let minute = HeldOver::After(Duration::from_secs(60));
        let alive = OwnerState::Alive;
        assert!(minute.exceeded(p, Status::Held, alive, Some(61.0), None));
        assert!(!minute.exceeded(p, Status::Held, alive, Some(59.5), None));
        assert!(!minute.exceeded(p, Status::Held, OwnerState::Unknown, Some(600.0), None));
        assert!(!minute.exceeded(p, Status::Stale, alive, Some(600.0), None));
        assert!(!minute.exceeded(p, Status::Held, alive, None, None));
        assert!(minute.exceeded(p, Status::Wedged, OwnerState::Unknown, None, None));
        // Each lock's own max hold, else the threshold: where the wedged rule draws the line.
        let own = HeldOver::MaxHold;
        assert!(own.exceeded(p, Status::Held, alive, Some(2.5), Some(2_000)));
        assert!(!own.exceeded(p, Status::Held, alive, Some(1799.0), None));
        assert!(own.exceeded(p, Status::Held, alive, Some(1801.0), None));
        let short = &Policy {
            stale_after: TimeDelta::minutes(10),
            ..Policy::default()
        };
        assert!(own.exceeded(short, Status::Held, alive, Some(601.0), None));
        assert_eq!(own.threshold(short, None), short.max_hold(None));
    }
}

/// One test per row of the OpenClaw release table in docs/reference.md (lock-file era; the
/// SQLite era's rows are `judge::claims`'s), and the evidence rules that hold across them.
#[cfg(test)]
mod releases {
    use super::*;
    use crate::model::holder::Access;

    fn now() -> DateTime<Utc> {
        "2026-11-24T12:00:00Z".parse().unwrap()
    }

    fn ago(s: i64) -> DateTime<Utc> {
        now() - TimeDelta::seconds(s)
    }

    /// A live OpenClaw gateway as the payload's owner: pid 13, started an hour ago.
    fn gateway() -> Owner {
        Owner::Found(ProcFacts {
            tgid: Some(13),
            state: Some('S'),
            starttime: Some(500),
            started_at: Some(ago(3600)),
            name: Some("openclaw-gateway".into()),
            nspid: vec![3946, 13],
        })
    }

    fn writer() -> Holder {
        Holder {
            host_pid: 3946,
            ns_pid: 13,
            comm: "openclaw-gateway".into(),
            container: Some("zaki-user-1".into()),
            access: Access::Write,
        }
    }

    fn r_only() -> &'static [Holder] {
        static R: std::sync::LazyLock<[Holder; 1]> = std::sync::LazyLock::new(|| [reader()]);
        &*R
    }

    fn reader() -> Holder {
        Holder {
            host_pid: 77,
            ns_pid: 77,
            comm: "tail".into(),
            container: None,
            access: Access::Read,
        }
    }

    /// `{pid, createdAt}` (+ `starttime`, + `maxHoldMs`) written `created` seconds ago.
    fn payload(created: i64, starttime: Option<u64>, max_hold_ms: Option<u64>) -> Payload {
        Payload {
            pid: Some(13),
            created_at: Some(ago(created)),
            starttime,
            max_hold_ms,
            ..Payload::default()
        }
    }

    const COMPLETE: &Visibility = &Visibility::Complete;

    fn facts<'a>(p: &'a Payload, owner: &'a Owner, holders: &'a [Holder]) -> Facts<'a> {
        Facts {
            payload: p,
            kind: LockKind::Transcript,
            mtime: p.created_at.unwrap_or(ago(60)),
            owner,
            owner_cmdline: None,
            now: now(),
            holders,
            held: !holders.is_empty(),
            holders_all_named: true,
            visibility: COMPLETE,
            unheld_since: None,
            place: PlaceFacts::default(),
        }
    }

    fn judge(f: Facts<'_>) -> Verdict {
        Policy::default().judge(f)
    }

    fn names(v: &Verdict) -> Vec<&'static str> {
        v.reasons.iter().map(|r| r.as_str()).collect()
    }

    #[test]
    fn row_2026_1_to_2026_2_12_store_lock_by_openclaws_own_rule() {
        // `{"pid":13,"startedAt":ms}`, closed at once by its live writer: nobody holds it, and
        // that is no evidence; stale once unmodified for 30 s, as OpenClaw reclaims it.
        let p = Payload {
            pid: Some(13),
            started_at_ms: Some(1_796_191_808_123),
            ..Payload::default()
        };
        let owner = gateway();
        for (quiet, stale) in [
            (2, false),
            (15, false),
            (30, false),
            (31, true),
            (3600, true),
        ] {
            let v = judge(Facts {
                kind: LockKind::Store,
                mtime: ago(quiet),
                ..facts(&p, &owner, &[])
            });
            assert_eq!(v.stale, stale, "unmodified for {quiet}s: {v:?}");
            assert!(!v.look_again, "OpenClaw's rule needs no second look");
            assert!(!names(&v).contains(&"no-holder"), "{v:?}");
            assert!(v.note.unwrap().contains("store lock of OpenClaw 2026.1.29"));
        }
        // Read by someone (a backup agent): still only OpenClaw's rule.
        let r = [reader()];
        let v = judge(Facts {
            kind: LockKind::Store,
            mtime: ago(40),
            held: true,
            ..facts(&p, &owner, &r)
        });
        assert!(v.stale, "{v:?}");
        // The same payload in a transcript lock is no store lock: the holder rule applies.
        let v = judge(Facts {
            mtime: ago(40),
            ..facts(&p, &owner, &[])
        });
        assert!(!v.stale && v.look_again, "{v:?}");
    }

    #[test]
    fn row_2026_1_to_2026_2_12_transcript_lock() {
        let owner = gateway();
        // Held open by its live owner, however old: kept.
        let p = payload(600, None, None);
        let w = [writer()];
        assert!(!judge(facts(&p, &owner, &w)).stale);
        // Its owner started after the lock was created: recycled.
        let young = Owner::Found(ProcFacts {
            started_at: Some(ago(10)),
            ..match gateway() {
                Owner::Found(f) => f,
                _ => unreachable!(),
            }
        });
        let v = judge(facts(&p, &young, &[]));
        assert_eq!((v.owner_state, v.stale), (OwnerState::Recycled, true));
        // Dead: stale at once (no owner can be in its release window).
        let v = judge(facts(&p, &Owner::Gone, &[]));
        assert_eq!((names(&v), v.stale), (vec!["dead-pid", "no-holder"], true));
    }

    #[test]
    fn row_2026_2_17_to_2026_2_x_store_lock_like_a_transcript_lock() {
        // The store lock is held open like a transcript lock: the holder rule.
        let p = payload(40, None, None);
        let owner = gateway();
        let w = [writer()];
        let v = judge(Facts {
            kind: LockKind::Store,
            ..facts(&p, &owner, &w)
        });
        assert!(!v.stale, "{v:?}");
        // The platform's failure: the lock's pid is now a thread of the new gateway.
        let thread = Owner::Found(ProcFacts {
            tgid: Some(1),
            ..match gateway() {
                Owner::Found(f) => f,
                _ => unreachable!(),
            }
        });
        let v = judge(facts(&p, &thread, &[]));
        assert_eq!((v.owner_state, v.stale), (OwnerState::Thread, true));
        assert_eq!(names(&v)[0], "dead-pid");
    }

    #[test]
    fn row_2026_3_2_to_2026_4_29_starttime() {
        let owner = gateway();
        let v = judge(facts(&payload(60, Some(499), None), &owner, &[]));
        assert_eq!((v.owner_state, v.stale), (OwnerState::Recycled, true));
        let w = [writer()];
        let v = judge(facts(&payload(60, Some(500), None), &owner, &w));
        assert_eq!((v.owner_state, v.stale), (OwnerState::Alive, false));
    }

    #[test]
    fn row_2026_5_2_to_2026_5_7_release_window() {
        // Released a few ms ago (closed, not yet deleted by path): nobody holds it, its owner
        // lives. One look is not enough: removing it now would let the by-path delete take a
        // waiter's new lock.
        let p = payload(600, Some(500), None);
        let owner = gateway();
        let first = judge(facts(&p, &owner, &[]));
        assert!(!first.stale && first.look_again, "{first:?}");
        assert_eq!(Status::of(Some(&first)), Status::Unheld);
        // Seen unheld again on the same file, too soon: still not.
        let soon = judge(Facts {
            unheld_since: Some(now() - TimeDelta::milliseconds(400)),
            ..facts(&p, &owner, &[])
        });
        assert!(!soon.stale && soon.look_again);
        // A second later, still there and still unheld: leaked.
        let v = judge(Facts {
            unheld_since: Some(now() - SECOND_LOOK),
            ..facts(&p, &owner, &[])
        });
        assert!(v.stale && !v.look_again, "{v:?}");
        assert_eq!(names(&v), vec!["no-holder", "leaked"]);
        // `scan` removes nothing: it says what one look shows.
        let scan = Policy {
            second_look: false,
            ..Policy::default()
        };
        let v = scan.judge(facts(&p, &owner, &[]));
        assert!(v.stale && !v.look_again, "{v:?}");
    }

    #[test]
    fn row_2026_5_12_to_2026_5_21_non_openclaw_owner() {
        let p = payload(60, Some(500), None);
        let owner = gateway();
        let at = |version: &'static str, cmdline: &'static [u8], holders: &'static [Holder]| {
            let v = Policy::default().judge(Facts {
                owner_cmdline: Some(cmdline),
                place: PlaceFacts {
                    version: Some(version),
                    sqlite: false,
                },
                unheld_since: Some(now() - SECOND_LOOK),
                ..facts(&p, &owner, holders)
            });
            (v.stale, names(&v).contains(&"non-openclaw-owner"))
        };
        assert_eq!(at("2026.5.12", b"sleep\x00600\x00", &[]), (true, true));
        // An OpenClaw owner, or an older gateway (it waits on such an owner): not that reason.
        assert!(!at("2026.5.12", b"openclaw-gateway\x00", &[]).1);
        assert!(!at("2026.5.7", b"sleep\x00600\x00", &[]).1);
        // Held open by a writer: kept whatever the owner is.
        static W: std::sync::LazyLock<[Holder; 1]> = std::sync::LazyLock::new(|| [writer()]);
        assert_eq!(at("2026.7.35", b"sleep\x00600\x00", &*W), (false, true));
    }

    #[test]
    fn row_2026_5_22_to_2026_5_27_max_hold_in_the_payload() {
        // The payload has maxHoldMs: age alone is report-only while its owner lives, even where
        // no holder check could be made.
        let p = payload(2400, Some(500), Some(3_600_000));
        let owner = gateway();
        let inc = Visibility::Incomplete("NFS".into());
        let v = judge(Facts {
            visibility: &inc,
            ..facts(&p, &owner, &[])
        });
        assert!(!v.stale, "{v:?}");
        assert_eq!(names(&v), vec!["too-old"]);
    }

    #[test]
    fn row_2026_5_28_to_2026_7_x_hold_exceeded_and_wedged() {
        let owner = gateway();
        let w = [writer()];
        // Held past its 5 min max hold: wedged, never removed, the fix named.
        let v = judge(facts(&payload(360, Some(500), Some(300_000)), &owner, &w));
        assert!(!v.stale && v.wedged);
        assert_eq!(names(&v), vec!["hold-exceeded", "wedged"]);
        assert!(v.note.unwrap().contains("docker restart zaki-user-1"));
        // A 1 h max hold, 40 min in: held, nothing to say.
        let v = judge(facts(
            &payload(2400, Some(500), Some(3_600_000)),
            &owner,
            &w,
        ));
        assert!(!v.stale && !v.wedged);
    }

    #[test]
    fn row_upgrade_2026_2_to_2026_7() {
        // A 2026.2 lock (no starttime) whose pid is a thread of the 2026.7.35 gateway.
        let p = payload(600, None, None);
        let thread = Owner::Found(ProcFacts {
            tgid: Some(1),
            ..match gateway() {
                Owner::Found(f) => f,
                _ => unreachable!(),
            }
        });
        let v = judge(Facts {
            place: PlaceFacts {
                version: Some("2026.7.35"),
                sqlite: false,
            },
            ..facts(&p, &thread, &[])
        });
        assert!(v.stale);
        assert!(v.note.unwrap().contains("left by an older OpenClaw"));
    }

    #[test]
    fn row_migration_2026_7_to_2026_9() {
        let p = payload(600, Some(500), None);
        let v = judge(Facts {
            place: PlaceFacts {
                version: Some("2026.9.6"),
                sqlite: true,
            },
            ..facts(&p, &Owner::Gone, &[])
        });
        assert!(v.stale);
        assert!(
            v.note
                .unwrap()
                .starts_with("leftover of the migration to SQLite")
        );
    }

    #[test]
    fn a_reader_is_not_a_holder() {
        // A live owner that has its own lock open, even read-only, holds it.
        let p = payload(600, Some(500), None);
        let owner = gateway();
        let own = [Holder {
            access: Access::Read,
            ..writer()
        }];
        let v = judge(Facts {
            held: true,
            ..facts(&p, &owner, &own)
        });
        assert!(!v.stale && !v.look_again, "{v:?}");
        // An empty lock (no pid: its creator is not named) open by someone, in any mode: held.
        let empty = Payload::default();
        let v = judge(Facts {
            held: true,
            mtime: ago(60),
            ..facts(&empty, &Owner::Gone, r_only())
        });
        assert!(!v.stale, "{v:?}");
        // A dead owner's lock open read-only (tail -f): stale, the reader named as such.
        let p = payload(7200, Some(500), None);
        let r = [reader()];
        let v = judge(Facts {
            held: true,
            ..facts(&p, &Owner::Gone, &r)
        });
        assert!(v.stale && !v.wedged, "{v:?}");
        assert!(
            v.note
                .unwrap()
                .contains("tail (pid 77, read-only): a reader")
        );
        // Readers only, but not every process could be named: held, as the kernel says.
        let v = judge(Facts {
            held: true,
            holders_all_named: false,
            ..facts(&p, &Owner::Gone, &r)
        });
        assert!(!v.stale, "{v:?}");
        // A writer beside the reader: held (wedged, it is 2 h old), the fix names the writer.
        let both = [reader(), writer()];
        let v = judge(Facts {
            held: true,
            ..facts(&p, &Owner::Gone, &both)
        });
        assert!(!v.stale && v.wedged);
        assert!(v.note.unwrap().contains("docker restart zaki-user-1"));
    }

    #[test]
    fn a_refused_holder_check_keeps_the_lock_and_says_so() {
        // No CAP_LEASE: a live owner's 2 h old lock is not removed for its age.
        let p = payload(7200, Some(500), None);
        let owner = gateway();
        let refused = Visibility::Refused("needs CAP_LEASE".into());
        let v = judge(Facts {
            visibility: &refused,
            holders_all_named: false,
            ..facts(&p, &owner, &[])
        });
        assert!(!v.stale, "{v:?}");
        assert_eq!(v.evidence_missing.as_deref(), Some("needs CAP_LEASE"));
        // Even a dead owner's: the check that would say who else has it open was refused.
        let v = judge(Facts {
            visibility: &refused,
            ..facts(&p, &Owner::Gone, &[])
        });
        assert!(!v.stale && v.evidence_missing.is_some());
    }
}
