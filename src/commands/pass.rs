//! The pass every command runs: find places → observe locks, owners, holders and claims → ask
//! the judge → act on its verdicts. It gathers facts and carries out verdicts; every decision
//! is `judge`'s. Commands (`app`, `watch`, `probe`, `remedy`) choose the places and what to do
//! with the verdicts.

use std::collections::BTreeMap;

use chrono::Utc;
use color_eyre::eyre::{Result, WrapErr};

use crate::act::remove::{self, Outcome};
use crate::commands::config::Places;
use crate::find::survey::{self, ContainerReport, Survey};
use crate::find::walk;
use crate::judge::claims::{Era, PlaceDb};
use crate::judge::clean::{self, Step};
use crate::judge::lock::{Facts, PlaceFacts, Policy, SECOND_LOOK, Verdict};
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
    pub places_looked: usize,
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

/// Find → observe → judge, for every place; then, for the locks the judge wants to see again
/// (nobody held them, and their owner may be alive), a second look a second later.
pub async fn look(args: &Places, policy: &Policy, now: chrono::DateTime<Utc>) -> Seen {
    let mut problems = Vec::new();
    let mut places = match &args.host {
        Some(search) => walk::places(search, &mut problems),
        None => Vec::new(),
    };
    let mut survey = Survey::default();
    if let Some(search) = &args.containers {
        survey = survey::survey(search, &mut places, &mut problems).await;
    }
    let proc = HostProc::open();
    let all_exec: Vec<usize> = (0..survey.exec.len()).collect();
    let all_places: Vec<usize> = (0..places.len()).collect();
    let found = find_locks(
        args,
        &places,
        &all_places,
        &survey,
        &all_exec,
        &mut problems,
    )
    .await;
    // The places' databases, where the walk saw some (or could not tell).
    let read = crate::observe::claims::ReadOptions::new(args.place_timeout);
    let dbs: Vec<PlaceDb> =
        crate::observe::claims::observe(&places, &found.walked.databases, &proc, &read)
            .into_iter()
            .map(|r| crate::judge::claims::place(r, now))
            .collect();
    let observed = observe_locks((&places, &dbs), found, &mut survey, &proc, &mut problems);
    let looked = Utc::now();
    let facts = place_facts(&places, &dbs);
    let mut judged = judge_all(policy, observed, &facts, now);
    if judged.iter().any(pending) {
        let again = LookAgain {
            args,
            places: &places,
            dbs: &dbs,
            facts: &facts,
            proc: &proc,
            policy,
            first: looked,
        };
        again.run(&mut survey, &mut judged, &mut problems).await;
    }
    missing_evidence(&judged, &mut problems);
    judged.sort_by(|a, b| (&a.obs.location, &a.obs.path).cmp(&(&b.obs.location, &b.obs.path)));
    Seen {
        places_looked: places.len() + survey.exec.len(),
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

/// The lock files of the host places `host` (indices into `places`), each read once, and the
/// listings of the exec targets `exec` (indices into `survey.exec`).
struct FoundLocks {
    walked: walk::Walked,
    exec: Vec<usize>,
    listings: Vec<Result<Listing, ListingError>>,
}

async fn find_locks(
    args: &Places,
    places: &[Place],
    host: &[usize],
    survey: &Survey,
    exec: &[usize],
    problems: &mut Vec<Problem>,
) -> FoundLocks {
    // Inside containers (exec) first: it runs concurrently and takes the longest.
    let listings = list_containers(survey, exec, args).await;
    FoundLocks {
        walked: walk::lock_files_of(places, host, problems),
        exec: exec.to_vec(),
        listings,
    }
}

/// Observes the locks found: each one's owner, who has it open.
fn observe_locks(
    (places, dbs): (&[Place], &[PlaceDb]),
    found: FoundLocks,
    survey: &mut Survey,
    proc: &HostProc,
    problems: &mut Vec<Problem>,
) -> Vec<Observed> {
    let mut observed = locks::host_locks(places, found.walked.found, proc, problems);
    observed.extend(exec_locks(survey, &found.exec, found.listings, problems));
    // Every lock has been read (and its lease asked): now who holds them open (see `holders`).
    find_holders(&mut observed, &survey.reports);
    for o in observed.iter_mut() {
        if let Site::Host { state_dir, .. } = &o.site
            && let Some((_, why)) = survey.ambiguous.iter().find(|(d, _)| d == state_dir)
        {
            o.note = Some(why.clone());
        }
    }
    // The owner's command line matters only where the place's release is known (see
    // `judge::version`): read it there.
    let known: std::collections::HashSet<&std::path::Path> = places
        .iter()
        .zip(dbs)
        .filter(|(_, d)| d.version.is_some())
        .map(|(p, _)| p.state_dir.as_path())
        .collect();
    crate::observe::version::owner_cmdlines(&mut observed, &known);
    crate::observe::version::full_owner_names(&mut observed);
    observed
}

/// Whether the judge wants to see a lock again (see [`LookAgain`]).
fn pending(j: &Judged) -> bool {
    j.verdict.as_ref().is_some_and(|v| v.look_again)
}

/// Places a batch of the second look (see [`LookAgain::run`]).
const AGAIN_PLACES: usize = 2048;

/// The second look at the locks the judge saw unheld once: their places are read again at
/// least [`SECOND_LOOK`] after the first look, and each such lock is judged again with when it
/// was first seen unheld, if it is still the same file (inode, size, mtime and bytes).
struct LookAgain<'a> {
    args: &'a Places,
    places: &'a [Place],
    dbs: &'a [PlaceDb],
    /// The places' facts the first look was judged with.
    facts: &'a PlaceIndex<'a>,
    proc: &'a HostProc,
    policy: &'a Policy,
    /// When the first look ended: every lease of it was asked before.
    first: chrono::DateTime<Utc>,
}

impl LookAgain<'_> {
    async fn run(&self, survey: &mut Survey, judged: &mut [Judged], problems: &mut Vec<Problem>) {
        let (host, exec) = self.places_of(survey, judged.iter().filter(|j| pending(j)));
        let wait = (self.first + SECOND_LOOK - Utc::now())
            .to_std()
            .unwrap_or_default();
        tokio::time::sleep(wait).await;
        // Sorted, so that each lock of the second look is found by binary search: no copy of
        // every key nor a table beside 100,000 locks.
        judged.sort_by(|a, b| (&a.obs.location, &a.obs.path).cmp(&(&b.obs.location, &b.obs.path)));
        // The places a batch at a time, so that the second look holds one batch's locks, not
        // every place's again beside the first look's (issue 21: clean's peak memory). The
        // containers listed by exec go with the first batch.
        let batches: Vec<&[usize]> = match host.len() {
            0 => vec![&[]],
            _ => host.chunks(AGAIN_PLACES).collect(),
        };
        let mut exec = Some(exec);
        for batch in batches {
            let exec = exec.take().unwrap_or_default();
            let mut again_problems = Vec::new();
            let found = find_locks(
                self.args,
                self.places,
                batch,
                survey,
                &exec,
                &mut again_problems,
            )
            .await;
            let places = (self.places, self.dbs);
            let seen = observe_locks(places, found, survey, self.proc, &mut again_problems);
            // A place that failed the second time keeps its locks as the first look judged them.
            for p in again_problems {
                if !problems.contains(&p) {
                    problems.push(p);
                }
            }
            self.judge_again(seen, judged);
        }
    }

    /// Judges again each pending lock of `judged` (sorted by location and path) that the second
    /// look `seen` found still the same file. Of a path seen twice, the last counts.
    fn judge_again(&self, mut seen: Vec<Observed>, judged: &mut [Judged]) {
        seen.sort_by(|a, b| (&a.location, &a.path).cmp(&(&b.location, &b.path)));
        seen.dedup_by(|later, kept| {
            let same = (&later.location, &later.path) == (&kept.location, &kept.path);
            if same {
                std::mem::swap(later, kept);
            }
            same
        });
        let now = Utc::now();
        for mut o in seen {
            let key = (&o.location, &o.path);
            let Ok(i) = judged.binary_search_by(|j| (&j.obs.location, &j.obs.path).cmp(&key))
            else {
                continue; // a lock taken since the first look: judged on the next run
            };
            let j = &mut judged[i];
            // Not pending, or another lock now: judged again on the next run. A pending lock
            // the second look did not see is gone: released, nothing to remove.
            if !pending(j) || !matches!((&o.file, &j.obs.file), (Ok(a), Ok(b)) if a == b) {
                continue;
            }
            o.unheld_since = Some(self.first);
            *j = judge(self.policy, o, self.facts, now);
        }
    }

    /// The host places (indices into `places`) and exec targets (into `survey.exec`) of `locks`.
    fn places_of<'j>(
        &self,
        survey: &Survey,
        locks: impl Iterator<Item = &'j Judged>,
    ) -> (Vec<usize>, Vec<usize>) {
        let place_of: std::collections::HashMap<&std::path::Path, usize> = self
            .places
            .iter()
            .enumerate()
            .map(|(i, p)| (p.state_dir.as_path(), i))
            .collect();
        let target_of: std::collections::HashMap<&str, usize> = survey
            .exec
            .iter()
            .enumerate()
            .map(|(i, t)| (t.container.as_str(), i))
            .collect();
        let mut host = std::collections::BTreeSet::new();
        let mut exec = std::collections::BTreeSet::new();
        for j in locks {
            match &j.obs.site {
                Site::Host { state_dir, .. } => host.extend(place_of.get(state_dir.as_path())),
                Site::Container { container, .. } => exec.extend(target_of.get(container.as_str())),
            }
        }
        (host.into_iter().collect(), exec.into_iter().collect())
    }
}

/// A run that could not get the evidence some locks need (the holder check refused) says so
/// once, as a problem: those locks were kept.
fn missing_evidence(judged: &[Judged], problems: &mut Vec<Problem>) {
    let mut missing = judged
        .iter()
        .filter_map(|j| j.verdict.as_ref()?.evidence_missing.as_deref());
    let Some(why) = missing.next() else {
        return;
    };
    let n = 1 + missing.count();
    problems.push(Problem {
        location: Location::Host,
        path: None,
        message: format!("cannot check who holds {n} lock(s), so they were kept: {why}"),
    });
}

/// The locks of each container listed by exec; a container whose listing failed is a problem
/// (and its report says why).
fn exec_locks(
    survey: &mut Survey,
    exec: &[usize],
    listings: Vec<Result<Listing, ListingError>>,
    problems: &mut Vec<Problem>,
) -> Vec<Observed> {
    let mut observed = Vec::new();
    for (&t, listing) in exec.iter().zip(listings) {
        let target = &survey.exec[t];
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

/// The judge's verdict on one observed lock (none for a file that could not be read).
fn judge(
    policy: &Policy,
    obs: Observed,
    places: &PlaceIndex<'_>,
    now: chrono::DateTime<Utc>,
) -> Judged {
    let place = match &obs.site {
        Site::Host { state_dir, .. } => {
            places.get(state_dir.as_path()).copied().unwrap_or_default()
        }
        Site::Container { .. } => PlaceFacts::default(),
    };
    let verdict = obs.file.as_ref().ok().map(|snap| {
        policy.judge(Facts {
            payload: &obs.payload,
            kind: obs.kind,
            mtime: snap.id.mtime_utc(),
            owner: &obs.owner,
            owner_cmdline: obs.owner_cmdline.as_deref(),
            now,
            holders: &obs.holders,
            held: obs.held_open == Some(true),
            holders_all_named: obs.holders_all_named,
            visibility: &obs.visibility,
            unheld_since: obs.unheld_since,
            place,
        })
    });
    Judged { obs, verdict }
}

/// Every observed lock judged, in order, each moved out as its verdict is made (from the last,
/// the storage given back as it empties): 100,000 locks are never held both as observed and
/// as judged.
fn judge_all(
    policy: &Policy,
    mut observed: Vec<Observed>,
    places: &PlaceIndex<'_>,
    now: chrono::DateTime<Utc>,
) -> Vec<Judged> {
    let mut judged = Vec::with_capacity(observed.len());
    while let Some(o) = observed.pop() {
        judged.push(judge(policy, o, places, now));
        if observed.len().is_multiple_of(4096) {
            observed.shrink_to_fit();
        }
    }
    judged.reverse();
    judged
}

/// What the judge needs of each host place, by its state dir: its release and era.
type PlaceIndex<'a> = std::collections::HashMap<&'a std::path::Path, PlaceFacts<'a>>;

fn place_facts<'a>(places: &'a [Place], dbs: &'a [PlaceDb]) -> PlaceIndex<'a> {
    places
        .iter()
        .zip(dbs)
        .map(|(p, d)| {
            let facts = PlaceFacts {
                version: d.version.as_deref(),
                sqlite: d.era == Era::Sqlite,
            };
            (p.state_dir.as_path(), facts)
        })
        .collect()
}

/// Turns the kernel's answer for each lock read from this host (a write lease the walk asked
/// for as it read the lock, see `sys::lease`) into whether it is held open, and names who has
/// the held ones open, and how: the owner the payload names first (the gateway itself, as
/// measured), each owner's fd table read once for all the locks it is named by; when that is
/// not a writer of it, every process, in one search of `/proc` for all such locks. Exec'd locks
/// carry their container's own listing.
fn find_holders(observed: &mut [Observed], containers: &[ContainerReport]) {
    use crate::model::holder::{Holder, Lease};
    use crate::observe::holders;
    use std::collections::{HashMap, HashSet};
    let ids: Vec<(String, String)> = containers
        .iter()
        .map(|c| (c.id.clone(), c.name.clone()))
        .collect();
    let proc_root = std::path::Path::new("/proc");
    // The held locks by their owner's host pid, so each owner's fds are listed once a run.
    let mut by_owner: HashMap<u64, HashSet<(u64, u64)>> = HashMap::new();
    for o in observed.iter_mut() {
        let Some(id) = host_read_id(o) else { continue };
        o.held_open = match &o.lease {
            Some(Lease::Held) => Some(true),
            Some(Lease::Free) => Some(false),
            Some(Lease::Unknown(_) | Lease::Refused(_)) | None => None,
        };
        if let (Some(true), Some(pid)) = (o.held_open, host_owner(o)) {
            by_owner.entry(pid).or_default().insert(id);
        }
    }
    let named: HashMap<u64, HashMap<(u64, u64), Holder>> = by_owner
        .iter()
        .filter_map(|(&pid, wanted)| {
            Some((pid, holders::holders_in(proc_root, pid, wanted, &ids)?))
        })
        .collect();
    let mut unnamed: HashSet<(u64, u64)> = HashSet::new();
    for o in observed.iter_mut() {
        let Some(id) = host_read_id(o).filter(|_| o.held_open == Some(true)) else {
            continue;
        };
        let own = host_owner(o).and_then(|pid| named.get(&pid)?.get(&id).cloned());
        if !own.as_ref().is_some_and(Holder::writes) {
            unnamed.insert(id);
        }
        // The owner first, when it has it open (in any mode).
        o.holders = own.into_iter().collect();
    }
    if unnamed.is_empty() {
        return;
    }
    let search = holders::search(proc_root, &unnamed, &ids);
    for o in observed.iter_mut() {
        let Some(id) =
            host_read_id(o).filter(|id| o.held_open == Some(true) && unnamed.contains(id))
        else {
            continue;
        };
        for h in search.by_id.get(&id).into_iter().flatten() {
            if !o.holders.iter().any(|x| x.host_pid == h.host_pid) {
                o.holders.push(h.clone());
            }
        }
        o.holders_all_named = search.incomplete.is_none();
    }
}

/// The (device, inode) of a lock read from this host's filesystem; `None` for a container's
/// or an unread one.
fn host_read_id(o: &Observed) -> Option<(u64, u64)> {
    match (&o.site, &o.file) {
        (Site::Host { .. }, Ok(snap)) => Some((snap.id.dev, snap.id.ino)),
        _ => None,
    }
}

/// The owner in a lock's payload as a host pid (its first NSpid entry), only when it was
/// observed: a pid of another namespace is never looked up in this host's /proc.
fn host_owner(o: &Observed) -> Option<u64> {
    match &o.owner {
        crate::model::process::Owner::Found(f) => f.nspid.first().copied(),
        _ => None,
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
async fn list_containers(
    survey: &Survey,
    which: &[usize],
    args: &Places,
) -> Vec<Result<Listing, ListingError>> {
    use futures_util::StreamExt;
    let total = which.len();
    let progress = total > 1 && args.progress;
    let mut results = Vec::with_capacity(total);
    let mut stream = futures_util::stream::iter(which.iter().map(|&t| &survey.exec[t]).enumerate())
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
pub async fn act(
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
        let step = clean::step(
            j.verdict.as_ref(),
            true,
            j.obs.leftover.as_ref(),
            interrupted,
        );
        match (step, &j.obs.site) {
            (Step::Keep, _) => {}
            (Step::PutBack(original), Site::Host { .. }) => {
                outcomes[i] = Some(remove::put_back(&j.obs.site, snap, original));
            }
            (Step::Remove, Site::Host { .. }) => {
                outcomes[i] = Some(remove::remove(&j.obs.site, snap));
            }
            (
                step,
                Site::Container {
                    engine,
                    container,
                    state_dir,
                    dir_id,
                },
            ) => {
                let item = container_item(state_dir, *dir_id, &j.obs.path, snap);
                let key = (*engine, container.as_str());
                match step {
                    Step::PutBack(original) => put_backs
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
    let mut seen = look(places, policy, now).await;
    let records = records(std::mem::take(&mut seen.judged), |j| {
        let action = match j.verdict {
            Some(_) => Action::Kept,
            None => Action::Skipped,
        };
        (action, None)
    });
    report("scan", now, policy, false, seen, records)
}

/// The records of the judged locks, in their order, each made as its lock is let go (from the
/// last, the locks' storage given back as it empties): 100,000 locks are never held both as
/// facts and as records. `what` says what was done to each lock.
fn records(
    mut judged: Vec<Judged>,
    mut what: impl FnMut(&Judged) -> (Action, Option<String>),
) -> Vec<LockRecord> {
    let mut records = Vec::with_capacity(judged.len());
    while let Some(j) = judged.pop() {
        let (action, note) = what(&j);
        records.push(record(&j, action, note));
        if judged.len().is_multiple_of(4096) {
            judged.shrink_to_fit();
        }
    }
    records.reverse();
    records
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
        seen.places_looked,
        records,
        seen.problems,
    )
    .with_containers(seen.containers, seen.warnings)
    .with_places(seen.dbs)
    .with_engines(seen.engines_up)
}

/// One `clean` pass: look, judge, remove the stale locks (none on a dry run), and report what
/// was done to each lock. Shared by `clean` and every pass of `watch`.
pub async fn clean_pass(places: &Places, policy: &Policy, dry_run: bool) -> Report {
    let now = Utc::now();
    // Docker's answers are outside the run: SIGTERM may end it while it waits on them.
    let _outside = places
        .containers
        .is_some()
        .then(crate::sys::interrupt::outside);
    let mut seen = look(places, policy, now).await;
    let mut outcomes = act(&seen, dry_run, places.timeout, places.jobs).await;
    // Records are made from the last lock back (see `records`): its problems, put back in order.
    let mut problems = Vec::new();
    let records = records(std::mem::take(&mut seen.judged), |j| {
        let outcome = outcomes.pop().flatten();
        let done = clean::settle(j.verdict.as_ref(), j.obs.file.is_ok(), outcome, dry_run);
        if let Some(message) = done.problem {
            problems.push(Problem {
                location: j.obs.location.clone(),
                path: Some(j.obs.path.clone()),
                message,
            });
        }
        (done.action, done.note)
    });
    seen.problems.extend(problems.into_iter().rev());
    report("clean", now, policy, dry_run, seen, records)
}
