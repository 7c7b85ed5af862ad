//! Observing locks: each lock file the walk read on this host (or a container's listing
//! reported) becomes an [`Observed`], with its session key and the owner its payload names.
//!
//! The result, [`Observed`], is what the policy judges and what removal later checks against:
//! a lock is only ever removed if it is still exactly the [`Snapshot`] taken here.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::model::holder::{self, Lease, Visibility};
use crate::model::lockfile::Leftover;
use crate::model::observed::{Observed, Site};
use crate::model::payload::{LockKind, Payload, session_id};
use crate::observe::container::Listing;
// Where they were before `lockfile` existed; `probe` and tests/remove.rs read them from here.
use crate::find::walk::Found;
pub use crate::model::lockfile::{Snapshot, Unread};
use crate::model::place::{Location, PidView, Place, Problem};
use crate::model::process::Owner;
use crate::sys::pidns::{Namespaces, NsMap};
use crate::sys::proc::HostProc;
pub use crate::sys::snapshot::{snapshot, snapshot_at};

fn transcript_id(kind: LockKind, name: &str) -> Option<String> {
    match kind {
        LockKind::Transcript => session_id(name).map(str::to_owned),
        LockKind::Store => None,
    }
}

/// One lock the walk found in `place`, with its payload parsed; its owner is looked up later.
fn host_lock(place: &Place, f: Found, problems: &mut Vec<Problem>) -> Observed {
    let path = f.path();
    let sid = f.session_id();
    let file = f.file;
    if let Err(Unread::Io(e)) = &file {
        problems.push(Problem {
            location: place.location.clone(),
            path: Some(path.clone()),
            message: format!("cannot read lock: {e}"),
        });
    }
    let payload = match &file {
        Ok(s) => Payload::parse(&s.content, s.id.size),
        Err(_) => Payload::default(),
    };
    // Whether the kernel's answer on who has it open covers every opener (the walk asked it as
    // it read the lock, and the kind of filesystem once per filesystem).
    let visibility = match (&file, &f.lease) {
        (Ok(_), lease) => {
            let not_asked = Lease::Unknown("not asked".into());
            let fs_why = crate::sys::fskind::remote_why(&place.state_dir, &f.fs);
            holder::file_visibility(lease.as_ref().unwrap_or(&not_asked), fs_why.as_deref())
        }
        (Err(_), _) => Visibility::Incomplete("not searched".into()),
    };
    let rel_dir = f
        .dir
        .strip_prefix(&place.state_dir)
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let shown = match &place.shown_as {
        Some(inside) => inside.join(&rel_dir).join(&f.name),
        None => path.clone(),
    };
    Observed {
        location: place.location.clone(),
        // A pinned dir's path (`/proc/self/fd/…`) means nothing outside this run.
        host_path: place.pin.is_none().then(|| path.clone()),
        path: shown,
        agent: f.agent,
        kind: f.kind,
        session_id: sid,
        session_key: f.session_key,
        file,
        payload,
        owner: Owner::Gone,
        note: f.leftover.as_ref().map(leftover_note),
        holders: Vec::new(),
        visibility,
        held_open: None,
        holders_all_named: false,
        owner_cmdline: None,
        unheld_since: None,
        lease: f.lease,
        site: Site::Host {
            state_dir: place.state_dir.clone(),
            rel_dir,
            dir_id: f.dir_id,
            name: f.name,
        },
        leftover: f.leftover,
    }
}

/// Observes every lock found on this host's filesystem: first every file, then every owner, so
/// that no owner is looked up before its lock was read (see `pidns`).
pub fn host_locks(
    places: &[Place],
    found: Vec<Found>,
    proc: &HostProc,
    problems: &mut Vec<Problem>,
) -> Vec<Observed> {
    let mut out = Vec::with_capacity(found.len());
    let mut place_of = Vec::with_capacity(found.len());
    for f in found {
        place_of.push(f.place);
        out.push(host_lock(&places[f.place], f, problems));
    }

    // Second pass: owners, now that every lock has been read.
    let mut local: HashMap<u64, Owner> = HashMap::new();
    let mut namespaces: Option<Result<Namespaces, crate::sys::pidns::Error>> = None;
    let mut maps: HashMap<u64, Result<NsMap, crate::sys::pidns::Error>> = HashMap::new();
    for (o, &p) in out.iter_mut().zip(&place_of) {
        let Some(pid) = o.payload.pid else { continue };
        o.owner = match &places[p].pids {
            PidView::Local => local
                .entry(pid)
                .or_insert_with(|| proc.observe(pid))
                .clone(),
            PidView::Unknown(why) => Owner::Unknown(why.clone()),
            // A container's state never decides on its own: a paused container's processes
            // run on, a restarting one takes new locks. Its holders decide (see `holders`).
            PidView::NoProcesses(why) => Owner::Unknown(why.clone()),
            PidView::Container { init } => {
                let ns = namespaces.get_or_insert_with(|| Namespaces::scan(Path::new("/proc")));
                let map = maps.entry(*init).or_insert_with(|| match ns {
                    Ok(ns) => ns.container(Path::new("/proc"), *init),
                    Err(e) => Err(e.clone()),
                });
                match map {
                    Ok(m) => m.observe(pid, proc),
                    Err(e) => Owner::Unknown(e.to_string()),
                }
            }
        };
    }
    out
}

fn leftover_note(l: &Leftover) -> String {
    match &l.original {
        Some(o) => format!(
            "left over from an interrupted removal of {}",
            crate::model::escape::bytes(o.as_encoded_bytes())
        ),
        None => "left over from an interrupted removal".to_owned(),
    }
}

/// Turns one container's exec listing into observed locks, judged in its own namespace.
pub fn container_locks(
    engine: usize,
    container: &str,
    listing: &Listing,
    problems: &mut Vec<Problem>,
) -> Vec<Observed> {
    let location = Location::Container(container.to_owned());
    for (path, what) in &listing.problems {
        problems.push(Problem {
            location: location.clone(),
            path: Some(PathBuf::from(path)),
            message: what.to_string(),
        });
    }
    listing
        .locks
        .iter()
        .map(|raw| {
            let file = raw
                .file
                .as_ref()
                .map(|f| f.snapshot())
                .map_err(|&what| Unread::NotRegular(what));
            let payload = match &file {
                Ok(s) => Payload::parse(&s.content, s.id.size),
                Err(_) => Payload::default(),
            };
            let owner = match payload.pid {
                Some(pid) => listing.owner(pid),
                None => Owner::Gone,
            };
            let name = raw.path.rsplit('/').next().unwrap_or_default();
            let session_id = transcript_id(raw.kind, name);
            let session_key = session_id
                .as_deref()
                .and_then(|sid| listing.session_key(&raw.path, sid));
            Observed {
                location: location.clone(),
                path: PathBuf::from(&raw.path),
                host_path: None,
                agent: raw.agent.clone(),
                kind: raw.kind,
                session_id,
                session_key,
                file,
                payload,
                owner,
                note: raw.leftover.as_ref().map(leftover_note),
                holders: listing.holders_of(raw, container),
                visibility: listing.visibility(raw),
                held_open: None,
                holders_all_named: false,
                owner_cmdline: None,
                unheld_since: None,
                lease: None,
                site: Site::Container {
                    engine,
                    container: container.to_owned(),
                    state_dir: raw.state_dir.clone(),
                    dir_id: raw.dir_id,
                },
                leftover: raw.leftover.clone(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> String {
        s.bytes().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn a_containers_listing_becomes_observed_locks() {
        let dir = "/h/.openclaw/agents/main/sessions";
        let payload = r#"{"pid": 7}"#;
        let out = format!(
            "zaki-locks 1\nstate {}\ndir 1 2 {}\nlock {} 1700000000 88 2049 {}\ndata {}\nlink {}\nlock 0 1 89 2049 {}\ndata \nstore {}\ndata {}\nsymlink {}\npid 7 gone\nfds\nend\n",
            hex("/h/.openclaw"),
            hex(dir),
            payload.len(),
            hex(&format!("{dir}/abc.jsonl.lock")),
            hex(payload),
            hex(&format!("{dir}/x.jsonl.lock")),
            hex(&format!("{dir}/.abc.jsonl.lock.zaki-locks-removing.5.6")),
            hex(dir),
            hex(r#"{"agent:main:openai-user:42":{"sessionId":"abc"}}"#),
            hex("/h/.openclaw/agents/other"),
        );
        let listing = crate::observe::container::parse_listing(&out).unwrap();
        let mut problems = Vec::new();
        let o = container_locks(3, "zaki-user-1", &listing, &mut problems);
        assert_eq!(o.len(), 3);

        let lock = &o[0];
        assert_eq!(lock.location, Location::Container("zaki-user-1".into()));
        assert_eq!(lock.path, Path::new(dir).join("abc.jsonl.lock"));
        assert_eq!(
            (lock.agent.as_str(), lock.kind),
            ("main", LockKind::Transcript)
        );
        assert_eq!(lock.session_id.as_deref(), Some("abc"));
        assert_eq!(
            lock.session_key.as_deref(),
            Some("agent:main:openai-user:42")
        );
        let snap = lock.file.as_ref().unwrap();
        assert_eq!((snap.id.ino, snap.id.mtime), (88, (1700000000, 0)));
        assert_eq!((lock.payload.pid, &lock.owner), (Some(7), &Owner::Gone));
        assert!(lock.visibility.is_complete() && lock.holders.is_empty());
        assert!(matches!(
            &lock.site,
            Site::Container { engine: 3, container, state_dir, dir_id: (1, 2) }
                if container == "zaki-user-1" && state_dir == "/h/.openclaw"
        ));

        let link = &o[1];
        let why = link.file.as_ref().unwrap_err();
        assert_eq!(why.to_string(), "a symlink: not a lock file, left alone");
        assert_eq!((link.payload.pid, &link.owner), (None, &Owner::Gone));

        let leftover = &o[2];
        assert_eq!(
            leftover.note.as_deref(),
            Some("left over from an interrupted removal of abc.jsonl.lock")
        );
        assert_eq!(
            leftover
                .leftover
                .as_ref()
                .and_then(|l| l.original.as_deref()),
            Some(std::ffi::OsStr::new("abc.jsonl.lock"))
        );

        assert_eq!(problems.len(), 1);
        assert_eq!(
            problems[0].path.as_deref(),
            Some(Path::new("/h/.openclaw/agents/other"))
        );
        assert_eq!(problems[0].message, "is a symlink: not followed");
    }
}
