//! The few rows read from the SQLite era's databases (in the confined reader, from copies).

use crate::model::claims::{Claim, ClaimRow, LeaseRow, NodeEntry, NodeRow};

/// Most session rows read per database.
const MAX_ROWS: i64 = 100_000;

/// The names OpenClaw keeps rows under that are something else than a table here (a view over
/// an endless query, say): the tenant's, never queried.
pub(super) fn not_tables(c: &rusqlite::Connection) -> rusqlite::Result<Vec<String>> {
    let mut st = c.prepare(
        "SELECT name FROM sqlite_master WHERE type != 'table' AND name IN
         ('schema_meta', 'worker_session_placements', 'state_leases', 'gateway_boot_lifecycle',
          'session_nodes') LIMIT 5",
    )?;
    st.query_map([], |r| r.get(0))?.collect()
}

/// Whether the database has the SQLite era's placements table.
pub(super) fn has_placements(c: &rusqlite::Connection) -> bool {
    c.query_row(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'worker_session_placements'",
        [],
        |_| Ok(()),
    )
    .is_ok()
}

pub(super) fn read_claims(c: &rusqlite::Connection) -> rusqlite::Result<Vec<ClaimRow>> {
    let mut st = c.prepare(
        "SELECT session_id, agent_id, session_key, turn_claim_owner, turn_claim_id,
                turn_claim_run_id, turn_claim_generation, updated_at_ms
         FROM worker_session_placements WHERE turn_claim_id IS NOT NULL LIMIT ?1",
    )?;
    st.query_map([MAX_ROWS], |r| {
        let claim = match (
            r.get::<_, Option<String>>(4)?,
            r.get::<_, Option<String>>(5)?,
        ) {
            (Some(id), Some(run_id)) => Some(Claim {
                owner: r.get::<_, Option<String>>(3)?.unwrap_or_default(),
                id,
                run_id,
                generation: r.get(6)?,
            }),
            _ => None,
        };
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, claim, r.get(7)?))
    })?
    .collect()
}

pub(super) fn read_nodes(c: &rusqlite::Connection) -> rusqlite::Result<Vec<NodeRow>> {
    // Only what can matter: running sessions, and those a claim names (read by key below).
    let mut st = c.prepare(&format!(
        "SELECT {NODE_COLUMNS} FROM session_nodes WHERE status = 'running' LIMIT ?1"
    ))?;
    st.query_map([MAX_ROWS], node_row)?.collect()
}

/// What is read of a session node: its columns and the few `entry_json` fields the stuck
/// shapes are told by (a malformed entry gives none of them).
const NODE_COLUMNS: &str = "session_key, current_session_id, status,
    CASE WHEN json_valid(entry_json) THEN json_extract(entry_json, '$.activeWriterRunId') END,
    updated_at,
    CASE WHEN json_valid(entry_json) THEN json_extract(entry_json, '$.abortedLastRun') END,
    CASE WHEN json_valid(entry_json)
         THEN json_extract(entry_json, '$.restartRecoveryDeliveryRunId') END";

/// One `session_nodes` row as [`NODE_COLUMNS`] selects it (a field of the wrong type: none).
fn node_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<NodeRow> {
    let entry = NodeEntry {
        // JSON true/false come out of json_extract as 1/0.
        aborted_last_run: r.get::<_, Option<i64>>(5).unwrap_or(None).map(|b| b != 0),
        recovery_delivery_run_id: r.get::<_, Option<String>>(6).unwrap_or(None),
    };
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get::<_, Option<String>>(3).unwrap_or(None),
        r.get(4)?,
        entry,
    ))
}

pub(super) fn read_node(c: &rusqlite::Connection, key: &str) -> rusqlite::Result<Option<NodeRow>> {
    let mut st = c.prepare(&format!(
        "SELECT {NODE_COLUMNS} FROM session_nodes WHERE session_key = ?1"
    ))?;
    let mut rows = st.query_map([key], node_row)?;
    rows.next().transpose()
}

pub(super) fn read_lease(c: &rusqlite::Connection) -> rusqlite::Result<Option<LeaseRow>> {
    let mut st = c.prepare(
        "SELECT CASE WHEN json_valid(payload_json)
                     THEN json_extract(payload_json, '$.owner.pid') END,
                CASE WHEN json_valid(payload_json)
                     THEN json_extract(payload_json, '$.owner.startedAt') END,
                heartbeat_at, expires_at, created_at
         FROM state_leases WHERE scope = 'gateway-owner' ORDER BY updated_at DESC LIMIT 1",
    )?;
    let mut rows = st.query_map([], |r| {
        let num = |i: usize| -> rusqlite::Result<Option<u64>> {
            Ok(r.get::<_, Option<i64>>(i)
                .unwrap_or(None)
                .and_then(|n| u64::try_from(n).ok()))
        };
        Ok((num(0)?, num(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
    })?;
    rows.next().transpose()
}

/// Boots without an outcome, as (pid, started_at ms), newest first.
pub(super) fn read_open_boots(
    c: &rusqlite::Connection,
) -> rusqlite::Result<Vec<(Option<i64>, i64)>> {
    let mut st = c.prepare(
        "SELECT pid, started_at_ms FROM gateway_boot_lifecycle
         WHERE outcome IS NULL ORDER BY started_at_ms DESC LIMIT 1000",
    )?;
    st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect()
}

pub(super) fn read_version(c: &rusqlite::Connection) -> Option<String> {
    c.query_row(
        "SELECT app_version FROM schema_meta WHERE meta_key = 'primary'",
        [],
        |r| r.get::<_, Option<String>>(0),
    )
    .ok()
    .flatten()
    .map(|v| v.chars().take(40).collect())
}
