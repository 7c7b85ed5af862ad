//! The confined reader: the child process that runs SQLite on the copies the parent sends.
//!
//! It confines itself first (`sys::confine::enter`: private namespaces, an empty tmpfs as its
//! root, an unprivileged uid, limits); if it cannot, it still reads every request's bytes (so
//! the parent is not left writing) but answers each with why, and writes nothing: fail closed.
//! Each database is written into its tmpfs as `db` (with `db-wal`, `db-journal`), opened there
//! with SQLite's defensive settings, read, and removed. SQLite builds its own `-shm` there.

use std::fs::File;
use std::io::{self, BufRead, Read, Write};
use std::time::Duration;

use super::db;
pub use super::wire::SUBCOMMAND;
use super::wire::{Ask, MAX_REQUEST, Refusal, Reply, Request, Rows};
use crate::sys::confine::{self, Limits};

/// What the reader may use: room for one database with its side files, and memory for SQLite.
pub const LIMITS: Limits = Limits {
    tmpfs_bytes: 4 * super::copy::MAX_FILE + 16 * 1024 * 1024,
    file_bytes: 2 * super::copy::MAX_FILE,
    memory_bytes: 1024 * 1024 * 1024,
};

/// The files a database is written as, in the order of the request's lengths.
const FILES: [&str; 3] = ["db", "db-wal", "db-journal"];

/// Serves requests on stdin until it closes.
pub fn serve() -> io::Result<()> {
    let jail = confine::enter(&LIMITS).map_err(|e| Refusal::NotConfined(e.to_string()));
    let stdin = io::stdin();
    let mut input = stdin.lock();
    let mut out = io::stdout().lock();
    loop {
        let mut line = Vec::new();
        let n = (&mut input)
            .take(MAX_REQUEST as u64)
            .read_until(b'\n', &mut line)?;
        if n == 0 {
            return Ok(());
        }
        let request: Request = serde_json::from_slice(&line).map_err(io::Error::other)?;
        let reply: Reply = match &jail {
            Ok(()) => receive(&mut input, &request).and_then(|()| read(&request.ask)),
            Err(refusal) => {
                discard(&mut input, &request)?;
                Err(refusal.clone())
            }
        };
        remove_files();
        let mut text = serde_json::to_vec(&reply).map_err(io::Error::other)?;
        text.push(b'\n');
        out.write_all(&text)?;
        out.flush()?;
    }
}

fn lengths(r: &Request) -> [Option<u64>; 3] {
    [Some(r.db), r.wal, r.journal]
}

/// Writes the request's files into the tmpfs; on an error the rest of its bytes are read and
/// dropped, so the next request starts where it should.
fn receive(input: &mut impl Read, r: &Request) -> Result<(), Refusal> {
    let mut failed = None;
    for (name, len) in FILES.iter().zip(lengths(r)) {
        let Some(len) = len else { continue };
        let mut part = input.take(len);
        let written = match failed {
            None => File::create_new(name).and_then(|mut f| io::copy(&mut part, &mut f)),
            Some(_) => io::copy(&mut part, &mut io::sink()),
        };
        match written {
            Ok(n) if n == len => {}
            Ok(_) => return Err(Refusal::Copy("the request ended early".into())),
            Err(e) => {
                failed.get_or_insert(format!("cannot write its copy: {e}"));
                io::copy(&mut part, &mut io::sink()).map_err(|e| Refusal::Copy(e.to_string()))?;
            }
        }
    }
    failed.map_or(Ok(()), |why| Err(Refusal::Copy(why)))
}

fn discard(input: &mut impl Read, r: &Request) -> io::Result<()> {
    let total: u64 = lengths(r).iter().flatten().sum();
    io::copy(&mut input.take(total), &mut io::sink())?;
    Ok(())
}

fn remove_files() {
    for name in FILES.iter().chain(&["db-shm"]) {
        let _ = std::fs::remove_file(name);
    }
}

/// Opens the copy with SQLite's defensive settings and reads what was asked.
fn read(ask: &Ask) -> Reply {
    let sql = |e: rusqlite::Error| Refusal::Sqlite(e.to_string());
    let c = open().map_err(sql)?;
    let odd = db::not_tables(&c).map_err(sql)?;
    if !odd.is_empty() {
        return Err(Refusal::Sqlite(format!(
            "{} not a table (a view or an index in its place): not read",
            odd.join(", ")
        )));
    }
    let mut rows = Rows::default();
    match ask {
        Ask::State => {
            rows.version = db::read_version(&c);
            rows.placements = db::has_placements(&c);
            if rows.placements {
                rows.lease = db::read_lease(&c).map_err(sql)?;
                rows.boots = db::read_open_boots(&c).map_err(sql)?;
                rows.claims = db::read_claims(&c).map_err(sql)?;
            }
        }
        Ask::Claims => rows.claims = db::read_claims(&c).map_err(sql)?,
        Ask::Nodes { keys } => {
            rows.nodes = db::read_nodes(&c).map_err(sql)?;
            for key in keys {
                if !rows.nodes.iter().any(|n| &n.0 == key)
                    && let Some(node) = db::read_node(&c, key).map_err(sql)?
                {
                    rows.nodes.push(node);
                }
            }
        }
    }
    Ok(rows)
}

/// The copy, opened read-write (so SQLite may roll a copied `-journal` back and index a copied
/// `-wal` in its own `-shm`, all inside the tmpfs) but never created, never through a symlink,
/// with views and triggers off, no function with side effects, cells checked, no mmap.
fn open() -> rusqlite::Result<rusqlite::Connection> {
    use rusqlite::OpenFlags as F;
    use rusqlite::config::DbConfig;
    let flags = F::SQLITE_OPEN_READ_WRITE | F::SQLITE_OPEN_NO_MUTEX | F::SQLITE_OPEN_NOFOLLOW;
    let c = rusqlite::Connection::open_with_flags("db", flags)?;
    c.set_db_config(DbConfig::SQLITE_DBCONFIG_DEFENSIVE, true)?;
    c.set_db_config(DbConfig::SQLITE_DBCONFIG_TRUSTED_SCHEMA, false)?;
    // OpenClaw's rows are in tables: a view or trigger in their place is the tenant's (a view
    // over an endless recursive query, say), and an error here, not a wait.
    c.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_VIEW, false)?;
    c.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_TRIGGER, false)?;
    c.busy_timeout(Duration::ZERO)?;
    c.execute_batch("PRAGMA cell_size_check = ON; PRAGMA mmap_size = 0;")?;
    Ok(c)
}
