//! The scripts that observe and remove locks inside a container (one exec each way) and the
//! parsers of what they print. The execs themselves are run by `pipeline` and `remove`.
//!
//! The scripts (`src/scripts/*.sh`, shellcheck-clean: tests/scripts.rs) are POSIX `sh` that run
//! on busybox (the platform's Alpine image), Alpine and Debian: no `ps`, no `jq`, no
//! `find -printf`. They use `stat -c`, `dd`, `od`, `sed`, `tr`, `ln`, `mv` and `rm`, which
//! busybox and coreutils both have. Every path and byte string travels hex-encoded, so no file
//! name or payload can break the line protocol. The Rust side parses the output into the same
//! facts the host produces, so the one policy judges both.

use std::collections::HashMap;
use std::fmt;

use crate::model::holder::{Access, Holder, Visibility};
use crate::model::lockfile::{FileId, Leftover, Outcome, Snapshot, recognise};
use crate::model::payload::LockKind;
use crate::model::process::Owner;
use crate::model::sessions::SessionIndex;
use crate::sys::proc::{Clock, facts};

/// Lists the locks below each state dir given as an argument, then `/proc` for every pid they
/// name, all locks before any `/proc` entry. Arguments and output protocol: the file's header.
pub const OBSERVE_SCRIPT: &str = include_str!("../scripts/observe.sh");

/// Removes locks given as eight arguments each, each only if it is unchanged and reached
/// without a symlink, by rename-aside like the host remover. Arguments and output: the file's
/// header.
pub const REMOVE_SCRIPT: &str = concat!(
    include_str!("../scripts/recheck.sh"),
    include_str!("../scripts/remove.sh")
);

/// Puts leftovers of interrupted removals back under their lock's name, given as nine arguments
/// each (the remove script's eight, then the lock's own name). Arguments and output: the file's
/// header.
pub const PUT_BACK_SCRIPT: &str = concat!(
    include_str!("../scripts/recheck.sh"),
    include_str!("../scripts/put_back.sh")
);

/// One lock as the observe script saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawLock {
    /// The state dir it was found under (as given to the script).
    pub state_dir: String,
    pub path: String,
    pub kind: LockKind,
    pub agent: String,
    /// (dev, ino) of its sessions dir.
    pub dir_id: (u64, u64),
    /// Regular file facts and content, or why it was not read.
    pub file: Result<RawFile, &'static str>,
    /// Set for the leftover of an interrupted removal.
    pub leftover: Option<Leftover>,
}

/// A regular lock file as the observe script saw it (`stat -c`: mtime in whole seconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawFile {
    pub size: u64,
    pub mtime: i64,
    pub ino: u64,
    pub dev: u64,
    pub content: Vec<u8>,
}

impl RawFile {
    /// The same facts as a host [`Snapshot`] (mtime in whole seconds).
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            id: FileId {
                dev: self.dev,
                ino: self.ino,
                size: self.size,
                mtime: (self.mtime, 0),
                nlink: 1,
            },
            content: self.content.clone(),
        }
    }
}

/// Everything one observe exec reported.
#[derive(Debug, Clone, Default)]
pub struct Listing {
    /// The container's boot time and clock ticks, which date its processes' start times.
    pub clock: Option<Clock>,
    pub locks: Vec<RawLock>,
    /// Paths that are symlinked directories (not followed) or unreadable directories.
    pub problems: Vec<(String, &'static str)>,
    /// The pids the locks name, as the script found them in `/proc` (see [`Listing::owner`]).
    pub owners: HashMap<u64, Owner>,
    /// Session stores of the sessions dirs that hold transcript locks, by dir.
    pub stores: HashMap<String, SessionIndex>,
    /// Processes in the container with a `.lock` open: (device, inode) → (pid, comm).
    pub held: HashMap<(u64, u64), Vec<(u64, String)>>,
    /// Pids whose open files could not be listed.
    pub fd_unreadable: Vec<u64>,
    /// The script listed the container's open files (the `fds` line).
    pub fds_listed: bool,
    /// State dirs that other containers or the host may use too (set by the caller from the
    /// container's mounts), with why: no holder found there is not evidence.
    pub shared: HashMap<String, String>,
}

impl Listing {
    /// The session key of a transcript lock, from its directory's `sessions.json`.
    pub fn session_key(&self, path: &str, session_id: &str) -> Option<String> {
        let dir = path.rsplit_once('/')?.0;
        self.stores.get(dir)?.key_for(session_id).map(str::to_owned)
    }

    /// The processes in the container holding `raw` open.
    pub fn holders_of(&self, raw: &RawLock, container: &str) -> Vec<Holder> {
        let Ok(f) = &raw.file else {
            return Vec::new();
        };
        self.held
            .get(&(f.dev, f.ino))
            .map(|v| {
                v.iter()
                    .map(|(pid, comm)| Holder {
                        host_pid: *pid,
                        ns_pid: *pid,
                        comm: comm.clone(),
                        container: Some(container.to_owned()),
                        // The listing gives no open flags: counted as a writer.
                        access: Access::Unknown,
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Whether the container's processes are every possible holder of `raw`.
    pub fn visibility(&self, raw: &RawLock) -> Visibility {
        if !self.fds_listed {
            return Visibility::Incomplete("the container's open files were not listed".into());
        }
        if let Some(pid) = self.fd_unreadable.first() {
            return Visibility::Incomplete(format!(
                "the open files of {} process(es) in the container could not be read (pid {pid})",
                self.fd_unreadable.len()
            ));
        }
        if let Some(why) = self.shared.get(&raw.state_dir) {
            return Visibility::Incomplete(why.clone());
        }
        Visibility::Complete
    }

    /// The owner of `pid` as observed in the container. A pid the script did not report (its
    /// crude pid extraction differs from the real parser) is unknown, never dead.
    pub fn owner(&self, pid: u64) -> Owner {
        self.owners.get(&pid).cloned().unwrap_or_else(|| {
            Owner::Unknown(format!("pid {pid} was not observed in the container"))
        })
    }
}

/// Most locks one container's listing may hold; past it the container's result is an error
/// naming the bound (16 MiB of hostile output once became 140,000 locks and 586 MB).
pub const MAX_LOCKS_PER_CONTAINER: usize = 25_000;
/// Most lines one container's listing may hold (a lock, its data, its owner's two lines and
/// its dir's are under 8 per lock); past it the container's result is an error naming the bound.
pub const MAX_LINES_PER_CONTAINER: usize = 200_000;

/// Why an exec's output could not be used. Text from the output is kept only as far as the
/// message shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// No `zaki-locks 1` header from the observe script.
    ObserveNotStarted,
    /// No `zaki-locks 1` header from the remove (or put-back) script.
    RemoveNotStarted,
    /// No `end` line: the listing was cut short.
    CutShort,
    /// More lines than [`MAX_LINES_PER_CONTAINER`].
    TooManyLines,
    /// More locks than [`MAX_LOCKS_PER_CONTAINER`].
    TooManyLocks,
    /// A hex field of odd length (its first 20 characters).
    OddHex(String),
    /// A hex field with a non-hex digit (its first 20 characters).
    BadHex(String),
    /// A number field (which one) that is missing or not a number.
    BadNumber(&'static str),
    /// A listed file that is neither a lock nor a removal's leftover.
    UnexpectedFile(String),
    /// A `data` line with no lock before it.
    DataWithoutLock,
    /// A `pid` line of no known form (its first 60 characters).
    BadPidLine(String),
    /// A line of no known kind (its first 20 characters).
    Unexpected(String),
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::ObserveNotStarted => {
                f.write_str("the observe script did not start (no POSIX sh in the container?)")
            }
            ParseError::RemoveNotStarted => f.write_str("the remove script did not start"),
            ParseError::CutShort => f.write_str("the observe script's output was cut short"),
            ParseError::TooManyLines => write!(
                f,
                "more than {MAX_LINES_PER_CONTAINER} lines of exec output: none judged (the bound per container)"
            ),
            ParseError::TooManyLocks => write!(
                f,
                "more than {MAX_LOCKS_PER_CONTAINER} locks listed: none judged (the bound per container)"
            ),
            ParseError::OddHex(s) => write!(f, "odd-length hex {s}"),
            ParseError::BadHex(s) => write!(f, "bad hex {s}"),
            ParseError::BadNumber(what) => write!(f, "bad {what} in exec output"),
            ParseError::UnexpectedFile(path) => write!(f, "unexpected file {path} in exec output"),
            ParseError::DataWithoutLock => f.write_str("data without a lock in exec output"),
            ParseError::BadPidLine(line) => write!(f, "bad pid line {line}"),
            ParseError::Unexpected(word) => write!(f, "unexpected {word} in exec output"),
        }
    }
}

impl std::error::Error for ParseError {}

/// The first `n` characters of `s`, as `{s:.n}` would show them.
fn head(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

fn unhex(s: &str) -> Result<Vec<u8>, ParseError> {
    let s = s.trim();
    if !s.len().is_multiple_of(2) {
        return Err(ParseError::OddHex(head(s, 20)));
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).map_err(|_| ParseError::BadHex(head(s, 20))))
        .collect()
}

fn unhex_str(s: &str) -> Result<String, ParseError> {
    Ok(String::from_utf8_lossy(&unhex(s)?).into_owned())
}

fn num<T: std::str::FromStr>(s: Option<&str>, what: &'static str) -> Result<T, ParseError> {
    s.and_then(|v| v.parse().ok())
        .ok_or(ParseError::BadNumber(what))
}

/// Parses the observe script's output. Output without the header and the `end` line is
/// rejected whole: a truncated listing must not make any owner look dead.
pub fn parse_listing(out: &str) -> Result<Listing, ParseError> {
    let mut lines = out.lines();
    if lines.next().map(str::trim) != Some("zaki-locks 1") {
        return Err(ParseError::ObserveNotStarted);
    }
    let mut parser = ListingParser::default();
    for (n, line) in lines.enumerate() {
        if n >= MAX_LINES_PER_CONTAINER {
            return Err(ParseError::TooManyLines);
        }
        if parser.line(line)? == Parsed::End {
            return Ok(parser.finish());
        }
    }
    Err(ParseError::CutShort)
}

/// Whether a listing's `end` line was reached.
#[derive(Debug, PartialEq, Eq)]
enum Parsed {
    More,
    End,
}

/// The observe script's output, read line by line.
#[derive(Default)]
struct ListingParser {
    l: Listing,
    btime: Option<i64>,
    ticks: Option<u64>,
    /// The state dir and the sessions dir (dev, ino) the next locks are in.
    state: String,
    dir_id: (u64, u64),
    /// A `lock` line waiting for its `data` line.
    pending: Option<RawLock>,
    /// A `store` line waiting for its `data` line.
    store: Option<String>,
    procs: Procs,
}

impl ListingParser {
    fn line(&mut self, line: &str) -> Result<Parsed, ParseError> {
        let mut w = line.split(' ');
        let l = &mut self.l;
        match w.next().unwrap_or("") {
            "btime" => self.btime = w.next().and_then(|v| v.parse().ok()),
            "ticks" => self.ticks = w.next().and_then(|v| v.parse().ok()),
            "state" => self.state = unhex_str(w.next().unwrap_or(""))?,
            // A state dir missing in the container: nothing there to judge.
            "absent" => {}
            "symlink" => l.problems.push((
                unhex_str(w.next().unwrap_or(""))?,
                "is a symlink: not followed",
            )),
            "unreadable" => l
                .problems
                .push((unhex_str(w.next().unwrap_or(""))?, "cannot read directory")),
            "dir" => self.dir_id = (num(w.next(), "dev")?, num(w.next(), "ino")?),
            kind @ ("link" | "special" | "lock") => self.lock(kind, &mut w)?,
            "store" => {
                self.flush();
                self.store = Some(unhex_str(w.next().unwrap_or(""))?);
            }
            "data" => self.data(w.next().unwrap_or(""))?,
            "pid" => self.procs.line(&mut w, line)?,
            // The script's own pid in the container (to kill it if it runs over).
            "self" => {}
            "held" => {
                let pid: u64 = num(w.next(), "pid")?;
                let id = (num(w.next(), "device")?, num(w.next(), "inode")?);
                let comm = unhex_str(w.next().unwrap_or(""))?.trim_end().to_owned();
                l.held.entry(id).or_default().push((pid, comm));
            }
            "fdunreadable" => l.fd_unreadable.push(num(w.next(), "pid")?),
            "fds" => l.fds_listed = true,
            "end" => return Ok(Parsed::End),
            "" => {}
            other => return Err(ParseError::Unexpected(head(other, 20))),
        }
        Ok(Parsed::More)
    }

    /// A lock line: a `lock` waits for its `data`; a `link` or `special` is complete.
    fn lock(&mut self, kind: &str, w: &mut std::str::Split<'_, char>) -> Result<(), ParseError> {
        self.flush();
        let raw = lock_line(kind, w, &self.state, self.dir_id)?;
        if self.l.locks.len() >= MAX_LOCKS_PER_CONTAINER {
            return Err(ParseError::TooManyLocks);
        }
        if kind == "lock" {
            self.pending = Some(raw);
        } else {
            self.l.locks.push(raw);
        }
        Ok(())
    }

    /// A `data` line: the content of the store or the lock just before it.
    fn data(&mut self, hex: &str) -> Result<(), ParseError> {
        if let Some(dir) = self.store.take() {
            let bytes = unhex(hex)?;
            self.l.stores.insert(dir, SessionIndex::parse(&bytes));
            return Ok(());
        }
        let content = unhex(hex)?;
        let Some(mut p) = self.pending.take() else {
            return Err(ParseError::DataWithoutLock);
        };
        if let Ok(f) = &mut p.file {
            f.content = content;
        }
        self.l.locks.push(p);
        Ok(())
    }

    /// A lock still waiting for its `data` is listed without it.
    fn flush(&mut self) {
        if let Some(p) = self.pending.take() {
            self.l.locks.push(p);
        }
    }

    fn finish(mut self) -> Listing {
        self.flush();
        self.l.clock = self.btime.map(|btime| Clock {
            btime,
            ticks_per_second: self.ticks.unwrap_or(100),
        });
        self.l.owners = self.procs.owners(self.l.clock);
        self.l
    }
}

/// A `link`, `special` or `lock` line (`kind`) after its first word: a lock found below
/// `state`, in the sessions dir `dir_id`. A `lock`'s content follows on its `data` line.
fn lock_line(
    kind: &str,
    w: &mut std::str::Split<'_, char>,
    state: &str,
    dir_id: (u64, u64),
) -> Result<RawLock, ParseError> {
    let file = match kind {
        "lock" => Ok(RawFile {
            size: num(w.next(), "size")?,
            mtime: num(w.next(), "mtime")?,
            ino: num(w.next(), "inode")?,
            dev: num(w.next(), "device")?,
            content: Vec::new(),
        }),
        "link" => Err("a symlink"),
        _ => Err("not a regular file"),
    };
    let path = unhex_str(w.next().unwrap_or(""))?;
    let name = path.rsplit('/').next().unwrap_or("");
    // A lock, or the leftover of an interrupted removal (judged like its lock).
    let Some((lock_kind, leftover)) = recognise(name.as_bytes()) else {
        return Err(ParseError::UnexpectedFile(path));
    };
    let agent = path.rsplit('/').nth(2).unwrap_or_default().to_owned();
    Ok(RawLock {
        state_dir: state.to_owned(),
        path,
        kind: lock_kind,
        agent,
        dir_id,
        file,
        leftover,
    })
}

/// The `pid` lines: what the script read of each pid's `/proc` entry in the container.
#[derive(Default)]
struct Procs {
    status: HashMap<u64, String>,
    stat: HashMap<u64, String>,
    gone: Vec<u64>,
    unreadable: Vec<u64>,
}

impl Procs {
    /// One `pid` line (`w` after its first word; `line` whole, for the error).
    fn line(&mut self, w: &mut std::str::Split<'_, char>, line: &str) -> Result<(), ParseError> {
        let pid: u64 = num(w.next(), "pid")?;
        match (w.next(), w.next()) {
            (Some("status"), Some(h)) => {
                self.status.insert(pid, unhex_str(h)?);
            }
            (Some("stat"), Some(h)) => {
                self.stat.insert(pid, unhex_str(h)?);
            }
            (Some("gone"), _) => self.gone.push(pid),
            (Some("unreadable"), _) => self.unreadable.push(pid),
            _ => return Err(ParseError::BadPidLine(head(line, 60))),
        }
        Ok(())
    }

    /// Each pid's owner: a pid with a status line is found (whatever else was said of it), one
    /// the script said is gone is gone.
    fn owners(self, clock: Option<Clock>) -> HashMap<u64, Owner> {
        let mut owners = HashMap::new();
        for pid in self.gone {
            owners.insert(pid, Owner::Gone);
        }
        for pid in self.unreadable {
            owners.insert(
                pid,
                Owner::Unknown(format!("/proc/{pid} in the container is not readable")),
            );
        }
        for (pid, status) in self.status {
            let stat = self.stat.get(&pid).map(String::as_str);
            owners.insert(pid, Owner::Found(facts(&status, stat, clock)));
        }
        owners
    }
}

/// What the remove script did with one lock, keyed by its path.
pub fn parse_removals(out: &str) -> Result<HashMap<String, Outcome>, ParseError> {
    let mut lines = out.lines();
    if lines.next().map(str::trim) != Some("zaki-locks 1") {
        return Err(ParseError::RemoveNotStarted);
    }
    let mut done = HashMap::new();
    for line in lines {
        let mut w = line.splitn(3, ' ');
        let verb = w.next().unwrap_or("");
        if verb == "end" {
            return Ok(done);
        }
        if verb == "self" {
            continue;
        }
        let path = unhex_str(w.next().unwrap_or(""))?;
        let rest = w.next().unwrap_or("").to_owned();
        let outcome = match verb {
            "removed" => Outcome::Removed,
            "gone" => Outcome::Gone,
            "changed" => Outcome::Changed(rest),
            "failed" => Outcome::Failed(rest),
            _ => return Err(ParseError::Unexpected(head(verb, 20))),
        };
        done.insert(path, outcome);
    }
    Ok(done)
}

/// Arguments for [`REMOVE_SCRIPT`] for one lock.
pub fn removal_args(state_dir: &str, path: &str, dir_id: (u64, u64), f: &Snapshot) -> [String; 8] {
    [
        state_dir.to_owned(),
        path.to_owned(),
        format!("{} {}", dir_id.0, dir_id.1),
        f.id.size.to_string(),
        f.id.mtime.0.to_string(),
        f.id.ino.to_string(),
        f.id.dev.to_string(),
        f.content.iter().map(|b| format!("{b:02x}")).collect(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> String {
        s.bytes().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn parses_a_listing() {
        let path = "/home/node/.openclaw/agents/main/sessions/abc.jsonl.lock";
        let out = format!(
            "zaki-locks 1\nbtime 1700000000\nticks 100\nstate {}\ndir 2049 77 {}\nlock 60 1700000100 88 2049 {}\ndata {}\nlink {}\nstore {}\ndata {}\npid 7 status {}\npid 7 stat {}\npid 9 gone\nend\n",
            hex("/home/node/.openclaw"),
            hex("/home/node/.openclaw/agents/main/sessions"),
            hex(path),
            hex("{\"pid\": 7}"),
            hex("/home/node/.openclaw/agents/main/sessions/x.jsonl.lock"),
            hex("/home/node/.openclaw/agents/main/sessions"),
            hex(r#"{"agent:main:openai-user:42":{"sessionId":"abc"}}"#),
            hex("Name:\tnode\nState:\tS (sleeping)\nTgid:\t7\n"),
            hex("7 (node) S 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 11 0 500 0"),
        );
        let l = parse_listing(&out).unwrap();
        assert_eq!(l.locks.len(), 2);
        let lock = &l.locks[0];
        assert_eq!(
            (lock.path.as_str(), lock.agent.as_str(), lock.dir_id),
            (path, "main", (2049, 77))
        );
        let f = lock.file.as_ref().unwrap();
        assert_eq!(
            (f.size, f.mtime, f.ino, f.content.as_slice()),
            (60, 1700000100, 88, &b"{\"pid\": 7}"[..])
        );
        assert_eq!(l.locks[1].file, Err("a symlink"));
        assert_eq!(
            l.session_key(path, "abc").as_deref(),
            Some("agent:main:openai-user:42")
        );
        match l.owner(7) {
            Owner::Found(p) => {
                assert_eq!(
                    (p.tgid, p.state, p.starttime),
                    (Some(7), Some('S'), Some(500))
                );
                assert_eq!(p.started_at.unwrap().timestamp(), 1700000005);
            }
            o => panic!("{o:?}"),
        }
        assert_eq!(l.owner(9), Owner::Gone);
        assert!(matches!(l.owner(10), Owner::Unknown(_)));
    }

    #[test]
    fn hostile_listings_are_bounded() {
        let pids: String = (0..MAX_LINES_PER_CONTAINER)
            .map(|p| format!("pid {p} gone\n"))
            .collect();
        let e = parse_listing(&format!("zaki-locks 1\n{pids}end\n")).unwrap_err();
        assert!(e.to_string().contains("more than 200000 lines"), "{e}");
        let lock = format!("special {}\n", hex("/s/agents/main/sessions/x.jsonl.lock"));
        let e = parse_listing(&format!("zaki-locks 1\n{}end\n", lock.repeat(25_001))).unwrap_err();
        assert!(
            e.to_string().contains("more than 25000 locks listed"),
            "{e}"
        );
    }

    #[test]
    fn parses_holders_and_visibility() {
        let path = "/home/node/.openclaw/agents/main/sessions/abc.jsonl.lock";
        let out = format!(
            "zaki-locks 1\nstate {}\ndir 1 2 {}\nlock 0 1 88 2049 {}\ndata \nheld 8 2049 88 {}\nfds\nend\n",
            hex("/home/node/.openclaw"),
            hex("/home/node/.openclaw/agents/main/sessions"),
            hex(path),
            hex("node\n"),
        );
        let mut l = parse_listing(&out).unwrap();
        let raw = l.locks[0].clone();
        let h = l.holders_of(&raw, "zaki-user-1");
        assert_eq!(h.len(), 1);
        assert_eq!((h[0].ns_pid, h[0].comm.as_str()), (8, "node"));
        assert!(l.visibility(&raw).is_complete());
        l.shared
            .insert("/home/node/.openclaw".into(), "on a volume".into());
        assert!(!l.visibility(&raw).is_complete());
        l.shared.clear();
        l.fd_unreadable.push(9);
        assert!(!l.visibility(&raw).is_complete());
        // Without the `fds` line, nothing is known about holders.
        let l = parse_listing(&out.replace("fds\n", "")).unwrap();
        assert!(!l.visibility(&raw).is_complete());
    }

    #[test]
    fn rejects_truncated_or_foreign_output() {
        assert!(parse_listing("").is_err());
        assert!(parse_listing("OCI runtime exec failed: exec: \"sh\": not found").is_err());
        assert!(
            parse_listing("zaki-locks 1\nbtime 1\n").is_err(),
            "no end line"
        );
        assert!(parse_listing("zaki-locks 1\nlock 1 2 3 4 zz\nend\n").is_err());
    }

    #[test]
    fn error_messages() {
        let err = |out: &str| parse_listing(out).unwrap_err().to_string();
        assert_eq!(
            err(""),
            "the observe script did not start (no POSIX sh in the container?)"
        );
        assert_eq!(
            err("zaki-locks 1\nbtime 1\n"),
            "the observe script's output was cut short"
        );
        let long = "y".repeat(30);
        assert_eq!(
            err(&format!("zaki-locks 1\n{long}\nend\n")),
            format!("unexpected {} in exec output", &long[..20])
        );
        assert_eq!(err("zaki-locks 1\nstate abc\n"), "odd-length hex abc");
        assert_eq!(err("zaki-locks 1\nstate zz\n"), "bad hex zz");
        assert_eq!(err("zaki-locks 1\ndir x 1\n"), "bad dev in exec output");
        assert_eq!(
            err("zaki-locks 1\ndata 00\n"),
            "data without a lock in exec output"
        );
        assert_eq!(err("zaki-locks 1\npid 7 what\n"), "bad pid line pid 7 what");
        assert_eq!(
            err(&format!("zaki-locks 1\nspecial {}\n", hex("/s/notes"))),
            "unexpected file /s/notes in exec output"
        );
        assert_eq!(
            parse_removals("").unwrap_err().to_string(),
            "the remove script did not start"
        );
    }

    #[test]
    fn parses_removals() {
        let out = format!(
            "zaki-locks 1\nremoved {}\nchanged {} modified since it was judged\nend\n",
            hex("/a/x.jsonl.lock"),
            hex("/a/y.jsonl.lock")
        );
        let r = parse_removals(&out).unwrap();
        assert_eq!(r["/a/x.jsonl.lock"], Outcome::Removed);
        assert!(matches!(&r["/a/y.jsonl.lock"], Outcome::Changed(w) if w.contains("modified")));
    }
}

/// Property tests: whatever an exec prints (a broken container, a hostile one), the listing
/// parser returns a listing or an error, never panics, and never invents an owner as dead
/// unless the script said `gone`.
#[cfg(test)]
mod fuzz {
    use proptest::prelude::*;

    use super::*;

    fn line() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-z]{0,8}( [0-9a-f]{0,40}){0,6}",
            Just("end".to_owned()),
            Just("zaki-locks 1".to_owned()),
            "pid [0-9]{1,6} (gone|unreadable|status|stat)( [0-9a-f]{0,64})?",
            "(lock|link|special) [0-9]{1,4} [0-9]{1,10} [0-9]{1,6} [0-9]{1,4} [0-9a-f]{0,80}",
            "data [0-9a-f]{0,80}",
            "(state|store|dir) [0-9a-f ]{0,60}",
        ]
    }

    // $PROPTEST_CASES cases (3,000 in CI: `scripts/test.sh --tier all` sets it), else 300: the
    // 3,000 take some 40 s on 2 cores, too long for every run of the fast tier.
    proptest! {
        #![proptest_config(ProptestConfig {
            cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(300),
            ..ProptestConfig::default()
        })]

        #[test]
        fn any_output_is_a_listing_or_an_error(lines in proptest::collection::vec(line(), 0..30)) {
            let out = lines.join("\n");
            if let Ok(l) = parse_listing(&out) {
                prop_assert!(out.starts_with("zaki-locks 1"));
                for (pid, owner) in &l.owners {
                    if *owner == Owner::Gone {
                        let said = out.lines().any(|x| {
                            let w: Vec<&str> = x.split(' ').collect();
                            w.len() >= 3 && w[0] == "pid" && w[1].parse::<u64>().ok() == Some(*pid) && w[2] == "gone"
                        });
                        prop_assert!(said, "pid {} judged gone without the script saying so", pid);
                    }
                }
            }
            let _ = parse_removals(&out);
        }
    }
}
