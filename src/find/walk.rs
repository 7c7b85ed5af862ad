//! Finding places and lock files on the host's filesystem.
//!
//! Only `agents/<agent>/sessions/` below a state dir is ever read: never the workspace, media or
//! anything else, which keeps the walk small and the tool out of places it has no business in.
//! Nothing below a state dir is followed through a symlink.

use std::collections::HashSet;
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::fs;
use std::io::ErrorKind;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use nix::errno::Errno;
use nix::fcntl::OFlag;

use crate::model::claims::Databases;
use crate::model::holder::Lease;
use crate::model::lockfile::{Leftover, ReadError, Snapshot, Unread, recognise};
use crate::model::payload::LockKind;
use crate::model::place::{Location, PidView, Place, Problem};
use crate::model::sessions::{MAX_STORE_BYTES, SessionIndex};
use crate::sys::fskind::{self, FsKind, MountFacts};
use crate::sys::lease;
use crate::sys::safefs::{self, OpenError};
use crate::sys::snapshot::read_lock_in;

/// Where to look on the host, as the command line said.
#[derive(Debug, Clone)]
pub struct HostSearch {
    /// OpenClaw state dirs whose owners run in this PID namespace.
    pub roots: Vec<PathBuf>,
    /// Directories holding `user-<id>/.openclaw`, the zaki layout.
    pub users_dirs: Vec<PathBuf>,
    /// Given on the command line: a missing one is an error, not a silent skip.
    pub explicit: bool,
    /// What a per-user dir's name starts with, before the user id (`user-`; empty: the id
    /// alone, digits only).
    pub user_dir_prefix: String,
    /// Only these users' dirs below the users dirs (`--container zaki-user-<id>`); `None`: all.
    pub only_users: Option<Vec<String>>,
}

impl Default for HostSearch {
    fn default() -> Self {
        HostSearch {
            roots: Vec::new(),
            users_dirs: Vec::new(),
            explicit: false,
            user_dir_prefix: USER_PREFIX.to_owned(),
            only_users: None,
        }
    }
}

/// A lock file found by the walk, and read through its directory's fd.
#[derive(Debug, Clone)]
pub struct Found {
    /// Index into the places the walk was given.
    pub place: usize,
    pub agent: String,
    pub kind: LockKind,
    /// The sessions directory, and its (dev, ino) when the walk saw it.
    pub dir: PathBuf,
    pub dir_id: (u64, u64),
    pub name: OsString,
    /// The file as read (bounded), or why it was not.
    pub file: Result<Snapshot, Unread>,
    /// Its session key, from the sessions dir's `sessions.json`.
    pub session_key: Option<String>,
    /// Set for the leftover of an interrupted removal (see [`leftover_of`]).
    pub leftover: Option<Leftover>,
    /// Whether another open file refers to it, asked through the sessions dir as it was read
    /// (see `sys::lease`); `None` when it was not read.
    pub lease: Option<Lease>,
    /// The filesystem its sessions dir is on, asked once per mount (see [`Budget::mount_of`]).
    pub fs: FsKind,
}

impl Found {
    pub fn path(&self) -> PathBuf {
        self.dir.join(&self.name)
    }

    /// The session id a transcript lock (or a leftover of one) is named after.
    pub fn session_id(&self) -> Option<String> {
        if self.kind != LockKind::Transcript {
            return None;
        }
        let name = match &self.leftover {
            Some(l) => l.original.as_ref()?,
            None => &self.name,
        };
        crate::model::payload::session_id(name.to_str()?).map(str::to_owned)
    }
}

/// Why a directory of one place, or a session store in it, was not read: the message of the
/// place's [`Problem`].
#[derive(Debug)]
pub enum WalkError {
    /// Opening or `fstat`ing a directory failed.
    Read(Errno),
    /// Opening a directory or a store failed, or what is there is not one.
    Open(OpenError),
    /// Listing a directory failed part-way.
    List(Errno),
    /// The state dir holds more entries than [`MAX_ENTRIES_PER_PLACE`].
    TooManyEntries,
    /// One directory holds more than `limit` of `what` (lock files, agent directories).
    TooMany { limit: usize, what: &'static str },
    /// The place holds more than [`MAX_LOCKS_PER_PLACE`] lock files.
    TooManyLocks,
    /// The place's lock files hold more than [`MAX_PAYLOAD_BYTES_PER_PLACE`] of payload.
    TooMuchPayload,
    /// A store larger than [`MAX_STORE_BYTES`].
    StoreTooLarge,
    /// The run's store budget ([`MAX_STORE_BYTES_PER_RUN`]) is spent.
    RunStoreBudget,
    /// The place's store budget ([`MAX_STORE_BYTES_PER_PLACE`]) is spent.
    PlaceStoreBudget,
}

impl fmt::Display for WalkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WalkError::Read(e) => write!(f, "cannot read: {e}"),
            WalkError::Open(e) => write!(f, "cannot read: {e}"),
            WalkError::List(e) => write!(f, "cannot list: {e}"),
            WalkError::TooManyEntries => write!(
                f,
                "more than {MAX_ENTRIES_PER_PLACE} directory entries in this state dir: not looked at (the bound per state dir)"
            ),
            WalkError::TooMany { limit, what } => write!(
                f,
                "more than {limit} {what}: none of them judged (the bound per directory is {limit})"
            ),
            WalkError::TooManyLocks => write!(
                f,
                "more than {MAX_LOCKS_PER_PLACE} lock files below this state dir: none of them judged (the bound per state dir)"
            ),
            WalkError::TooMuchPayload => write!(
                f,
                "lock files below this state dir hold more than {} of payload: none of them judged (the bound per state dir)",
                safefs::bytes(MAX_PAYLOAD_BYTES_PER_PLACE as u64)
            ),
            WalkError::StoreTooLarge => write!(
                f,
                "larger than {}: session keys not shown (the bound per store)",
                safefs::bytes(MAX_STORE_BYTES)
            ),
            WalkError::RunStoreBudget => write!(
                f,
                "not read: this run already read {} of session stores (the bound per run); session keys not shown",
                safefs::bytes(MAX_STORE_BYTES_PER_RUN)
            ),
            WalkError::PlaceStoreBudget => write!(
                f,
                "not read: this state dir's stores already took {} (the bound per state dir); session keys not shown",
                safefs::bytes(MAX_STORE_BYTES_PER_PLACE)
            ),
        }
    }
}

impl std::error::Error for WalkError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            WalkError::Read(e) | WalkError::List(e) => Some(e),
            WalkError::Open(e) => Some(e),
            _ => None,
        }
    }
}

/// The zaki layout's per-user state dir, bind-mounted into that user's container.
pub const USER_PREFIX: &str = "user-";

/// Resolves the search into places: each root, and each `user-*/.openclaw` below a users dir.
pub fn places(search: &HostSearch, problems: &mut Vec<Problem>) -> Vec<Place> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    let mut add = |place: Place, meta: &fs::Metadata, out: &mut Vec<Place>| {
        if seen.insert((meta.dev(), meta.ino())) {
            out.push(place);
        }
    };
    for root in &search.roots {
        if let Some(meta) = existing_dir(root, search.explicit, "state dir", problems) {
            if search.explicit
                && let Some(why) = not_a_state_dir(root, &search.user_dir_prefix)
            {
                problems.push(Problem::host(root, why));
            }
            let place = Place {
                location: Location::Host,
                state_dir: root.clone(),
                shown_as: None,
                pin: None,
                pids: match zaki_user(root, &search.user_dir_prefix) {
                    // The platform's layout: bind-mounted into a container even when given as
                    // a root; until Docker says which container, its pids cannot be judged.
                    Some(id) => bind_mounted(id),
                    None => PidView::Local,
                },
            };
            add(place, &meta, &mut out);
        }
    }
    for users in &search.users_dirs {
        if existing_dir(users, search.explicit, "users dir", problems).is_none() {
            continue;
        }
        let Some(mut users_found) = user_state_dirs(users, &search.user_dir_prefix, problems)
        else {
            continue;
        };
        if users_found.is_empty() && search.explicit {
            problems.push(Problem::host(
                users,
                no_users_why(users, &search.user_dir_prefix),
            ));
        }
        if let Some(only) = &search.only_users {
            users_found.retain(|(_, id)| only.contains(id));
        }
        for (state_dir, id) in users_found {
            match fs::symlink_metadata(&state_dir) {
                Ok(m) if m.is_dir() => {
                    let place = Place {
                        location: Location::Host,
                        state_dir,
                        shown_as: None,
                        pin: None,
                        pids: bind_mounted(&id),
                    };
                    add(place, &m, &mut out);
                }
                Ok(m) if m.file_type().is_symlink() => problems.push(Problem::host(
                    &state_dir,
                    "is a symlink: not followed (pass its target with --root to scan it)",
                )),
                Ok(_) => problems.push(Problem::host(&state_dir, "is not a directory")),
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => problems.push(Problem::host(&state_dir, format!("cannot read: {e}"))),
            }
        }
    }
    out
}

/// The `user-<id>/.openclaw` dirs below a users dir, sorted, with their ids. `None` (and a
/// problem) when it cannot be listed; a listing that fails part-way keeps what it read.
fn user_state_dirs(
    users: &Path,
    prefix: &str,
    problems: &mut Vec<Problem>,
) -> Option<Vec<(PathBuf, String)>> {
    let entries = match fs::read_dir(users) {
        Ok(e) => e,
        Err(e) => {
            problems.push(Problem::host(users, format!("cannot list: {e}")));
            return None;
        }
    };
    let mut found = Vec::new();
    for entry in entries {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                problems.push(Problem::host(users, format!("cannot list: {e}")));
                break;
            }
        };
        if let Some(id) = user_id(&entry.file_name(), prefix) {
            found.push((entry.path().join(".openclaw"), id.to_owned()));
        }
    }
    found.sort();
    Some(found)
}

/// The user id a `user-<id>` directory is named after (the zaki layout, or `prefix` then the
/// id), if it is one. Without a prefix only digits are an id (`root` is not a user).
fn user_id<'a>(name: &'a OsStr, prefix: &str) -> Option<&'a str> {
    let id = name.to_str()?.strip_prefix(prefix)?;
    let digits = || id.bytes().all(|b| b.is_ascii_digit());
    (!id.is_empty() && (!prefix.is_empty() || digits())).then_some(id)
}

/// Why a dir given as `--root` is not an OpenClaw state dir (`None` when it is one: it has
/// `agents/`, or OpenClaw's config and no session yet).
fn not_a_state_dir(root: &Path, prefix: &str) -> Option<String> {
    let is_dir = |p: &Path| fs::symlink_metadata(p).is_ok_and(|m| m.is_dir());
    if is_dir(&root.join("agents")) || root.join("openclaw.json").exists() {
        return None;
    }
    let shown = root.display();
    Some(if has_users(root, prefix) {
        format!(
            "holds no OpenClaw state dir (no agents/ below it) but user-<id> dirs: use --users-dir {shown}"
        )
    } else if is_dir(&root.join(".openclaw")) {
        format!(
            "holds no OpenClaw state dir (no agents/ below it): use --root {}",
            root.join(".openclaw").display()
        )
    } else {
        "holds no OpenClaw state dir (no agents/ below it): pass the dir that holds agents/, \
         such as /root/.openclaw"
            .into()
    })
}

fn has_users(dir: &Path, prefix: &str) -> bool {
    fs::read_dir(dir)
        .is_ok_and(|mut d| d.any(|e| e.is_ok_and(|e| user_id(&e.file_name(), prefix).is_some())))
}

/// Why a `--users-dir` with no `user-<id>` dir in it holds nothing to look at.
fn no_users_why(dir: &Path, prefix: &str) -> String {
    if fs::symlink_metadata(dir.join("agents")).is_ok_and(|m| m.is_dir()) {
        format!(
            "holds no {prefix}<id>/.openclaw state dir; it is a state dir itself: use --root {}",
            dir.display()
        )
    } else if prefix == USER_PREFIX && has_users(dir, "") {
        "holds no user-<id>/.openclaw state dir but <id> dirs: add --user-dir-prefix ''".into()
    } else {
        format!(
            "holds no {prefix}<id>/.openclaw state dir (check the path: the platform's is \
             /var/zaki-platform/users; dirs named otherwise: --user-dir-prefix)"
        )
    }
}

fn bind_mounted(id: &str) -> PidView {
    PidView::Unknown(format!(
        "bind-mounted into user {id}'s container, which Docker did not show: its pids are not host pids"
    ))
}

/// The user id of a `…/user-<id>/.openclaw` state dir (the zaki layout), if it is one.
fn zaki_user<'a>(state_dir: &'a Path, prefix: &str) -> Option<&'a str> {
    if state_dir.file_name()? != ".openclaw" {
        return None;
    }
    user_id(state_dir.parent()?.file_name()?, prefix)
}

/// Checks a place given by name. The operator's own path may be a symlink (it is theirs).
fn existing_dir(
    path: &Path,
    explicit: bool,
    what: &str,
    problems: &mut Vec<Problem>,
) -> Option<fs::Metadata> {
    match fs::metadata(path) {
        Ok(m) if m.is_dir() => Some(m),
        Ok(_) => {
            problems.push(Problem::host(path, format!("{what} is not a directory")));
            None
        }
        Err(e) if e.kind() == ErrorKind::NotFound && !explicit => None,
        Err(e) if e.kind() == ErrorKind::NotFound => {
            problems.push(Problem::host(
                path,
                format!(
                    "{what} does not exist (check the path, or drop the option to use the defaults)"
                ),
            ));
            None
        }
        Err(e) => {
            problems.push(Problem::host(path, format!("cannot read {what}: {e}")));
            None
        }
    }
}

/// Most lock files (and removal leftovers) read from one sessions dir. A gateway holds a few
/// locks at a time and a crash leaves one per session it held; past this the dir is a tenant's
/// attack (200,000 locks once cost 544 MB and 14 s): none of its locks is judged, the place
/// reports an error naming the bound, and the run goes on.
pub const MAX_LOCKS_PER_DIR: usize = 25_000;
/// Most entries listed in one directory, and in all of one state dir's directories together
/// (transcripts included): a million take 0.4 s.
pub const MAX_ENTRIES_PER_PLACE: usize = 2_000_000;
/// Most lock files (and leftovers) below one state dir, over all its agents.
pub const MAX_LOCKS_PER_PLACE: usize = 25_000;
/// Most payload bytes kept from one state dir's locks (each is at most 4 KiB + 1; a real one is
/// under 150 bytes, so 20,000 real locks are 3 MB): 25,000 full-size hostile payloads would
/// otherwise hold 100 MB per copy.
pub const MAX_PAYLOAD_BYTES_PER_PLACE: usize = 4 * 1024 * 1024;
/// Most agent directories looked at below one state dir.
pub const MAX_AGENTS: usize = 1_000;
/// Most `sessions.json` bytes read below one state dir (hard links to one store count each time).
pub const MAX_STORE_BYTES_PER_PLACE: u64 = crate::model::sessions::MAX_STORE_BYTES;
/// Most `sessions.json` bytes read in one run, over every place.
pub const MAX_STORE_BYTES_PER_RUN: u64 = 512 * 1024 * 1024;

/// What one run may still spend on tenants' files, and what it learnt once for all of them.
/// The walk's threads share the spending ([`Budget::for_thread`]); each learns on its own.
#[derive(Debug)]
pub struct Budget {
    /// `sessions.json` bytes the run may still read, over all the walk's threads: a read's
    /// bound is taken before it and the rest given back, so the run's bound is exact whatever
    /// the threads do.
    store_bytes: Arc<std::sync::Mutex<u64>>,
    /// The facts of each mount (by mount id) a sessions dir with locks was seen on: one
    /// `fstatfs` per mount, not one per user dir (they are all on one, usually).
    mounts: std::collections::HashMap<u64, MountFacts>,
}

impl Default for Budget {
    fn default() -> Self {
        Budget {
            store_bytes: Arc::new(std::sync::Mutex::new(MAX_STORE_BYTES_PER_RUN)),
            mounts: Default::default(),
        }
    }
}

impl Budget {
    /// The facts of the mount `mnt` (its id), asked of `dir` (on it) the first time; asked
    /// every time where the mount id is not known (`nodev` is a mount's, not a device's).
    fn mount_of(&mut self, mnt: Option<u64>, dir: &OwnedFd) -> MountFacts {
        match mnt {
            Some(id) => *self
                .mounts
                .entry(id)
                .or_insert_with(|| fskind::mount_of(dir)),
            None => fskind::mount_of(dir),
        }
    }

    /// Takes from the run's store budget the most one store of a place with `place_left` may
    /// read (see [`store_bound`]), with the error for a store past it.
    fn reserve_store(&self, place_left: u64) -> (u64, WalkError) {
        let mut run_left = self.run_store_bytes();
        let (limit, too_large) = store_bound(place_left, *run_left);
        *run_left -= limit;
        (limit, too_large)
    }

    /// Gives back to the run's store budget what a read took but did not use.
    fn give_back_store(&self, unused: u64) {
        *self.run_store_bytes() += unused;
    }

    fn run_store_bytes(&self) -> std::sync::MutexGuard<'_, u64> {
        (self.store_bytes.lock()).unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Another thread's budget: the same spending, its own learning.
    pub fn for_thread(&self) -> Budget {
        Budget {
            store_bytes: Arc::clone(&self.store_bytes),
            mounts: Default::default(),
        }
    }
}

/// Fewest places worth a second thread: below it, starting one costs more than it saves.
const PARALLEL_FROM: usize = 64;
/// Most threads the walk uses: it is mostly syscalls on one filesystem, which two cores
/// already keep busy.
const MAX_WALK_THREADS: usize = 4;

/// What a walk found: the lock files, and what it saw of each place's databases.
pub struct Walked {
    pub found: Vec<Found>,
    /// By place index (every place given; [`Databases::Unknown`] for those not walked).
    pub databases: Vec<Databases>,
}

/// [`lock_files`] of the places `which` (indices into `places`), on as many threads as there
/// are cores (up to [`MAX_WALK_THREADS`]; one for a few places). Each place is walked by one
/// thread, whole; the locks and problems come back in the order of `which`, as one thread
/// would give them, so the output does not depend on the threads.
pub fn lock_files_of(
    places: &[Place],
    which: &[usize],
    budget: &Budget,
    problems: &mut Vec<Problem>,
) -> Walked {
    let threads = match which.len() {
        n if n < PARALLEL_FROM => 1,
        _ => std::thread::available_parallelism().map_or(1, |n| n.get().min(MAX_WALK_THREADS)),
    };
    let next = std::sync::atomic::AtomicUsize::new(0);
    let walk = |mut budget: Budget| {
        let mut done = Vec::new();
        loop {
            let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let Some(&i) = which.get(k) else { break };
            let (mut found, mut problems) = (Vec::new(), Vec::new());
            let dbs = lock_files(i, &places[i], &mut found, &mut problems, &mut budget);
            done.push((k, found, problems, dbs));
        }
        done
    };
    let mut done = if threads == 1 {
        walk(budget.for_thread())
    } else {
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|_| {
                    let b = budget.for_thread();
                    s.spawn(|| walk(b))
                })
                .collect();
            let joined = handles.into_iter().map(|h| h.join());
            // A panicking walk thread is a bug: re-raised here, as one thread would have.
            joined
                .flat_map(|r| r.unwrap_or_else(|e| std::panic::resume_unwind(e)))
                .collect()
        })
    };
    done.sort_unstable_by_key(|(k, ..)| *k);
    // Sized up front: a growing copy would hold up to twice the locks at the end (50,000 users).
    let mut out = Walked {
        found: Vec::with_capacity(done.iter().map(|(_, f, ..)| f.len()).sum()),
        databases: vec![Databases::Unknown; places.len()],
    };
    for (k, found, p, dbs) in done {
        out.found.extend(found);
        problems.extend(p);
        out.databases[which[k]] = dbs;
    }
    out
}

/// Lists and reads the lock files of one place: `agents/*/sessions/{*.jsonl.lock,
/// sessions.json.lock}` and the leftovers of interrupted removals. Every directory is opened
/// relative to its parent with `O_NOFOLLOW` and every file through [`safefs`]: a tenant who
/// swaps a directory or a file for a symlink, a FIFO or a device while this runs gets an
/// error or a skipped entry, never a read of anything outside its sessions dirs.
///
/// On its way it sees whether the place has SQLite-era databases (see [`Databases`]): one
/// `O_PATH` lookup for the state database and one an agent, from the dirs it has open.
pub fn lock_files(
    place_index: usize,
    place: &Place,
    found: &mut Vec<Found>,
    problems: &mut Vec<Problem>,
    budget: &mut Budget,
) -> Databases {
    let problems_before = problems.len();
    let dbs = walk_place(place_index, place, found, problems, budget);
    // Anything the walk had to say about the place: the full look says it its own way.
    match dbs {
        Some(d) if problems.len() == problems_before => d,
        _ => Databases::Unknown,
    }
}

/// [`lock_files`]' walk: `None` when it stopped early (or saw a database), so the place's
/// databases are not known from it.
fn walk_place(
    place_index: usize,
    place: &Place,
    found: &mut Vec<Found>,
    problems: &mut Vec<Problem>,
    budget: &mut Budget,
) -> Option<Databases> {
    let problem = |problems: &mut Vec<Problem>, path: PathBuf, message: String| {
        problems.push(Problem {
            location: place.location.clone(),
            path: Some(path),
            message,
        })
    };
    // The state dir is the operator's (or a pinned `/proc/self/fd/<n>`): opened by its path.
    let state = match safefs::operator_dir(&place.state_dir) {
        Ok(fd) => fd,
        Err(OpenError::Gone) => return None,
        Err(e) => {
            let msg = WalkError::Open(e).to_string();
            problem(problems, place.state_dir.clone(), msg);
            return None;
        }
    };
    let mut no_db = absent(&state, Path::new(STATE_DB));
    let agents_path = place.state_dir.join("agents");
    let agents = open_below(&state, agents_path.clone(), place, problems)?;
    let mut entries_left = MAX_ENTRIES_PER_PLACE;
    let names = match list(
        &agents,
        MAX_AGENTS,
        "agent directories",
        &mut entries_left,
        |_| true,
    ) {
        Ok(n) => n,
        Err(e) => {
            problem(problems, agents_path, e.to_string());
            return None;
        }
    };
    // More agents than the databases' look reads: it says so itself.
    no_db &= names.len() <= crate::model::claims::MAX_AGENTS_READ;
    let mut sessions_dirs = 0;
    let mut store_left = MAX_STORE_BYTES_PER_PLACE;
    let place_first = found.len();
    let mut payload = 0;
    for agent in names {
        // The databases' look reads only agents with UTF-8 names.
        let utf8 = agent.to_str().is_some();
        if no_db && utf8 {
            no_db = absent(&agents, &Path::new(&agent).join(AGENT_DB));
        }
        let agent_path = agents_path.join(&agent);
        let Some((sessions, mut seen, names)) = open_sessions(
            &agents,
            agent_path,
            (place_index, place),
            &mut entries_left,
            problems,
        ) else {
            continue;
        };
        sessions_dirs += usize::from(utf8);
        let first = found.len();
        if !names.is_empty() {
            let facts = budget.mount_of(seen.mount_id, &sessions);
            (seen.fs, seen.mount) = (facts.kind, facts.mount);
        }
        read_locks(&sessions, &seen, names, found);
        add_session_keys(
            &sessions,
            &seen,
            &mut found[first..],
            &mut store_left,
            budget,
        )
        .unwrap_or_else(|e| problem(problems, seen.dir.join("sessions.json"), e.to_string()));
        payload += found[first..]
            .iter()
            .map(|f| f.file.as_ref().map_or(0, |s| s.content.len()))
            .sum::<usize>();
        if let Some(e) = place_bound(found.len() - place_first, payload) {
            found.truncate(place_first);
            problem(problems, agents_path, e.to_string());
            return None;
        }
    }
    no_db.then_some(Databases::None { sessions_dirs })
}

/// The state database, below the state dir.
const STATE_DB: &str = "state/openclaw.sqlite";
/// An agent's session database, below its agent dir.
const AGENT_DB: &str = "agent/openclaw-agent.sqlite";

/// Whether `path` below the open `dir` is simply not there: one `O_PATH` lookup that follows no
/// symlink and stays below `dir`. Anything else (there, a symlink on the way, a file where a
/// dir should be, a kernel without `openat2`) is `false`: the databases' own look decides.
fn absent(dir: &OwnedFd, path: &Path) -> bool {
    use nix::fcntl::{OpenHow, openat2};
    let how = OpenHow::new()
        .flags(OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC)
        .resolve(safefs::BENEATH);
    matches!(openat2(dir, path, how), Err(Errno::ENOENT))
}

/// Opens `<agent_path>/sessions` (`agent_path` a name in the open `agents` dir) and lists its
/// lock files and leftovers within the place's entry budget. `None` when it is not there or
/// cannot be read (a problem, then).
fn open_sessions(
    agents: &OwnedFd,
    agent_path: PathBuf,
    (place_index, place): (usize, &Place),
    entries_left: &mut usize,
    problems: &mut Vec<Problem>,
) -> Option<(OwnedFd, SessionsDir, Vec<OsString>)> {
    let name = agent_path.file_name()?.to_owned();
    let agent = name.to_string_lossy().into_owned();
    let dir = agent_path.join("sessions");
    let sessions = match sessions_at(agents, &name) {
        Some(fd) => fd,
        // Step by step: the same dirs, and a problem that names the one that is not right.
        None => {
            let agent_fd = open_below(agents, agent_path, place, problems)?;
            open_below(&agent_fd, dir.clone(), place, problems)?
        }
    };
    let keep = |n: &[u8]| recognise(n).is_some();
    let listed = fskind::identity(&sessions)
        .map_err(WalkError::Read)
        .and_then(|id| {
            let names = list(
                &sessions,
                MAX_LOCKS_PER_DIR,
                "lock files",
                entries_left,
                keep,
            )?;
            Ok((id, names))
        });
    match listed {
        Ok(((dir_id, mount_id), names)) => {
            let seen = SessionsDir {
                place: place_index,
                agent,
                dir,
                dir_id,
                mount_id,
                // Asked below, once the dir turns out to hold locks.
                fs: Ok(None),
                mount: safefs::Mount::MayHoldDevices,
            };
            Some((sessions, seen, names))
        }
        Err(e) => {
            problems.push(Problem {
                location: place.location.clone(),
                path: Some(dir),
                message: e.to_string(),
            });
            None
        }
    }
}

/// `<agent>/sessions` below the open `agents` dir in one `openat2` that follows no symlink in
/// any component and stays below `agents`: one open (and one close) fewer per agent than
/// opening `<agent>` then `sessions`. `None` on any failure (a symlink, a missing dir, a kernel
/// without `openat2`): the caller then opens them one at a time, which says what is wrong.
fn sessions_at(agents: &OwnedFd, agent: &OsStr) -> Option<OwnedFd> {
    use nix::fcntl::{OpenHow, openat2};
    let how = OpenHow::new()
        .flags(OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC)
        .resolve(safefs::BENEATH);
    openat2(agents, &Path::new(agent).join("sessions"), how).ok()
}

/// Whether a place's locks so far (`locks` files, `payload` bytes) are past its bounds: then
/// none of them is judged.
fn place_bound(locks: usize, payload: usize) -> Option<WalkError> {
    if locks > MAX_LOCKS_PER_PLACE {
        Some(WalkError::TooManyLocks)
    } else if payload > MAX_PAYLOAD_BYTES_PER_PLACE {
        Some(WalkError::TooMuchPayload)
    } else {
        None
    }
}

/// Opens the directory at `path` (whose last component is a name in `parent`) without
/// following a symlink. A symlink or an unreadable dir is a problem; a missing one, or one that
/// is not a directory, is simply not there.
fn open_below(
    parent: &OwnedFd,
    path: PathBuf,
    place: &Place,
    problems: &mut Vec<Problem>,
) -> Option<OwnedFd> {
    let name = path.file_name()?.to_owned();
    let message = match safefs::dir_at(parent, &name) {
        Ok(fd) => return Some(fd),
        Err(OpenError::NotRegular("a symlink")) => {
            "is a symlink: not followed (pass its target with --root to scan it)".to_owned()
        }
        Err(OpenError::Gone | OpenError::NotRegular(_)) => return None,
        Err(e) => format!("cannot read: {e}"),
    };
    problems.push(Problem {
        location: place.location.clone(),
        path: Some(path),
        message,
    });
    None
}

/// One sessions dir as the walk saw it.
struct SessionsDir {
    place: usize,
    agent: String,
    dir: PathBuf,
    dir_id: (u64, u64),
    mount_id: Option<u64>,
    fs: FsKind,
    /// How its files may be opened (see [`safefs::regular_in`]).
    mount: safefs::Mount,
}

/// Reads each named lock (or leftover) through the sessions dir's fd.
fn read_locks(
    sessions: &OwnedFd,
    seen: &SessionsDir,
    names: Vec<OsString>,
    found: &mut Vec<Found>,
) {
    for name in names {
        let Some((kind, leftover)) = recognise(name.as_bytes()) else {
            continue;
        };
        // The lease is asked on the fd that read the payload: the inode judged, no second open.
        let (file, lease) = match read_lock_in(sessions, &name, seen.mount) {
            Ok((s, open)) => (Ok(s), Some(lease::lease_on(open))),
            Err(ReadError::Gone) => continue, // released while we looked
            Err(ReadError::NotRegular(what)) => (Err(Unread::NotRegular(what)), None),
            Err(ReadError::Io(e)) => (Err(Unread::Io(Arc::new(e))), None),
        };
        found.push(Found {
            place: seen.place,
            agent: seen.agent.clone(),
            kind,
            dir: seen.dir.clone(),
            dir_id: seen.dir_id,
            name,
            file,
            session_key: None,
            leftover,
            lease,
            fs: seen.fs,
        });
    }
}

/// Up to `limit` names in `dir` that `keep` accepts, sorted; more is an error naming the bound.
///
/// Read with `getdents64` on `dir` itself, which must be freshly opened (its offset at the
/// start): no `dup`, `fstat`, `fcntl`, `lseek` and `close` around each listing as `readdir`
/// has (issue 21: they were 7 of a user dir's syscalls a listing).
fn list(
    dir: &OwnedFd,
    limit: usize,
    what: &'static str,
    entries_left: &mut usize,
    keep: impl Fn(&[u8]) -> bool,
) -> Result<Vec<OsString>, WalkError> {
    thread_local! {
        // One buffer a walk thread, not a fresh (zeroed, page-faulted) 32 KiB a listing.
        static BUF: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(vec![0u8; 32 * 1024]);
    }
    BUF.with_borrow_mut(|buf| {
        let mut out = Vec::new();
        loop {
            let n = getdents(dir, buf).map_err(WalkError::List)?;
            if n == 0 {
                break;
            }
            for name in dirents(&buf[..n]) {
                if *entries_left == 0 {
                    return Err(WalkError::TooManyEntries);
                }
                *entries_left -= 1;
                if name == b"." || name == b".." || !keep(name) {
                    continue;
                }
                if out.len() >= limit {
                    return Err(WalkError::TooMany { limit, what });
                }
                out.push(OsStr::from_bytes(name).to_owned());
            }
        }
        out.sort();
        Ok(out)
    })
}

/// One `getdents64` into `buf`: the bytes of the entries it filled in (0 at the end).
fn getdents(dir: &OwnedFd, buf: &mut [u8]) -> Result<usize, Errno> {
    use std::os::fd::AsRawFd;
    // SAFETY: `buf` is valid for writes of `buf.len()` bytes, and `dir` is an open fd for the
    // duration of the call; the kernel writes at most that many bytes.
    let n = unsafe {
        nix::libc::syscall(
            nix::libc::SYS_getdents64,
            dir.as_raw_fd(),
            buf.as_mut_ptr(),
            buf.len(),
        )
    };
    usize::try_from(n).map_err(|_| Errno::last())
}

/// The names in a buffer `getdents64` filled: each `linux_dirent64` is `d_ino` (8 bytes),
/// `d_off` (8), `d_reclen` (2), `d_type` (1), then the NUL-terminated name, `d_reclen` in all.
fn dirents(buf: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut off = 0;
    std::iter::from_fn(move || {
        let head = buf.get(off..off + 19)?;
        let reclen = usize::from(u16::from_ne_bytes([head[16], head[17]]));
        let rec = buf.get(off + 19..off + reclen.max(19))?;
        off += reclen.max(19);
        Some(rec.split(|&b| b == 0).next().unwrap_or_default())
    })
}

/// How many bytes of one store may be read with `place_left` and `run_left` still to spend,
/// and the error for a store past that: the tightest bound names itself (the per-store bound
/// first, then the run's).
fn store_bound(place_left: u64, run_left: u64) -> (u64, WalkError) {
    let limit = MAX_STORE_BYTES.min(place_left).min(run_left);
    let error = if limit == MAX_STORE_BYTES {
        WalkError::StoreTooLarge
    } else if limit == run_left {
        WalkError::RunStoreBudget
    } else {
        WalkError::PlaceStoreBudget
    };
    (limit, error)
}

/// Fills in the session keys of the transcript locks just found in one sessions dir, from its
/// `sessions.json`, within the place's and the run's store budgets. An error names the bound.
fn add_session_keys(
    sessions: &OwnedFd,
    seen: &SessionsDir,
    found: &mut [Found],
    place_left: &mut u64,
    run: &Budget,
) -> Result<(), WalkError> {
    let ids: Vec<Option<String>> = found.iter().map(|f| f.session_id()).collect();
    let wanted: HashSet<&str> = ids.iter().flatten().map(String::as_str).collect();
    if wanted.is_empty() {
        return Ok(());
    }
    // The bound is taken from the run's budget before the read and what was not read given
    // back after: exact over the walk's threads, and no thread waits on another's read.
    let (limit, too_large) = run.reserve_store(*place_left);
    let read = safefs::read_in(sessions, OsStr::new("sessions.json"), limit, seen.mount);
    let used = read.as_ref().map_or(0, |(b, _)| b.len() as u64);
    run.give_back_store(limit - used);
    let bytes = match read {
        Ok((b, _)) => b,
        Err(OpenError::Gone | OpenError::NotRegular(_)) => return Ok(()),
        Err(OpenError::TooLarge(_)) => return Err(too_large),
        Err(e) => return Err(WalkError::Open(e)),
    };
    *place_left -= used;
    let index = SessionIndex::parse_for(&bytes, &wanted);
    for (f, id) in found.iter_mut().zip(&ids) {
        f.session_key = id
            .as_deref()
            .and_then(|id| index.key_for(id))
            .map(str::to_owned);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tightest_store_bound_names_itself() {
        let (limit, e) = store_bound(MAX_STORE_BYTES_PER_PLACE, MAX_STORE_BYTES_PER_RUN);
        assert_eq!(limit, MAX_STORE_BYTES);
        assert_eq!(
            e.to_string(),
            "larger than 64 MiB: session keys not shown (the bound per store)"
        );
        let (limit, e) = store_bound(10, MAX_STORE_BYTES_PER_RUN);
        assert_eq!(limit, 10);
        assert!(matches!(e, WalkError::PlaceStoreBudget), "{e}");
        assert_eq!(
            e.to_string(),
            "not read: this state dir's stores already took 64 MiB (the bound per state dir); session keys not shown"
        );
        for (place, run) in [(10, 5), (5, 5)] {
            let (limit, e) = store_bound(place, run);
            assert_eq!(limit, 5);
            assert_eq!(
                e.to_string(),
                "not read: this run already read 512 MiB of session stores (the bound per run); session keys not shown"
            );
        }
    }

    #[test]
    fn a_store_read_takes_its_bound_from_the_run_and_gives_back_what_it_did_not_read() {
        let (one, other) = (Budget::default(), Budget::default());
        let other_thread = one.for_thread();
        let (limit, _) = one.reserve_store(MAX_STORE_BYTES_PER_PLACE);
        assert_eq!(limit, MAX_STORE_BYTES);
        // While a read is under way, the other threads see the run's budget without its bound.
        assert_eq!(
            *other_thread.run_store_bytes(),
            MAX_STORE_BYTES_PER_RUN - MAX_STORE_BYTES
        );
        assert_eq!(*other.run_store_bytes(), MAX_STORE_BYTES_PER_RUN);
        one.give_back_store(limit - 1000);
        assert_eq!(
            *other_thread.run_store_bytes(),
            MAX_STORE_BYTES_PER_RUN - 1000
        );
        // Past the run's bound, the run's error: nothing is read beyond it.
        *one.run_store_bytes() = 10;
        let (limit, e) = other_thread.reserve_store(MAX_STORE_BYTES_PER_PLACE);
        assert_eq!(limit, 10);
        assert!(matches!(e, WalkError::RunStoreBudget), "{e}");
        assert_eq!(*one.run_store_bytes(), 0);
    }

    #[test]
    fn listing_a_dir_is_bounded_and_sorted() {
        let tmp = tempfile::tempdir().unwrap();
        for n in ["c.jsonl.lock", "a.jsonl.lock", "notes.txt", "b.jsonl.lock"] {
            fs::write(tmp.path().join(n), b"").unwrap();
        }
        // `list` takes a freshly opened dir: one for each listing.
        let dir = || safefs::operator_dir(tmp.path()).unwrap();
        let locks = |n: &[u8]| recognise(n).is_some();
        let mut left = 100;
        let names = list(&dir(), 3, "lock files", &mut left, locks).unwrap();
        assert_eq!(names, ["a.jsonl.lock", "b.jsonl.lock", "c.jsonl.lock"]);
        assert_eq!(left, 100 - 6, "every entry counts, `.` and `..` too");
        let e = list(&dir(), 2, "lock files", &mut 100, locks).unwrap_err();
        assert_eq!(
            e.to_string(),
            "more than 2 lock files: none of them judged (the bound per directory is 2)"
        );
        let e = list(&dir(), 3, "lock files", &mut 5, locks).unwrap_err();
        assert_eq!(
            e.to_string(),
            "more than 2000000 directory entries in this state dir: not looked at (the bound per state dir)"
        );
    }

    #[test]
    fn a_places_bounds() {
        assert!(place_bound(MAX_LOCKS_PER_PLACE, MAX_PAYLOAD_BYTES_PER_PLACE).is_none());
        let e = place_bound(MAX_LOCKS_PER_PLACE + 1, 0).unwrap();
        assert_eq!(
            e.to_string(),
            "more than 25000 lock files below this state dir: none of them judged (the bound per state dir)"
        );
        let e = place_bound(1, MAX_PAYLOAD_BYTES_PER_PLACE + 1).unwrap();
        assert_eq!(
            e.to_string(),
            "lock files below this state dir hold more than 4 MiB of payload: none of them judged (the bound per state dir)"
        );
    }

    #[test]
    fn zaki_users() {
        let p = USER_PREFIX;
        assert_eq!(user_id(OsStr::new("user-7"), p), Some("7"));
        for not in ["user-", "users", "7", "User-7"] {
            assert_eq!(user_id(OsStr::new(not), p), None, "{not}");
        }
        assert_eq!(zaki_user(Path::new("/u/user-42/.openclaw"), p), Some("42"));
        assert_eq!(zaki_user(Path::new("/u/user-/.openclaw"), p), None);
        assert_eq!(zaki_user(Path::new("/root/.openclaw"), p), None);
        assert_eq!(zaki_user(Path::new("/u/user-42/state"), p), None);
        // `--user-dir-prefix ''`: the id alone, digits only; another prefix as given.
        assert_eq!(user_id(OsStr::new("42"), ""), Some("42"));
        assert_eq!(user_id(OsStr::new("root"), ""), None);
        assert_eq!(zaki_user(Path::new("/root/.openclaw"), ""), None);
        assert_eq!(zaki_user(Path::new("/u/42/.openclaw"), ""), Some("42"));
        assert_eq!(user_id(OsStr::new("u7"), "u"), Some("7"));
    }
}
