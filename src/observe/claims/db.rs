//! The SQLite era's databases, opened read-only without following a symlink and without
//! writing a byte, and the few rows read from them.

use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::fcntl::open;
use nix::sys::stat::{Mode, fstat};

use super::Error;
use super::layout::{DIR, regular};
use crate::model::claims::{Claim, ClaimRow, LeaseRow, NodeRow};

/// Most session rows read per database.
const MAX_ROWS: i64 = 100_000;

/// The real path of a checked directory fd, usable by SQLite with `SQLITE_OPEN_NOFOLLOW`:
/// absolute, and the same directory (device, inode) when looked up again by that path.
fn real_path(fd: &OwnedFd) -> Result<PathBuf, Error> {
    let link =
        std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).map_err(Error::Io)?;
    if !link.is_absolute() || link.as_os_str().as_bytes().ends_with(b" (deleted)") {
        return Err(Error::NoHostPath);
    }
    let want = fstat(fd)?;
    let again = open(&link, DIR, Mode::empty()).map_err(|_| Error::NotReachable)?;
    let got = fstat(&again)?;
    if (got.st_dev, got.st_ino) != (want.st_dev, want.st_ino) {
        return Err(Error::Moved);
    }
    Ok(link)
}

/// Opens a database read-only, without following a symlink and without writing any file.
pub(super) fn connect(dir: &OwnedFd, name: &str) -> Result<rusqlite::Connection, Error> {
    use rusqlite::OpenFlags as F;
    let mut uri = file_uri(&real_path(dir)?.join(name));
    // A live database has its -wal and -shm: read the WAL through the -shm mapped read-only.
    // Without a -wal (closed cleanly) SQLite would create one even read-only, so the file
    // alone is read as immutable. A -wal without its -shm cannot be read without creating one.
    let wal = regular(dir, &format!("{name}-wal"))?;
    let shm = regular(dir, &format!("{name}-shm"))?;
    match (wal, shm) {
        (true, true) => uri.push_str("?mode=ro&readonly_shm=1"),
        (false, _) => uri.push_str("?mode=ro&immutable=1"),
        (true, false) => return Err(Error::WalWithoutShm { name: name.into() }),
    }
    let flags = F::SQLITE_OPEN_READ_ONLY
        | F::SQLITE_OPEN_URI
        | F::SQLITE_OPEN_NO_MUTEX
        | F::SQLITE_OPEN_NOFOLLOW;
    let c = rusqlite::Connection::open_with_flags(&uri, flags)?;
    c.busy_timeout(Duration::from_millis(200))?;
    c.execute_batch("PRAGMA query_only = ON; PRAGMA trusted_schema = OFF;")?;
    Ok(c)
}

/// A `file:` URI for `path`, every byte a URI path could misread percent-encoded (so it is
/// ASCII whatever the path's bytes).
fn file_uri(path: &Path) -> String {
    let mut uri = String::from("file:");
    for &b in path.as_os_str().as_bytes() {
        if b.is_ascii_alphanumeric() || b"/-_.~".contains(&b) {
            uri.push(char::from(b));
        } else {
            uri.push_str(&format!("%{b:02X}"));
        }
    }
    uri
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
    let mut st = c.prepare(
        "SELECT session_key, current_session_id, status,
                CASE WHEN json_valid(entry_json)
                     THEN json_extract(entry_json, '$.activeWriterRunId') END,
                updated_at
         FROM session_nodes WHERE status = 'running' LIMIT ?1",
    )?;
    st.query_map([MAX_ROWS], node_row)?.collect()
}

/// One `session_nodes` row as the queries above select it (a malformed writer run id: none).
fn node_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<NodeRow> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get::<_, Option<String>>(3).unwrap_or(None),
        r.get(4)?,
    ))
}

pub(super) fn read_node(c: &rusqlite::Connection, key: &str) -> rusqlite::Result<Option<NodeRow>> {
    let mut st = c.prepare(
        "SELECT session_key, current_session_id, status,
                CASE WHEN json_valid(entry_json)
                     THEN json_extract(entry_json, '$.activeWriterRunId') END,
                updated_at
         FROM session_nodes WHERE session_key = ?1",
    )?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_are_ascii_and_inert() {
        assert_eq!(
            file_uri(Path::new("/a b/x?y#z%/\u{e9}.sqlite")),
            "file:/a%20b/x%3Fy%23z%25/%C3%A9.sqlite"
        );
        let odd = std::ffi::OsStr::from_bytes(b"/s/\xff\n.sqlite");
        assert_eq!(file_uri(Path::new(odd)), "file:/s/%FF%0A.sqlite");
    }
}
