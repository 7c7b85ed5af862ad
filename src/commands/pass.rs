//! The pipeline every command runs: find places → observe locks and owners → judge → act.
//! Commands (`app`, `probe`) only choose the places and what to do with the verdicts.

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::{TimeDelta, Utc};
use color_eyre::eyre::{Result, WrapErr};

use crate::act::remove::{self, Outcome};
use crate::commands::config::Places;
use crate::find::survey::{self, ContainerReport, Survey};
use crate::find::walk;
use crate::judge::lock::{Facts, Policy, Verdict};
use crate::model::observed::{Observed, Site};
use crate::model::place::{Location, Place, Problem};
use crate::observe::container::{self, Listing};
use crate::observe::locks;
use crate::report::record::{Action, LockRecord, Report};
use crate::sys::docker::Engine;
use crate::sys::proc::HostProc;

/// A lock with its verdict (`None` when it could not be read, so was not judged).
pub struct Judged {
    pub obs: Observed,
    pub verdict: Option<Verdict>,
}

/// Everything a run saw.
pub struct Seen {
    /// The state dirs read from this host (a container's bind mounts among them).
    pub host_places: Vec<Place>,
    /// How many places were looked at (host places and exec'd containers).
    pub places: usize,
    pub judged: Vec<Judged>,
    pub problems: Vec<Problem>,
    pub containers: Vec<ContainerReport>,
    pub warnings: Vec<String>,
    pub engines: Vec<Engine>,
    /// Each host place's era and, in the SQLite era (OpenClaw 2026.8+), its turn claims.
    pub dbs: Vec<crate::judge::claims::PlaceDb>,
    /// Every engine asked, up or not.
    pub engines_up: Vec<crate::find::survey::EngineStatus>,
}

pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .wrap_err("cannot start the async runtime")
}

/// Find → observe → judge, for every place.
pub async fn look_async(args: &Places, policy: &Policy, now: chrono::DateTime<Utc>) -> Seen {
    let mut problems = Vec::new();
    let mut places = match &args.host {
        Some(search) => walk::places(search, &mut problems),
        None => Vec::new(),
    };
    let mut survey = Survey::default();
    if let Some(search) = &args.containers {
        survey = survey::survey(search, &mut places, &mut problems).await;
    }
    // Inside containers (exec) first: it runs concurrently and takes the longest.
    let listings = list_containers(&survey, args).await;

    let mut found = Vec::new();
    let mut budget = walk::Budget::default();
    for (i, place) in places.iter().enumerate() {
        walk::lock_files(i, place, &mut found, &mut problems, &mut budget);
    }
    let proc = HostProc::open();
    let mut observed = locks::host_locks(&places, found, &proc, &mut problems);
    observed.extend(exec_locks(&mut survey, listings, &mut problems));
    // Every lock has been read (and its lease asked): now who holds them open (see `holders`).
    find_holders(&mut observed, &survey.reports, policy, now);
    for o in observed.iter_mut() {
        if let Site::Host { state_dir, .. } = &o.site
            && let Some((_, why)) = survey.ambiguous.iter().find(|(d, _)| d == state_dir)
        {
            o.note = Some(why.clone());
        }
    }
    let dbs: Vec<_> = crate::observe::claims::observe(&places, &proc)
        .into_iter()
        .map(|r| crate::judge::claims::place(r, now))
        .collect();
    label_leftovers(&places, &dbs, &mut observed);
    let mut judged: Vec<Judged> = observed
        .into_iter()
        .map(|o| judge(policy, o, now))
        .collect();
    apply_version_rules(&places, &dbs, &mut judged);
    judged.sort_by(|a, b| (&a.obs.location, &a.obs.path).cmp(&(&b.obs.location, &b.obs.path)));
    Seen {
        places: places.len() + survey.exec.len(),
        host_places: places,
        judged,
        problems,
        containers: survey.reports,
        warnings: survey.warnings,
        engines: survey.engines,
        engines_up: survey.engines_up,
        dbs,
    }
}

/// The locks of each container listed by exec; a container whose listing failed is a problem
/// (and its report says why).
fn exec_locks(
    survey: &mut Survey,
    listings: Vec<Result<Listing, ListingError>>,
    problems: &mut Vec<Problem>,
) -> Vec<Observed> {
    let mut observed = Vec::new();
    for (target, listing) in survey.exec.iter().zip(listings) {
        match listing {
            Ok(mut l) => {
                l.shared = target.shared.clone();
                observed.extend(locks::container_locks(
                    target.engine,
                    &target.container,
                    &l,
                    problems,
                ))
            }
            Err(e) => {
                survey.reports[target.report].error = Some(e.to_string());
                problems.push(Problem {
                    location: Location::Container(target.container.clone()),
                    path: None,
                    message: format!("{e}; nothing was removed there"),
                });
            }
        }
    }
    observed
}

/// The policy's verdict on one observed lock (none for a file that could not be read).
fn judge(policy: &Policy, obs: Observed, now: chrono::DateTime<Utc>) -> Judged {
    let verdict = obs.file.as_ref().ok().map(|snap| {
        policy.judge(Facts {
            payload: &obs.payload,
            mtime: snap.id.mtime_utc(),
            owner: &obs.owner,
            now,
            holders: &obs.holders,
            held: obs.held_open == Some(true),
            visibility: &obs.visibility,
        })
    });
    Judged { obs, verdict }
}

/// Each place's era and database facts, by its state dir.
fn place_dbs<'a>(
    places: &'a [Place],
    dbs: &'a [crate::judge::claims::PlaceDb],
) -> std::collections::HashMap<&'a std::path::Path, &'a crate::judge::claims::PlaceDb> {
    places
        .iter()
        .zip(dbs)
        .map(|(p, d)| (p.state_dir.as_path(), d))
        .collect()
}

/// What the place's OpenClaw release changes about a lock (see `era`): `non-openclaw-owner`
/// where that release reclaims such a lock itself, and a name for a legacy lock an upgraded
/// gateway will never remove.
fn apply_version_rules(
    places: &[Place],
    dbs: &[crate::judge::claims::PlaceDb],
    judged: &mut [Judged],
) {
    use crate::judge::claims::Era;
    let by_dir = place_dbs(places, dbs);
    for j in judged {
        let (Site::Host { state_dir, .. }, Some(v)) = (&j.obs.site, j.verdict.as_mut()) else {
            continue;
        };
        let Some(db) = by_dir.get(state_dir.as_path()) else {
            continue;
        };
        if db.era == Era::Sqlite {
            continue; // a leftover: labelled as such
        }
        let host_pid = match &j.obs.owner {
            crate::model::process::Owner::Found(f) => {
                f.nspid.first().copied().or(j.obs.payload.pid)
            }
            _ => None,
        };
        let starttime = match &j.obs.owner {
            crate::model::process::Owner::Found(f) => f.starttime,
            _ => None,
        };
        let owner_is_openclaw = (v.owner_state == crate::judge::lock::OwnerState::Alive)
            .then(|| host_pid.and_then(|pid| crate::observe::version::read_cmdline(pid, starttime)))
            .flatten()
            .and_then(|c| crate::judge::version::cmdline_is_openclaw(&c));
        let out = crate::judge::version::judge(crate::judge::version::VersionFacts {
            version: db
                .version
                .as_deref()
                .and_then(crate::model::release::parse_version),
            version_text: db.version.as_deref(),
            owner_state: v.owner_state,
            has_starttime: j.obs.payload.starttime.is_some(),
            owner_is_openclaw,
        });
        if out.non_openclaw_owner {
            v.reasons.push(crate::judge::lock::Reason::NonOpenclawOwner);
            // The holder rule wins: a lock some process holds open is never removed.
            if j.obs.holders.is_empty() && j.obs.held_open != Some(true) {
                v.stale = true;
            } else {
                let kept = "kept: a process holds it open".to_owned();
                v.note = Some(match v.note.take() {
                    Some(old) => format!("{kept}; {old}"),
                    None => kept,
                });
            }
        }
        if let Some(n) = out.note {
            v.note = Some(match v.note.take() {
                Some(old) => format!("{n}; {old}"),
                None => n,
            });
        }
    }
}

/// A lock file in a SQLite-era state dir is a leftover of the migration: OpenClaw 2026.8+
/// never reads nor removes it. Said so beside its verdict.
fn label_leftovers(
    places: &[Place],
    dbs: &[crate::judge::claims::PlaceDb],
    observed: &mut [Observed],
) {
    let by_dir = place_dbs(places, dbs);
    for o in observed {
        let Site::Host { state_dir, .. } = &o.site else {
            continue;
        };
        let sqlite = by_dir
            .get(state_dir.as_path())
            .is_some_and(|d| d.era == crate::judge::claims::Era::Sqlite);
        if sqlite {
            let label =
                "leftover of the migration to SQLite (OpenClaw 2026.8+ never reads nor removes it)";
            o.note = Some(match o.note.take() {
                Some(n) => format!("{label}; {n}"),
                None => label.to_owned(),
            });
        }
    }
}

/// Turns the kernel's answer for each lock read from this host (a write lease the walk asked
/// for as it read the lock, see `holders`) into whether it is held open, says per lock whether
/// that answer can be trusted, and names the
/// holders: the owner the payload names first; every process only for locks still unnamed that
/// may be wedged (held past their max hold or the threshold), whose fix needs a name, so that a
/// busy host's process count does not set the cost of a run. Exec'd locks carry their
/// container's own listing.
fn find_holders(
    observed: &mut [Observed],
    containers: &[ContainerReport],
    policy: &Policy,
    now: chrono::DateTime<Utc>,
) {
    use crate::model::holder::{self, Lease};
    use crate::observe::holders;
    let ids: Vec<(String, String)> = containers
        .iter()
        .map(|c| (c.id.clone(), c.name.clone()))
        .collect();
    let proc_root = std::path::Path::new("/proc");
    let mut fs_of: std::collections::HashMap<PathBuf, Option<String>> = Default::default();
    let mut unnamed: std::collections::HashSet<(u64, u64)> = Default::default();
    for o in observed.iter_mut() {
        let (Site::Host { state_dir, .. }, Ok(snap)) = (&o.site, &o.file) else {
            continue;
        };
        let id = (snap.id.dev, snap.id.ino);
        // Asked by the walk as it read the lock, through the sessions dir it had open.
        let lease = o
            .lease
            .clone()
            .unwrap_or_else(|| Lease::Unknown("not asked".into()));
        let fs_why = fs_of
            .entry(state_dir.clone())
            .or_insert_with(|| holders::remote_fs(state_dir));
        o.visibility = holder::file_visibility(&lease, fs_why.as_deref());
        o.held_open = match lease {
            Lease::Held => Some(true),
            Lease::Free => Some(false),
            Lease::Unknown(_) => None,
        };
        if o.held_open != Some(true) {
            continue;
        }
        // The owner in the payload, as a host pid (first NSpid entry); unobserved, the pid
        // itself (only named if that process really has the inode open).
        let owner = match &o.owner {
            crate::model::process::Owner::Found(f) => f.nspid.first().copied(),
            _ => o.payload.pid,
        };
        match owner.and_then(|pid| holders::holder_in(proc_root, pid, id, &ids)) {
            Some(h) => o.holders = vec![h],
            None => {
                let since = o.payload.created_at.unwrap_or_else(|| snap.id.mtime_utc());
                let limit = o
                    .payload
                    .max_hold_ms
                    .and_then(|ms| i64::try_from(ms).ok())
                    .map_or(policy.stale_after, TimeDelta::milliseconds);
                if now - since > limit {
                    unnamed.insert(id);
                }
            }
        }
    }
    if unnamed.is_empty() {
        return;
    }
    let search = holders::search(proc_root, &unnamed, &ids);
    for o in observed.iter_mut() {
        if let (Site::Host { .. }, Ok(snap), Some(true)) = (&o.site, &o.file, o.held_open)
            && o.holders.is_empty()
        {
            o.holders = search
                .by_id
                .get(&(snap.id.dev, snap.id.ino))
                .cloned()
                .unwrap_or_default();
        }
    }
}

/// Why a container's locks were not listed (its report's error).
#[derive(Debug)]
enum ListingError {
    Exec(crate::sys::docker::DockerError),
    Parse(container::ParseError),
}

impl std::fmt::Display for ListingError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ListingError::Exec(e) => e.fmt(f),
            ListingError::Parse(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for ListingError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ListingError::Exec(e) => Some(e),
            ListingError::Parse(e) => Some(e),
        }
    }
}

/// One observe exec per container, `--jobs` at a time, with a progress line on a terminal.
/// Results in the order of `survey.exec`.
async fn list_containers(survey: &Survey, args: &Places) -> Vec<Result<Listing, ListingError>> {
    use futures_util::StreamExt;
    let total = survey.exec.len();
    let progress = total > 1 && args.progress;
    let mut results = Vec::with_capacity(total);
    let mut stream = futures_util::stream::iter(survey.exec.iter().enumerate())
        .map(|(i, t)| async move {
            let engine = &survey.engines[t.engine];
            let out = engine
                .run_script(
                    &t.container,
                    container::OBSERVE_SCRIPT,
                    &t.dirs,
                    args.timeout,
                )
                .await
                .map_err(ListingError::Exec)
                .and_then(|o| container::parse_listing(&o).map_err(ListingError::Parse));
            (i, out)
        })
        .buffer_unordered(args.jobs);
    while let Some(r) = stream.next().await {
        results.push(r);
        if progress {
            eprint!(
                "\rzaki-locks: looked inside {}/{total} containers",
                results.len()
            );
        }
    }
    if progress {
        eprint!("\r\x1b[K");
    }
    results.sort_unstable_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}

/// Removes every stale lock (none on a dry run): host ones one by one, each container's in one
/// exec, containers `jobs` at a time. Returns an outcome per judged lock (`None`: not acted on).
pub async fn act_async(
    seen: &Seen,
    dry_run: bool,
    timeout: std::time::Duration,
    jobs: usize,
) -> Vec<Option<Outcome>> {
    let mut outcomes: Vec<Option<Outcome>> = vec![None; seen.judged.len()];
    if dry_run {
        return outcomes;
    }
    // Built here, where the site is known to be a container's and the lock read.
    let mut batches: Batch<'_, remove::ContainerItem<'_>> = BTreeMap::new();
    // Held leftovers, each with the name it goes back under.
    let mut put_backs: Batch<'_, (remove::ContainerItem<'_>, String)> = BTreeMap::new();
    for (i, j) in seen.judged.iter().enumerate() {
        let Ok(snap) = &j.obs.file else {
            continue;
        };
        // Asked before each lock: a signal stops the removals that follow it.
        let interrupted = crate::sys::interrupt::caught().is_some();
        match (todo(j, interrupted), &j.obs.site) {
            (Todo::Nothing, _) => {}
            (Todo::PutBack(original), Site::Host { .. }) => {
                outcomes[i] = Some(remove::put_back(&j.obs.site, snap, original));
            }
            (Todo::Remove, Site::Host { .. }) => {
                outcomes[i] = Some(remove::remove(&j.obs.site, snap));
            }
            (
                todo,
                Site::Container {
                    engine,
                    container,
                    state_dir,
                    dir_id,
                },
            ) => {
                let item = container_item(state_dir, *dir_id, &j.obs.path, snap);
                let key = (*engine, container.as_str());
                match todo {
                    Todo::PutBack(original) => put_backs
                        .entry(key)
                        .or_default()
                        .push((i, (item, original.to_string_lossy().into_owned()))),
                    _ => batches.entry(key).or_default().push((i, item)),
                }
            }
        }
    }
    let done = remove_in_containers(seen, batches, timeout, jobs).await;
    for (i, o) in done.into_iter().flatten() {
        outcomes[i] = Some(o);
    }
    // Held leftovers of interrupted removals inside containers, put back by exec.
    for ((engine, container), batch) in put_backs {
        let (idx, items): (Vec<usize>, Vec<_>) = batch.into_iter().unzip();
        let out =
            remove::put_back_in_container(&seen.engines[engine], container, &items, timeout).await;
        for (i, o) in idx.into_iter().zip(out) {
            outcomes[i] = Some(o);
        }
    }
    outcomes
}

/// Each container's stale locks in one exec, `jobs` containers at a time; none once a signal
/// came. Returns (index in `judged`, outcome).
async fn remove_in_containers(
    seen: &Seen,
    batches: Batch<'_, remove::ContainerItem<'_>>,
    timeout: std::time::Duration,
    jobs: usize,
) -> Vec<Vec<(usize, Outcome)>> {
    use futures_util::StreamExt;
    futures_util::stream::iter(batches)
        .map(|((engine, container), batch)| async move {
            if crate::sys::interrupt::caught().is_some() {
                return Vec::new();
            }
            let (idx, items): (Vec<usize>, Vec<remove::ContainerItem<'_>>) =
                batch.into_iter().unzip();
            let out = remove::in_container(&seen.engines[engine], container, &items, timeout).await;
            idx.into_iter().zip(out).collect::<Vec<_>>()
        })
        .buffer_unordered(jobs)
        .collect::<Vec<_>>()
        .await
}

/// Each container's locks as its exec takes them (index in `judged`, item), by (engine,
/// container).
type Batch<'a, T> = BTreeMap<(usize, &'a str), Vec<(usize, T)>>;

/// What `clean` does with one judged lock.
#[derive(Debug, PartialEq, Eq)]
enum Todo<'a> {
    Nothing,
    /// A stale lock, held by no one: removed (unless it changed since it was judged).
    Remove,
    /// The leftover of an interrupted removal that is still held: back under its name.
    PutBack(&'a std::ffi::OsStr),
}

/// The decision for one lock, pure. After SIGINT/SIGTERM (`interrupted`) nothing more is
/// removed nor put back (see `interrupt`). The policy never calls a held lock stale; this
/// checks it once more regardless.
fn todo(j: &Judged, interrupted: bool) -> Todo<'_> {
    let Some(v) = &j.verdict else {
        return Todo::Nothing;
    };
    if interrupted || j.obs.file.is_err() {
        return Todo::Nothing;
    }
    if !v.stale {
        return match j.obs.leftover.as_ref().and_then(|l| l.original.as_deref()) {
            Some(original) => Todo::PutBack(original),
            None => Todo::Nothing,
        };
    }
    if !j.obs.holders.is_empty() || j.obs.held_open == Some(true) {
        return Todo::Nothing;
    }
    Todo::Remove
}

/// A container's lock as the remove script takes it, from the parts of its [`Site::Container`]
/// and the snapshot it was judged on.
fn container_item<'a>(
    state_dir: &'a str,
    dir_id: (u64, u64),
    path: &'a std::path::Path,
    judged: &'a locks::Snapshot,
) -> remove::ContainerItem<'a> {
    remove::ContainerItem {
        state_dir,
        path: path.to_str().unwrap_or_default(),
        dir_id,
        judged,
    }
}

/// The record of a judged lock, with what was done to it.
pub fn record(j: &Judged, action: Action, note: Option<String>) -> LockRecord {
    let note = note.or_else(|| j.obs.file.as_ref().err().map(ToString::to_string));
    LockRecord::new(&j.obs, j.verdict.as_ref(), action, note)
}

/// One `scan` pass: look and judge at `now`; nothing is acted on.
pub async fn scan_pass(places: &Places, policy: &Policy, now: chrono::DateTime<Utc>) -> Report {
    let seen = look_async(places, policy, now).await;
    let records = seen
        .judged
        .iter()
        .map(|j| {
            let action = match j.verdict {
                Some(_) => Action::Kept,
                None => Action::Skipped,
            };
            record(j, action, None)
        })
        .collect();
    report("scan", now, policy, false, seen, records)
}

/// The report of a pass: its records and everything else it saw.
fn report(
    command: &'static str,
    now: chrono::DateTime<Utc>,
    policy: &Policy,
    dry_run: bool,
    seen: Seen,
    records: Vec<LockRecord>,
) -> Report {
    Report::new(
        command,
        now,
        policy.stale_after.num_seconds(),
        dry_run,
        seen.places,
        records,
        seen.problems,
    )
    .with_containers(seen.containers, seen.warnings)
    .with_places(seen.dbs)
    .with_engines(seen.engines_up)
}

/// What became of one judged lock in a `clean` pass.
#[derive(Debug, PartialEq, Eq)]
struct Settled {
    action: Action,
    note: Option<String>,
    /// A removal (or put-back) that failed: reported as a problem (exit 1).
    problem: Option<String>,
}

/// The action, note and problem of a lock from its verdict (`None`: not judged), whether it was
/// read, and what its removal found (`None`: not tried). Pure: the rule `clean` and `watch` share.
fn settle(
    verdict: Option<&Verdict>,
    read: bool,
    outcome: Option<Outcome>,
    dry_run: bool,
) -> Settled {
    let done = |action, note: Option<String>| Settled {
        action,
        note,
        problem: None,
    };
    let Some(v) = verdict.filter(|_| read) else {
        return done(Action::Skipped, None);
    };
    match outcome {
        None if !v.stale => done(Action::Kept, None),
        Some(Outcome::Changed(why)) if !v.stale => done(Action::Kept, Some(why)),
        None if dry_run => done(Action::WouldRemove, None),
        None => done(
            Action::Skipped,
            Some("not removed: the run was interrupted".into()),
        ),
        Some(Outcome::Removed) => done(Action::Removed, None),
        Some(Outcome::Changed(why)) => done(Action::Kept, Some(format!("not removed: {why}"))),
        Some(Outcome::Gone) => done(
            Action::Skipped,
            Some("already gone: released or reclaimed by someone else".into()),
        ),
        Some(Outcome::Failed(e)) => {
            let what = if v.stale {
                "cannot remove stale lock"
            } else {
                "cannot put back the leftover of an interrupted removal"
            };
            Settled {
                action: Action::Skipped,
                note: Some(format!("removal failed: {e}")),
                problem: Some(format!("{what}: {e}")),
            }
        }
    }
}

/// One `clean` pass: look, judge, remove the stale locks (none on a dry run), and report what
/// was done to each lock. Shared by `clean` and every pass of `watch`.
pub async fn clean_pass(places: &Places, policy: &Policy, dry_run: bool) -> Report {
    let now = Utc::now();
    let mut seen = look_async(places, policy, now).await;
    let outcomes = act_async(&seen, dry_run, places.timeout, places.jobs).await;
    let mut records = Vec::with_capacity(seen.judged.len());
    for (j, outcome) in seen.judged.iter().zip(outcomes) {
        let done = settle(j.verdict.as_ref(), j.obs.file.is_ok(), outcome, dry_run);
        if let Some(message) = done.problem {
            seen.problems.push(Problem {
                location: j.obs.location.clone(),
                path: Some(j.obs.path.clone()),
                message,
            });
        }
        let (action, note) = (done.action, done.note);
        records.push(record(j, action, note));
    }
    report("clean", now, policy, dry_run, seen, records)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::judge::lock::OwnerState;

    fn verdict(stale: bool) -> Verdict {
        Verdict {
            stale,
            reasons: Vec::new(),
            owner_state: OwnerState::Dead,
            age: None,
            note: None,
            wedged: false,
        }
    }

    fn action(v: Option<&Verdict>, read: bool, o: Option<Outcome>, dry: bool) -> Action {
        settle(v, read, o, dry).action
    }

    #[test]
    fn what_became_of_a_lock() {
        let (stale, held) = (verdict(true), verdict(false));
        // Not judged or not read: skipped, whatever else.
        assert_eq!(action(None, true, None, false), Action::Skipped);
        assert_eq!(action(Some(&stale), false, None, false), Action::Skipped);
        // Held: kept, also when its put-back found it changed.
        assert_eq!(action(Some(&held), true, None, false), Action::Kept);
        let s = settle(Some(&held), true, Some(Outcome::Changed("x".into())), false);
        assert_eq!((s.action, s.note.as_deref()), (Action::Kept, Some("x")));
        // Stale: would-remove on a dry run, removed, or skipped with why.
        assert_eq!(action(Some(&stale), true, None, true), Action::WouldRemove);
        assert_eq!(
            action(Some(&stale), true, Some(Outcome::Removed), false),
            Action::Removed
        );
        let s = settle(Some(&stale), true, None, false);
        assert_eq!(s.action, Action::Skipped);
        assert!(s.note.unwrap().contains("interrupted"));
        let s = settle(
            Some(&stale),
            true,
            Some(Outcome::Changed("rewritten".into())),
            false,
        );
        assert_eq!(s.action, Action::Kept);
        assert_eq!(s.note.as_deref(), Some("not removed: rewritten"));
        assert_eq!(
            action(Some(&stale), true, Some(Outcome::Gone), false),
            Action::Skipped
        );
    }

    #[test]
    fn only_a_failed_removal_is_a_problem() {
        let s = settle(
            Some(&verdict(true)),
            true,
            Some(Outcome::Failed("EROFS".into())),
            false,
        );
        assert_eq!(s.action, Action::Skipped);
        assert_eq!(
            s.problem.as_deref(),
            Some("cannot remove stale lock: EROFS")
        );
        let s = settle(
            Some(&verdict(false)),
            true,
            Some(Outcome::Failed("EACCES".into())),
            false,
        );
        assert!(s.problem.unwrap().starts_with("cannot put back"));
        assert!(
            settle(Some(&verdict(true)), true, Some(Outcome::Removed), false)
                .problem
                .is_none()
        );
    }

    /// A container's listing with one lock and one leftover of an interrupted removal.
    fn observed() -> Vec<Observed> {
        let hex = |s: &str| s.bytes().map(|b| format!("{b:02x}")).collect::<String>();
        let dir = "/h/.openclaw/agents/main/sessions";
        let payload = r#"{"pid": 7}"#;
        let out = format!(
            "zaki-locks 1\nstate {}\ndir 1 2 {}\nlock {} 1700000000 88 2049 {}\ndata {}\n\
             lock {} 1700000000 89 2049 {}\ndata {}\npid 7 gone\nfds\nend\n",
            hex("/h/.openclaw"),
            hex(dir),
            payload.len(),
            hex(&format!("{dir}/abc.jsonl.lock")),
            hex(payload),
            payload.len(),
            hex(&format!("{dir}/.def.jsonl.lock.zaki-locks-removing.5.6")),
            hex(payload),
        );
        let listing = crate::observe::container::parse_listing(&out).unwrap();
        let o = locks::container_locks(0, "zaki-user-1", &listing, &mut Vec::new());
        assert_eq!(o.len(), 2);
        o
    }

    #[test]
    fn what_clean_does_with_each_lock() {
        let mut o = observed();
        let leftover = Judged {
            obs: o.pop().unwrap(),
            verdict: Some(verdict(false)),
        };
        let mut lock = Judged {
            obs: o.pop().unwrap(),
            verdict: Some(verdict(true)),
        };
        assert_eq!(todo(&lock, false), Todo::Remove);
        assert_eq!(todo(&lock, true), Todo::Nothing, "after a signal");
        lock.obs.held_open = Some(true);
        assert_eq!(
            todo(&lock, false),
            Todo::Nothing,
            "held, whatever the verdict"
        );
        lock.obs.held_open = Some(false);
        lock.verdict = Some(verdict(false));
        assert_eq!(todo(&lock, false), Todo::Nothing, "not stale");
        lock.verdict = None;
        assert_eq!(todo(&lock, false), Todo::Nothing, "not judged");
        // A held leftover goes back under its name; not after a signal.
        assert_eq!(
            todo(&leftover, false),
            Todo::PutBack(std::ffi::OsStr::new("def.jsonl.lock"))
        );
        assert_eq!(todo(&leftover, true), Todo::Nothing);
    }
}
