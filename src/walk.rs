//! Finding places and lock files on the host's filesystem.
//!
//! Only `agents/<agent>/sessions/` below a state dir is ever read: never the workspace, media or
//! anything else, which keeps the walk small and the tool out of places it has no business in.
//! Nothing below a state dir is followed through a symlink.

use std::collections::HashSet;
use std::ffi::OsString;
use std::fs;
use std::io::ErrorKind;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use walkdir::WalkDir;

use crate::lock::{LockKind, classify_name};
use crate::place::{Location, PidView, Place, Problem};

/// Where to look on the host, as the command line said.
#[derive(Debug, Clone, Default)]
pub struct HostSearch {
    /// OpenClaw state dirs whose owners run in this PID namespace.
    pub roots: Vec<PathBuf>,
    /// Directories holding `user-<id>/.openclaw`, the zaki layout.
    pub users_dirs: Vec<PathBuf>,
    /// Given on the command line: a missing one is an error, not a silent skip.
    pub explicit: bool,
}

/// A lock file found by the walk, not yet read.
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
    /// The entry is a symlink (or something else that is not a regular file) by its dirent type.
    pub not_regular: Option<&'static str>,
}

impl Found {
    pub fn path(&self) -> PathBuf {
        self.dir.join(&self.name)
    }
}

/// The zaki layout's per-user state dir, bind-mounted into that user's container.
const USER_PREFIX: &str = "user-";

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
                && let Some(why) = not_a_state_dir(root)
            {
                problems.push(Problem::host(root, why));
            }
            let place = Place {
                location: Location::Host,
                state_dir: root.clone(),
                shown_as: None,
                pin: None,
                pids: match zaki_user(root) {
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
        let entries = match fs::read_dir(users) {
            Ok(e) => e,
            Err(e) => {
                problems.push(Problem::host(users, format!("cannot list: {e}")));
                continue;
            }
        };
        let mut users_found: Vec<(PathBuf, String)> = Vec::new();
        for entry in entries {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    problems.push(Problem::host(users, format!("cannot list: {e}")));
                    break;
                }
            };
            let name = entry.file_name();
            let Some(id) = name.to_str().and_then(|n| n.strip_prefix(USER_PREFIX)) else {
                continue;
            };
            if id.is_empty() {
                continue;
            }
            users_found.push((entry.path().join(".openclaw"), id.to_owned()));
        }
        users_found.sort();
        if users_found.is_empty() && search.explicit {
            problems.push(Problem::host(users, no_users_why(users)));
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

/// Why a dir given as `--root` is not an OpenClaw state dir (`None` when it is one: it has
/// `agents/`, or OpenClaw's config and no session yet).
fn not_a_state_dir(root: &Path) -> Option<String> {
    let is_dir = |p: &Path| fs::symlink_metadata(p).is_ok_and(|m| m.is_dir());
    if is_dir(&root.join("agents")) || root.join("openclaw.json").exists() {
        return None;
    }
    let shown = root.display();
    Some(if has_users(root) {
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

fn has_users(dir: &Path) -> bool {
    fs::read_dir(dir).is_ok_and(|mut d| {
        d.any(|e| {
            e.is_ok_and(|e| {
                e.file_name()
                    .to_str()
                    .is_some_and(|n| n.len() > USER_PREFIX.len() && n.starts_with(USER_PREFIX))
            })
        })
    })
}

/// Why a `--users-dir` with no `user-<id>` dir in it holds nothing to look at.
fn no_users_why(dir: &Path) -> String {
    if fs::symlink_metadata(dir.join("agents")).is_ok_and(|m| m.is_dir()) {
        format!(
            "holds no user-<id>/.openclaw state dir; it is a state dir itself: use --root {}",
            dir.display()
        )
    } else {
        "holds no user-<id>/.openclaw state dir (check the path: the platform's is \
         /var/zaki-platform/users)"
            .into()
    }
}

fn bind_mounted(id: &str) -> PidView {
    PidView::Unknown(format!(
        "bind-mounted into user {id}'s container, which Docker did not show: its pids are not host pids"
    ))
}

/// The user id of a `…/user-<id>/.openclaw` state dir (the zaki layout), if it is one.
fn zaki_user(state_dir: &Path) -> Option<&str> {
    if state_dir.file_name()? != ".openclaw" {
        return None;
    }
    let id = state_dir
        .parent()?
        .file_name()?
        .to_str()?
        .strip_prefix(USER_PREFIX)?;
    (!id.is_empty()).then_some(id)
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

/// Lists the lock files of one place: `agents/*/sessions/{*.jsonl.lock,sessions.json.lock}`.
pub fn lock_files(
    place_index: usize,
    place: &Place,
    found: &mut Vec<Found>,
    problems: &mut Vec<Problem>,
) {
    let walker = WalkDir::new(&place.state_dir)
        .min_depth(1)
        .max_depth(4)
        .follow_links(false)
        .follow_root_links(true)
        .into_iter()
        .filter_entry(|e| {
            let name = e.file_name().as_bytes();
            match e.depth() {
                1 => name == b"agents",
                2 => true,
                3 => name == b"sessions",
                _ => classify_name(name).is_some(),
            }
        });
    let mut dir_id = (0, 0);
    for entry in walker {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                if e.io_error().map(|io| io.kind()) == Some(ErrorKind::NotFound) {
                    continue; // vanished while walking (an agent being deleted): nothing to do
                }
                let path = e.path().unwrap_or(&place.state_dir).to_path_buf();
                let msg = e
                    .io_error()
                    .map_or_else(|| e.to_string(), |io| format!("cannot read: {io}"));
                problems.push(Problem {
                    location: place.location.clone(),
                    path: Some(path),
                    message: msg,
                });
                continue;
            }
        };
        let ft = entry.file_type();
        if entry.depth() < 4 {
            if ft.is_symlink() {
                problems.push(Problem {
                    location: place.location.clone(),
                    path: Some(entry.path().to_path_buf()),
                    message: "is a symlink: not followed (pass its target with --root to scan it)"
                        .into(),
                });
            }
            if entry.depth() == 3 && ft.is_dir() {
                dir_id = match entry.metadata() {
                    Ok(m) => (m.dev(), m.ino()),
                    Err(_) => (0, 0),
                };
            }
            continue;
        }
        let name = entry.file_name();
        let Some(kind) = classify_name(name.as_bytes()) else {
            continue;
        };
        let sessions = entry.path().parent().unwrap_or(&place.state_dir);
        let agent = sessions
            .parent()
            .and_then(Path::file_name)
            .map(|a| a.to_string_lossy().into_owned())
            .unwrap_or_default();
        let not_regular = if ft.is_symlink() {
            Some("a symlink")
        } else if ft.is_dir() {
            Some("a directory")
        } else if !ft.is_file() {
            Some("not a regular file")
        } else {
            None
        };
        found.push(Found {
            place: place_index,
            agent,
            kind,
            dir: sessions.to_path_buf(),
            dir_id,
            name: name.to_owned(),
            not_regular,
        });
    }
}
