//! The SQLite era's decisions (OpenClaw 2026.8+), pure: a place's era, whether its gateway
//! lives, and each turn claim's state. A claim left behind while the gateway lives blocks the
//! session (every message HTTP 500, `ActiveTurnClaimError`) until the gateway restarts, which
//! clears claims at start-up (openclaw/openclaw#146692).

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use serde::Serialize;

use crate::judge::lock::{Facts, OwnerState, PlaceFacts, Policy};
use crate::model::claims::{Claim, LeaseRow, NodeRow, PlaceReading, Turns, text};
use crate::model::holder::Visibility;
use crate::model::names::named;
use crate::model::payload::{LockKind, Payload};
use crate::model::place::{Location, PidView};
use crate::model::process::Owner;

named! {
    /// How a state dir keeps its sessions (the short word shown in tables and metrics).
    pub enum Era {
        /// `agents/*/sessions/` with lock files (OpenClaw up to 2026.7).
        LockFile => "lock-file",
        /// SQLite databases (OpenClaw 2026.8 and later).
        Sqlite => "sqlite",
        /// Neither was found (a fresh or empty state dir).
        Unknown => "unknown",
    }
}

named! {
    /// Why a claim is an orphan (several may hold).
    pub enum OrphanReason {
        /// The session node is not `running`.
        NoRunningTurn => "no-running-turn",
        /// The session runs, but under another run id than the claim's.
        RunIdMismatch => "run-id-mismatch",
        /// The gateway that owns the claims is not running.
        GatewayGone => "gateway-gone",
    }
}

named! {
    /// A way OpenClaw 2026.8–2026.9 leaves a user's session stuck, as upstream reported it and
    /// as it was reproduced on a real 2026.9.6 gateway (README, "Stuck shapes").
    pub enum Shape {
        /// A turn claim no running turn backs, in a live gateway.
        OrphanClaim => "orphan-claim":
            "a turn claim no running turn backs: every message 500 until the gateway restarts (openclaw/openclaw#146692)",
        /// The same on a session killed or aborted (`status` killed/timeout or
        /// `abortedLastRun`), until its next message makes 2026.9.6 mark it `failed`.
        KilledSessionClaim => "killed-session-claim":
            "a turn claim left on a killed or aborted session: every message 500 until the gateway restarts (openclaw/openclaw#125555)",
        /// `status=running`, `abortedLastRun=false`, a stale `restartRecoveryDeliveryRunId`,
        /// no claim: start-up skips it (reported on 2026.9.1).
        RecoveryWedge => "recovery-wedge":
            "a session left running by restart recovery (stale restartRecoveryDeliveryRunId): start-up skips it before 2026.9.6 (openclaw/openclaw#140467)",
    }
}

impl Shape {
    /// The upstream issue that reports it.
    pub fn issue(self) -> &'static str {
        match self {
            Shape::OrphanClaim => "openclaw/openclaw#146692",
            Shape::KilledSessionClaim => "openclaw/openclaw#125555",
            Shape::RecoveryWedge => "openclaw/openclaw#140467",
        }
    }

    /// Whether restarting the gateway clears it: its start-up clears every turn claim
    /// (measured on 2026.9.6), but skips a recovery wedge (#140467).
    pub fn restart_clears(self) -> bool {
        self != Shape::RecoveryWedge
    }

    /// The command that fixes it in `container` (empty: a host gateway).
    pub fn fix(self, container: &str) -> String {
        match (self.restart_clears(), container.is_empty()) {
            (true, false) => format!("zaki-locks clean --restart-orphaned --container {container}"),
            (true, true) => "restart the host's gateway (it clears claims at start-up)".into(),
            (false, false) => format!(
                "docker stop {container}, run `openclaw doctor --session-sqlite recover --session-sqlite-all-agents` on its state dir with the gateway stopped, docker start {container}"
            ),
            (false, true) => "stop the host's gateway, run `openclaw doctor --session-sqlite recover --session-sqlite-all-agents`, start it".into(),
        }
    }
}

/// A session left running with no claim is a recovery wedge only once it has been so for this
/// long: restart recovery delivers a run with the same fields while it works.
pub const WEDGE_AFTER: TimeDelta = TimeDelta::minutes(10);

/// The first release whose start-up and next message clear a recovery wedge (measured: the
/// shape written into 2026.9.6's database before a start answers 200, the node `done`).
pub const WEDGE_CLEARED_SINCE: crate::model::release::Release = (2026, 9, 6);

/// What a session's turn state came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TurnState {
    /// No claim, nothing running.
    Idle,
    /// A turn in flight with its claim: nothing to fix.
    Running,
    /// A claim too fresh to judge, or one that changed while it was read.
    Claimed,
    /// A claim no running turn backs: the session is blocked until the gateway restarts.
    Orphan,
    /// No claim, but a stuck shape a restart does not clear (a recovery wedge, #140467).
    Stuck,
}

/// Whether the gateway owning a place's claims runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Liveness {
    Alive,
    Gone,
    Unknown,
}

/// Everything [`turn`] looks at for one session.
#[derive(Debug, Clone, Copy)]
pub struct ClaimFacts<'a> {
    /// `(claim id, run id)`, as read before the session nodes.
    pub claim: Option<(&'a str, &'a str)>,
    /// The same claim id was still there when the placements were read again afterwards.
    pub claim_stable: bool,
    /// When the placement was last updated (the claim's age, at most).
    pub claim_age: TimeDelta,
    pub node_status: Option<&'a str>,
    pub active_writer: Option<&'a str>,
    pub gateway: Liveness,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClaimVerdict {
    pub state: TurnState,
    pub reasons: Vec<OrphanReason>,
    pub note: Option<String>,
}

/// A claim younger than this is not judged: OpenClaw writes the claim ~0.2 s before it marks
/// the session running (measured on 2026.9.6).
pub const CLAIM_GRACE: TimeDelta = TimeDelta::seconds(15);

/// The one decision about a turn claim. Pure.
pub fn turn(f: ClaimFacts<'_>) -> ClaimVerdict {
    let running = f.node_status == Some("running");
    let Some((_, run_id)) = f.claim else {
        return ClaimVerdict {
            state: if running {
                TurnState::Running
            } else {
                TurnState::Idle
            },
            reasons: Vec::new(),
            note: None,
        };
    };
    let mut reasons = Vec::new();
    if !running {
        reasons.push(OrphanReason::NoRunningTurn);
    } else if f.active_writer != Some(run_id) {
        reasons.push(OrphanReason::RunIdMismatch);
    }
    if f.gateway == Liveness::Gone {
        reasons.push(OrphanReason::GatewayGone);
    }
    if reasons.is_empty() {
        return ClaimVerdict {
            state: TurnState::Running,
            reasons,
            note: None,
        };
    }
    let hold = |note: String| ClaimVerdict {
        state: TurnState::Claimed,
        reasons: Vec::new(),
        note: Some(note),
    };
    if !f.claim_stable {
        return hold("the claim changed while it was read: judged again on the next run".into());
    }
    // A dead gateway's claim is an orphan at once; a live one's may be a turn starting.
    if f.gateway != Liveness::Gone && f.claim_age < CLAIM_GRACE {
        return hold(format!(
            "claimed {} ago: a turn may be starting",
            crate::model::units::short_duration(f.claim_age)
        ));
    }
    let note = match (f.gateway, reasons.first()) {
        (Liveness::Gone, _) => "gateway not running: its next start clears the claim",
        (_, Some(OrphanReason::RunIdMismatch)) => {
            "another run writes: messages fail until the gateway restarts"
        }
        _ => "messages fail until the gateway restarts",
    };
    ClaimVerdict {
        state: TurnState::Orphan,
        reasons,
        note: Some(note.into()),
    }
}

/// One session of a SQLite-era place, as reported.
#[derive(Debug, Clone, Serialize)]
pub struct SessionTurn {
    pub agent: String,
    pub session_key: String,
    pub session_id: Option<String>,
    /// `session_nodes.status` (`running`, `done`, …).
    pub status: Option<String>,
    pub active_writer_run_id: Option<String>,
    /// Seconds since the session node was last updated (the running turn's age, at most).
    pub turn_age_seconds: Option<i64>,
    pub claim: Option<Claim>,
    pub claim_age_seconds: Option<i64>,
    pub state: TurnState,
    pub reasons: Vec<OrphanReason>,
    pub note: Option<String>,
    /// The stuck shape it is, when it blocks the user (null: it does not).
    pub shape: Option<Shape>,
    /// That shape's upstream issue.
    pub issue: Option<&'static str>,
}

/// The gateway-owner lease of a place (`state_leases`, scope `gateway-owner`).
#[derive(Debug, Clone, Serialize)]
pub struct GatewayLease {
    pub pid: Option<u64>,
    /// `/proc/<pid>/stat` field 22 of the owner when it took the lease.
    pub starttime: Option<u64>,
    pub heartbeat_age_seconds: Option<i64>,
    pub expired: bool,
    pub owner_state: OwnerState,
    pub liveness: Liveness,
    /// Whether the owner's command line names OpenClaw (null: not read).
    pub openclaw: Option<bool>,
}

/// A place's SQLite facts, as the JSON report's `places[]` lists them.
#[derive(Debug, Clone, Serialize)]
pub struct PlaceDb {
    pub location: Location,
    /// The state dir where it is seen (inside the container for a container's).
    pub state_dir: String,
    pub era: Era,
    /// `schema_meta.app_version` of the state database: the OpenClaw that last migrated it.
    pub version: Option<String>,
    /// `agents/*/sessions/` dirs found beside the databases (a migrated 2026.7 state dir).
    pub leftover_sessions_dirs: usize,
    pub gateway: Option<GatewayLease>,
    /// Boots recorded without an outcome, other than the running one: unclean shutdowns.
    pub unclean_boots: usize,
    pub sessions: Vec<SessionTurn>,
    /// Why the databases could not be read, when they could not.
    pub error: Option<String>,
    /// The kind of that error, as the metrics count it.
    pub error_reason: Option<crate::model::claims::PlaceErrorReason>,
}

impl PlaceDb {
    pub fn orphans(&self) -> impl Iterator<Item = &SessionTurn> {
        self.sessions
            .iter()
            .filter(|s| s.state == TurnState::Orphan)
    }

    pub fn running(&self) -> usize {
        self.sessions
            .iter()
            .filter(|s| s.state == TurnState::Running)
            .count()
    }
}

/// A place's SQLite-era verdict from what was read of it.
pub fn place(r: PlaceReading, now: DateTime<Utc>) -> PlaceDb {
    let era = era_of(r.session_dbs, r.sessions_dirs);
    let gateway_lease = r.lease.as_ref().map(|(row, owner)| {
        let openclaw =
            (r.lease_cmdline.as_deref()).and_then(crate::judge::version::cmdline_is_openclaw);
        gateway_lease(&r.pids, row, owner, openclaw, now)
    });
    let gateway = gateway_liveness(&r.pids, gateway_lease.as_ref());
    let lease_pid = gateway_lease.as_ref().and_then(|g| g.pid);
    let wedge = wedge_possible(r.version.as_deref());
    PlaceDb {
        location: r.location,
        state_dir: r.state_dir,
        era,
        version: r.version,
        leftover_sessions_dirs: if era == Era::Sqlite {
            r.sessions_dirs
        } else {
            0
        },
        unclean_boots: if r.turns.is_some() {
            unclean_boots(gateway, lease_pid, &r.open_boots)
        } else {
            0
        },
        gateway: gateway_lease,
        sessions: r
            .turns
            .as_ref()
            .map_or_else(Vec::new, |t| sessions(t, gateway, wedge, now)),
        error_reason: r.error.as_ref().map(|e| e.reason),
        error: r.error.map(|e| e.message),
    }
}

/// The lease owner judged by the same owner logic as a lock's (pid, starttime, threads).
fn gateway_lease(
    pids: &PidView,
    row: &LeaseRow,
    owner: &Owner,
    openclaw: Option<bool>,
    now: DateTime<Utc>,
) -> GatewayLease {
    let &(pid, starttime, heartbeat, expires, created) = row;
    let payload = Payload {
        pid,
        created_at: created.and_then(ms),
        starttime,
        ..Default::default()
    };
    let v = Policy {
        // Age alone never makes a gateway gone.
        stale_after: TimeDelta::days(36500),
        ..Policy::default()
    }
    .judge(Facts {
        payload: &payload,
        kind: LockKind::Transcript,
        mtime: now,
        owner,
        owner_cmdline: None,
        now,
        // A lease is a row, not a file: nobody holds it open, and that is no evidence.
        holders: &[],
        held: false,
        holders_all_named: false,
        visibility: &Visibility::Incomplete("a lease row, not a file".into()),
        unheld_since: None,
        place: PlaceFacts::default(),
    });
    let liveness = match (pids, v.owner_state) {
        (PidView::NoProcesses(_), _) => Liveness::Gone,
        (_, OwnerState::Alive) => Liveness::Alive,
        (_, OwnerState::Unknown) => Liveness::Unknown,
        _ => Liveness::Gone,
    };
    GatewayLease {
        pid,
        starttime,
        heartbeat_age_seconds: age(now, heartbeat).map(|a| a.num_seconds()),
        expired: expires.and_then(ms).is_some_and(|e| e < now),
        owner_state: v.owner_state,
        liveness,
        openclaw,
    }
}

/// Whether a recovery wedge can still block under the gateway that last migrated the
/// databases: before 2026.9.6, or when the release is not known. Pure.
fn wedge_possible(version: Option<&str>) -> bool {
    version
        .and_then(crate::model::release::parse_version)
        .is_none_or(|v| v < WEDGE_CLEARED_SINCE)
}

/// The stuck shape of a claim as judged: an orphan in a gateway that may live (a gone
/// gateway's next start clears it), told apart by its session node. Pure.
fn claim_shape(state: TurnState, gateway: Liveness, node: Option<&NodeRow>) -> Option<Shape> {
    if state != TurnState::Orphan || gateway == Liveness::Gone {
        return None;
    }
    // Not `failed`: 2026.9.6 marks any session `failed` once a claim has made a message fail
    // (and clears `abortedLastRun`), so after the user's next message a killed session's claim
    // looks like any orphan claim (measured); the fix is the same.
    let killed = node.is_some_and(|n| {
        matches!(n.2.as_deref(), Some("killed" | "timeout")) || n.5.aborted_last_run == Some(true)
    });
    Some(if killed {
        Shape::KilledSessionClaim
    } else {
        Shape::OrphanClaim
    })
}

/// Whether a running session node no claim names is a recovery wedge (#140467): not aborted,
/// a restart-recovery delivery run named, untouched for [`WEDGE_AFTER`]. Pure.
fn recovery_wedge(n: &NodeRow, possible: bool, now: DateTime<Utc>) -> bool {
    possible
        && n.2.as_deref() == Some("running")
        && n.5.aborted_last_run == Some(false)
        && n.5.recovery_delivery_run_id.is_some()
        && age(now, n.4).is_some_and(|a| a >= WEDGE_AFTER)
}

/// A place's era from what its directories hold. Pure.
fn era_of(sqlite: bool, sessions_dirs: usize) -> Era {
    match (sqlite, sessions_dirs) {
        (true, _) => Era::Sqlite,
        (false, 0) => Era::Unknown,
        (false, _) => Era::LockFile,
    }
}

/// Whether the gateway that owns a place's claims runs: a container with no processes has
/// none; otherwise its lease owner says. Pure.
fn gateway_liveness(pids: &PidView, lease: Option<&GatewayLease>) -> Liveness {
    match (pids, lease) {
        (PidView::NoProcesses(_), _) => Liveness::Gone,
        (_, Some(g)) => g.liveness,
        (_, None) => Liveness::Unknown,
    }
}

/// Boots without an outcome (newest first) that ended uncleanly: all but the running
/// gateway's own, which has no outcome yet. Pure.
fn unclean_boots(gateway: Liveness, lease_pid: Option<u64>, boots: &[(Option<i64>, i64)]) -> usize {
    let current = gateway == Liveness::Alive
        && boots
            .first()
            .is_some_and(|(pid, _)| lease_pid == pid.and_then(|p| u64::try_from(p).ok()));
    boots.len() - usize::from(current)
}

fn ms(t: i64) -> Option<DateTime<Utc>> {
    Utc.timestamp_millis_opt(t).single()
}

fn age(now: DateTime<Utc>, t: Option<i64>) -> Option<TimeDelta> {
    t.and_then(ms).map(|t| (now - t).max(TimeDelta::zero()))
}

/// Every session worth a line: each claim judged against its session node, then the running
/// turns no claim names; sorted by agent and key, every text bounded. Pure.
fn sessions(t: &Turns, gateway: Liveness, wedge: bool, now: DateTime<Utc>) -> Vec<SessionTurn> {
    let mut out = Vec::new();
    let mut claimed: std::collections::HashSet<(&str, &str)> = Default::default();
    for (sid, agent, key, claim, updated) in &t.before {
        let Some(claim) = claim else { continue };
        let stable = t
            .after
            .iter()
            .any(|(s, _, _, c, _)| s == sid && c.as_ref().is_some_and(|c2| c2.id == claim.id));
        let node = t
            .nodes
            .iter()
            .find(|(a, _)| a == agent)
            .and_then(|(_, rows)| rows.iter().find(|r| &r.0 == key));
        let v = turn(ClaimFacts {
            claim: Some((&claim.id, &claim.run_id)),
            claim_stable: stable,
            claim_age: age(now, *updated).unwrap_or(TimeDelta::MAX),
            node_status: node.and_then(|n| n.2.as_deref()),
            active_writer: node.and_then(|n| n.3.as_deref()),
            gateway,
        });
        claimed.insert((agent, key));
        let shape = claim_shape(v.state, gateway, node);
        out.push(SessionTurn {
            agent: agent.clone(),
            session_key: key.clone(),
            session_id: Some(sid.clone()),
            status: node.and_then(|n| n.2.clone()),
            active_writer_run_id: node.and_then(|n| n.3.clone()),
            turn_age_seconds: node.and_then(|n| age(now, n.4)).map(|a| a.num_seconds()),
            claim: Some(claim.clone()),
            claim_age_seconds: age(now, *updated).map(|a| a.num_seconds()),
            state: v.state,
            reasons: v.reasons,
            note: v.note,
            shape,
            issue: shape.map(Shape::issue),
        });
    }
    for (agent, rows) in &t.nodes {
        for n in rows {
            if claimed.contains(&(agent.as_str(), n.0.as_str())) {
                continue;
            }
            out.push(unclaimed(agent, n, gateway, wedge, now));
        }
    }
    out.sort_by(|a, b| (&a.agent, &a.session_key).cmp(&(&b.agent, &b.session_key)));
    out.into_iter().map(bounded).collect()
}

/// A running session node no claim names.
fn unclaimed(
    agent: &str,
    n: &NodeRow,
    gateway: Liveness,
    wedge: bool,
    now: DateTime<Utc>,
) -> SessionTurn {
    let mut v = turn(ClaimFacts {
        claim: None,
        claim_stable: true,
        claim_age: TimeDelta::zero(),
        node_status: n.2.as_deref(),
        active_writer: n.3.as_deref(),
        gateway,
    });
    let shape = recovery_wedge(n, wedge, now).then_some(Shape::RecoveryWedge);
    if shape.is_some() {
        v.state = TurnState::Stuck;
        v.note = Some(
            "left running by restart recovery: start-up skips it, /new and /reset cannot clear it"
                .into(),
        );
    }
    SessionTurn {
        agent: agent.to_owned(),
        session_key: n.0.clone(),
        session_id: n.1.clone(),
        status: n.2.clone(),
        active_writer_run_id: n.3.clone(),
        turn_age_seconds: age(now, n.4).map(|a| a.num_seconds()),
        claim: None,
        claim_age_seconds: None,
        state: v.state,
        reasons: v.reasons,
        note: v.note,
        shape,
        issue: shape.map(Shape::issue),
    }
}

/// Every text a database gave, bounded and inert (see [`text`]).
fn bounded(mut t: SessionTurn) -> SessionTurn {
    let opt = |o: Option<String>| o.map(text);
    t.agent = text(t.agent);
    t.session_key = text(t.session_key);
    t.session_id = opt(t.session_id);
    t.status = opt(t.status);
    t.active_writer_run_id = opt(t.active_writer_run_id);
    if let Some(c) = &mut t.claim {
        c.owner = text(std::mem::take(&mut c.owner));
        c.id = text(std::mem::take(&mut c.id));
        c.run_id = text(std::mem::take(&mut c.run_id));
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::claims::ClaimRow;

    fn facts<'a>(
        claim: Option<(&'a str, &'a str)>,
        status: Option<&'a str>,
        writer: Option<&'a str>,
        gateway: Liveness,
    ) -> ClaimFacts<'a> {
        ClaimFacts {
            claim,
            claim_stable: true,
            claim_age: TimeDelta::minutes(2),
            node_status: status,
            active_writer: writer,
            gateway,
        }
    }

    #[test]
    fn a_reply_in_flight_is_running() {
        let v = turn(facts(
            Some(("c1", "run1")),
            Some("running"),
            Some("run1"),
            Liveness::Alive,
        ));
        assert_eq!(v.state, TurnState::Running);
        assert!(v.reasons.is_empty());
    }

    #[test]
    fn no_claim_is_idle_or_running() {
        let v = turn(facts(None, Some("done"), Some("r"), Liveness::Alive));
        assert_eq!(v.state, TurnState::Idle);
        let v = turn(facts(None, Some("running"), Some("r"), Liveness::Gone));
        assert_eq!(v.state, TurnState::Running);
    }

    #[test]
    fn orphans() {
        let v = turn(facts(
            Some(("c1", "run1")),
            Some("done"),
            Some("run0"),
            Liveness::Alive,
        ));
        assert_eq!(
            (v.state, v.reasons.as_slice()),
            (TurnState::Orphan, &[OrphanReason::NoRunningTurn][..])
        );
        let v = turn(facts(Some(("c1", "run1")), None, None, Liveness::Unknown));
        assert_eq!(v.state, TurnState::Orphan, "no session node at all");
        let v = turn(facts(
            Some(("c1", "run1")),
            Some("running"),
            Some("run2"),
            Liveness::Alive,
        ));
        assert_eq!(
            (v.state, v.reasons.as_slice()),
            (TurnState::Orphan, &[OrphanReason::RunIdMismatch][..])
        );
        let v = turn(facts(
            Some(("c1", "run1")),
            Some("running"),
            Some("run1"),
            Liveness::Gone,
        ));
        assert_eq!(
            (v.state, v.reasons.as_slice()),
            (TurnState::Orphan, &[OrphanReason::GatewayGone][..])
        );
        assert!(v.note.unwrap().contains("next start"));
    }

    fn claim_row(sid: &str, key: &str, id: &str, run: &str, updated: i64) -> ClaimRow {
        let claim = Claim {
            owner: "local".into(),
            id: id.into(),
            run_id: run.into(),
            generation: Some(1),
        };
        (
            sid.into(),
            "main".into(),
            key.into(),
            Some(claim),
            Some(updated),
        )
    }

    fn node(key: &str, status: &str, writer: Option<&str>) -> NodeRow {
        (
            key.into(),
            Some(format!("{key}-sid")),
            Some(status.into()),
            writer.map(str::to_owned),
            Some(0),
            Default::default(),
        )
    }

    #[test]
    fn sessions_judge_each_claim_against_its_node() {
        let now = Utc.timestamp_millis_opt(600_000).unwrap();
        let turns = Turns {
            before: vec![
                claim_row("s2", "k2", "c2", "run2", 0),
                claim_row("s1", "k1", "c1", "run1", 0),
                claim_row("s3", "k3", "c3", "run3", 0),
            ],
            nodes: vec![(
                "main".into(),
                vec![
                    node("k1", "running", Some("run1")),
                    node("k2", "done", None),
                    node("k4", "running", Some("run4")),
                    node("k\x1b[31m", "running", None),
                ],
            )],
            // c3 was replaced while the nodes were read.
            after: vec![
                claim_row("s1", "k1", "c1", "run1", 0),
                claim_row("s2", "k2", "c2", "run2", 0),
                claim_row("s3", "k3", "c3b", "run3b", 0),
            ],
        };
        let out = sessions(&turns, Liveness::Alive, true, now);
        let got: Vec<(&str, TurnState)> = out
            .iter()
            .map(|t| (t.session_key.as_str(), t.state))
            .collect();
        assert_eq!(
            got,
            [
                // Sorted by the raw key (ESC before '1'), then made inert.
                ("k\u{fffd}[31m", TurnState::Running),
                ("k1", TurnState::Running),
                ("k2", TurnState::Orphan),
                ("k3", TurnState::Claimed),
                ("k4", TurnState::Running),
            ]
        );
        assert_eq!(out[2].reasons, [OrphanReason::NoRunningTurn]);
        assert_eq!(out[2].claim_age_seconds, Some(600));
        assert_eq!(out[4].claim, None);
        assert_eq!(out[4].session_id.as_deref(), Some("k4-sid"));
        assert!(
            out[3]
                .note
                .as_deref()
                .unwrap()
                .contains("changed while it was read")
        );
        // No database for the claim's agent: no node, an orphan.
        let lone = Turns {
            before: vec![claim_row("s1", "k1", "c1", "run1", 0)],
            nodes: Vec::new(),
            after: vec![claim_row("s1", "k1", "c1", "run1", 0)],
        };
        let out = sessions(&lone, Liveness::Unknown, true, now);
        assert_eq!((out.len(), out[0].state), (1, TurnState::Orphan));
        assert_eq!(out[0].status, None);
    }

    #[test]
    fn boots_and_gateway() {
        let boots = [(Some(7), 2_000), (Some(5), 1_000)];
        assert_eq!(unclean_boots(Liveness::Alive, Some(7), &boots), 1);
        assert_eq!(unclean_boots(Liveness::Alive, Some(5), &boots), 2);
        assert_eq!(unclean_boots(Liveness::Gone, Some(7), &boots), 2);
        assert_eq!(unclean_boots(Liveness::Alive, None, &[]), 0);
        assert_eq!(unclean_boots(Liveness::Alive, None, &[(None, 1)]), 0);
        let lease = GatewayLease {
            pid: Some(7),
            starttime: None,
            heartbeat_age_seconds: None,
            expired: false,
            owner_state: OwnerState::Alive,
            liveness: Liveness::Alive,
            openclaw: Some(true),
        };
        let stopped = PidView::NoProcesses("stopped".into());
        assert_eq!(gateway_liveness(&stopped, Some(&lease)), Liveness::Gone);
        assert_eq!(
            gateway_liveness(&PidView::Local, Some(&lease)),
            Liveness::Alive
        );
        assert_eq!(gateway_liveness(&PidView::Local, None), Liveness::Unknown);
    }

    #[test]
    fn shapes_from_the_claim_and_its_node() {
        let mut n = node("k", "done", None);
        let shape = |n: &NodeRow, g| claim_shape(TurnState::Orphan, g, Some(n));
        assert_eq!(shape(&n, Liveness::Alive), Some(Shape::OrphanClaim));
        assert_eq!(shape(&n, Liveness::Unknown), Some(Shape::OrphanClaim));
        // A gone gateway's next start clears it: nothing stuck while it is down.
        assert_eq!(shape(&n, Liveness::Gone), None);
        assert_eq!(
            claim_shape(TurnState::Claimed, Liveness::Alive, Some(&n)),
            None
        );
        n.5.aborted_last_run = Some(true);
        assert_eq!(shape(&n, Liveness::Alive), Some(Shape::KilledSessionClaim));
        let n = node("k", "killed", None);
        assert_eq!(shape(&n, Liveness::Alive), Some(Shape::KilledSessionClaim));
        // What 2026.9.6 leaves after a message failed on a claim: any orphan claim.
        let n = node("k", "failed", None);
        assert_eq!(shape(&n, Liveness::Alive), Some(Shape::OrphanClaim));
        assert_eq!(
            claim_shape(TurnState::Orphan, Liveness::Alive, None),
            Some(Shape::OrphanClaim)
        );
    }

    #[test]
    fn a_recovery_wedge_only_where_it_can_still_block() {
        let now = Utc.timestamp_millis_opt(3_600_000).unwrap();
        let mut n = node("k", "running", Some("r1"));
        n.5 = crate::model::claims::NodeEntry {
            aborted_last_run: Some(false),
            recovery_delivery_run_id: Some("r1".into()),
        };
        assert!(recovery_wedge(&n, true, now));
        assert!(!recovery_wedge(&n, false, now), "2026.9.6 clears it");
        let young = Utc.timestamp_millis_opt(60_000).unwrap();
        assert!(!recovery_wedge(&n, true, young), "a delivery at work");
        let mut aborted = n.clone();
        aborted.5.aborted_last_run = Some(true);
        assert!(!recovery_wedge(&aborted, true, now));
        let mut plain = n.clone();
        plain.5.recovery_delivery_run_id = None;
        assert!(!recovery_wedge(&plain, true, now));
        assert!(wedge_possible(Some("2026.9.1")));
        assert!(wedge_possible(None));
        assert!(!wedge_possible(Some("2026.9.6")));
        let t = unclaimed("main", &n, Liveness::Alive, true, now);
        assert_eq!(
            (t.state, t.shape),
            (TurnState::Stuck, Some(Shape::RecoveryWedge))
        );
        assert_eq!(t.issue, Some("openclaw/openclaw#140467"));
        assert!(Shape::RecoveryWedge.fix("c").contains("docker stop c"));
    }

    #[test]
    fn eras() {
        assert_eq!(era_of(true, 2), Era::Sqlite);
        assert_eq!(era_of(false, 0), Era::Unknown);
        assert_eq!(era_of(false, 1), Era::LockFile);
    }

    #[test]
    fn database_text_is_bounded_and_inert() {
        assert_eq!(text("run\x1b[31m\n1".into()), "run\u{fffd}[31m\u{fffd}1");
        assert_eq!(text("x".repeat(500)).len(), 200);
    }

    #[test]
    fn fresh_or_moving_claims_wait() {
        let mut f = facts(Some(("c1", "run1")), Some("done"), None, Liveness::Alive);
        f.claim_age = TimeDelta::seconds(1);
        let v = turn(f);
        assert_eq!(v.state, TurnState::Claimed);
        assert!(v.note.unwrap().contains("starting"));
        // A dead gateway's fresh claim cannot be a turn starting.
        f.gateway = Liveness::Gone;
        assert_eq!(turn(f).state, TurnState::Orphan);
        let mut f = facts(Some(("c1", "run1")), Some("done"), None, Liveness::Alive);
        f.claim_stable = false;
        assert_eq!(turn(f).state, TurnState::Claimed);
        // Exactly the grace is judged.
        f.claim_stable = true;
        f.claim_age = CLAIM_GRACE;
        assert_eq!(turn(f).state, TurnState::Orphan);
    }
}
