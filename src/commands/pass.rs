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
use crate::report::record::{Action, LockCounts, LockRecord, Report};
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

/// Places a batch of the pass (see [`Looking`]): the locks of 1,024 user dirs are a few
/// megabytes of facts, where every place's at once were 200 MB at 50,000 users (issue 21).
const BATCH_PLACES: usize = 1024;
/// Most batches judged once and waiting for their second look: the bound on what a pass holds
/// when every batch has locks to look at again (8 × 1,024 places: 16,384 locks at the platform's
/// two a user, about 20 MB). A batch's two looks take about 0.15 s at 50,000 users on 2 cores,
/// so the oldest is past its second by its turn.
const MAX_WAITING: usize = 8;

/// Find → observe → judge for every place, as a stream of batches of places: each batch's
/// locks judged (after a second look a second later, for the locks the judge wants to see
/// again: nobody held them, and their owner may be alive), sorted by location and path, in the
/// order of the places. A pass holds a few batches' locks, never every place's: a command acts
/// on and reports each batch before taking the next ([`Looking::next`]).
pub struct Looking<'a> {
    args: &'a Places,
    policy: &'a Policy,
    now: chrono::DateTime<Utc>,
    places: Vec<Place>,
    survey: Survey,
    proc: HostProc,
    /// What the run may still spend on tenants' files, over every batch.
    budget: walk::Budget,
    read: crate::observe::claims::ReadOptions,
    problems: Vec<Problem>,
    /// Each host place's era and claims, for the places first-looked so far.
    dbs: Vec<PlaceDb>,
    /// The batches still to look at, first to last.
    batches: std::collections::VecDeque<PlaceBatch>,
    /// Batches first-looked, waiting for their second look (or their turn), in order.
    waiting: std::collections::VecDeque<FirstLook>,
    /// Locks kept because who holds them could not be checked: how many, and why.
    missing: (usize, Option<String>),
    /// The owners' fd tables as far as they were listed: each is listed once a run, not once
    /// a batch.
    fd_tables: crate::observe::holders::FdTables,
}

/// A batch of the pass: host places (a range of their indices) and exec'd containers (indices
/// into `survey.exec`; all of them go with the last batch).
struct PlaceBatch {
    places: std::ops::Range<usize>,
    exec: Vec<usize>,
}

/// A batch judged once: its locks, and when its first look ended (every lease of it was asked
/// before).
struct FirstLook {
    batch: PlaceBatch,
    judged: Vec<Judged>,
    looked: chrono::DateTime<Utc>,
}

impl FirstLook {
    fn pending(&self) -> bool {
        self.judged.iter().any(pending)
    }
}

impl<'a> Looking<'a> {
    /// Finds the places (and the containers to exec into): nothing is read of them yet.
    pub async fn start(
        args: &'a Places,
        policy: &'a Policy,
        now: chrono::DateTime<Utc>,
    ) -> Looking<'a> {
        let mut problems = Vec::new();
        let mut places = match &args.host {
            Some(search) => walk::places(search, &mut problems),
            None => Vec::new(),
        };
        let mut survey = Survey::default();
        if let Some(search) = &args.containers {
            survey = survey::survey(search, &mut places, &mut problems).await;
        }
        let mut batches: std::collections::VecDeque<PlaceBatch> = (0..places.len())
            .step_by(BATCH_PLACES)
            .map(|s| PlaceBatch {
                places: s..places.len().min(s + BATCH_PLACES),
                exec: Vec::new(),
            })
            .collect();
        let exec: Vec<usize> = (0..survey.exec.len()).collect();
        let n_places = places.len();
        match batches.back_mut() {
            Some(last) => last.exec = exec,
            None => batches.push_back(PlaceBatch { places: 0..0, exec }),
        }
        Looking {
            args,
            policy,
            now,
            places,
            survey,
            proc: HostProc::open(),
            budget: walk::Budget::default(),
            read: crate::observe::claims::ReadOptions::new(args.place_timeout),
            problems,
            dbs: Vec::with_capacity(n_places),
            batches,
            waiting: Default::default(),
            missing: (0, None),
            fd_tables: Default::default(),
        }
    }

    /// The Docker engines asked: acting on a container's lock goes through its engine.
    pub fn engines(&self) -> &[Engine] {
        &self.survey.engines
    }

    /// The next batch's locks, judged, sorted by location and path; `None` once every place
    /// was looked at. Batches are first-looked ahead (up to [`MAX_WAITING`]) while the oldest
    /// waits out its second look.
    pub async fn next(&mut self) -> Option<Vec<Judged>> {
        loop {
            // A batch with nothing to look at again is done at once (behind those before it).
            if self.waiting.front().is_some_and(|f| !f.pending()) {
                let head = self.waiting.pop_front()?;
                return Some(self.second_look(head).await);
            }
            // The others wait out their second, while the batches after them are looked at:
            // with the queue kept full, the oldest is a second old by its turn.
            if self.waiting.len() < MAX_WAITING
                && let Some(batch) = self.batches.pop_front()
            {
                let first = self.first_look(batch).await;
                self.waiting.push_back(first);
                continue;
            }
            let head = self.waiting.pop_front()?;
            return Some(self.second_look(head).await);
        }
    }

    /// Everything else the pass saw, once every batch was taken; `judged`: the locks, when the
    /// command kept them.
    pub fn finish(mut self, judged: Vec<Judged>) -> Seen {
        if let (n @ 1.., Some(why)) = self.missing {
            self.problems.push(Problem {
                location: Location::Host,
                path: None,
                message: format!("cannot check who holds {n} lock(s), so they were kept: {why}"),
            });
        }
        Seen {
            places_looked: self.places.len() + self.survey.exec.len(),
            host_places: self.places,
            judged,
            problems: self.problems,
            containers: self.survey.reports,
            warnings: self.survey.warnings,
            engines: self.survey.engines,
            engines_up: self.survey.engines_up,
            dbs: self.dbs,
        }
    }

    /// Finds, observes and judges the locks of `batch` once.
    async fn first_look(&mut self, batch: PlaceBatch) -> FirstLook {
        let host: Vec<usize> = batch.places.clone().collect();
        let found = self.find_locks(&host, &batch.exec, None).await;
        // The batch's databases, where the walk saw some (or could not tell).
        let (places, databases) = (&self.places[batch.places.clone()], &found.walked.databases);
        let readings = crate::observe::claims::observe(
            places,
            &databases[batch.places.clone()],
            &self.proc,
            &self.read,
        );
        let now = self.now;
        self.dbs.extend(
            readings
                .into_iter()
                .map(|r| crate::judge::claims::place(r, now)),
        );
        let observed = self.observe_locks(&batch, found, None);
        let looked = Utc::now();
        let facts = place_facts(&self.places[batch.places.clone()], self.batch_dbs(&batch));
        let judged = judge_all(self.policy, observed, &facts, self.now);
        FirstLook {
            batch,
            judged,
            looked,
        }
    }

    /// The second look at the locks of `first` the judge saw unheld once: their places are read
    /// again at least [`SECOND_LOOK`] after the first look, and each such lock is judged again
    /// with when it was first seen unheld, if it is still the same file (inode, size, mtime and
    /// bytes). Returns the batch's locks, sorted.
    async fn second_look(&mut self, first: FirstLook) -> Vec<Judged> {
        let FirstLook {
            batch,
            mut judged,
            looked,
        } = first;
        // Sorted, so that each lock of the second look is found by binary search: no copy of
        // every key nor a table beside them.
        judged.sort_by(|a, b| (&a.obs.location, &a.obs.path).cmp(&(&b.obs.location, &b.obs.path)));
        if judged.iter().any(pending) {
            let (host, exec) = self.places_of(&batch, judged.iter().filter(|j| pending(j)));
            let wait = (looked + SECOND_LOOK - Utc::now())
                .to_std()
                .unwrap_or_default();
            tokio::time::sleep(wait).await;
            let mut again = Vec::new();
            let found = self.find_locks(&host, &exec, Some(&mut again)).await;
            let seen = self.observe_locks(&batch, found, Some(&mut again));
            // A place that failed the second time keeps its locks as the first look judged them.
            for p in again {
                if !self.problems.contains(&p) {
                    self.problems.push(p);
                }
            }
            let facts = place_facts(&self.places[batch.places.clone()], self.batch_dbs(&batch));
            judge_again(self.policy, &facts, looked, seen, &mut judged);
        }
        for why in judged
            .iter()
            .filter_map(|j| j.verdict.as_ref()?.evidence_missing.as_deref())
        {
            self.missing.0 += 1;
            self.missing.1.get_or_insert_with(|| why.to_owned());
        }
        judged
    }

    /// The databases of `batch`'s places (first-looked: every batch before it was too).
    fn batch_dbs(&self, batch: &PlaceBatch) -> &[PlaceDb] {
        &self.dbs[batch.places.clone()]
    }

    /// The lock files of the host places `host` (indices into `places`), each read once, and
    /// the listings of the exec targets `exec` (indices into `survey.exec`). Problems go to
    /// `problems`, or the pass's.
    async fn find_locks(
        &mut self,
        host: &[usize],
        exec: &[usize],
        problems: Option<&mut Vec<Problem>>,
    ) -> FoundLocks {
        // Inside containers (exec) first: it runs concurrently and takes the longest.
        let listings = list_containers(&self.survey, exec, self.args).await;
        let problems = problems.unwrap_or(&mut self.problems);
        FoundLocks {
            walked: walk::lock_files_of(&self.places, host, &self.budget, problems),
            exec: exec.to_vec(),
            listings,
        }
    }

    /// Observes the locks found in `batch`: each one's owner, who has it open.
    fn observe_locks(
        &mut self,
        batch: &PlaceBatch,
        found: FoundLocks,
        problems: Option<&mut Vec<Problem>>,
    ) -> Vec<Observed> {
        let problems = problems.unwrap_or(&mut self.problems);
        let (places, survey) = (&self.places, &mut self.survey);
        let mut observed = locks::host_locks(places, found.walked.found, &self.proc, problems);
        observed.extend(exec_locks(survey, &found.exec, found.listings, problems));
        // Every lock has been read (and its lease asked): now who holds them open (see
        // `holders`).
        find_holders(&mut observed, &survey.reports, &mut self.fd_tables);
        for o in observed.iter_mut() {
            if let Site::Host { state_dir, .. } = &o.site
                && let Some((_, why)) = survey.ambiguous.iter().find(|(d, _)| d == state_dir)
            {
                o.note = Some(why.clone());
            }
        }
        // The owner's command line matters only where the place's release is known (see
        // `judge::version`): read it there.
        let dbs = &self.dbs[batch.places.clone()];
        let known: std::collections::HashSet<&std::path::Path> = places[batch.places.clone()]
            .iter()
            .zip(dbs)
            .filter(|(_, d)| d.version.is_some())
            .map(|(p, _)| p.state_dir.as_path())
            .collect();
        crate::observe::version::owner_cmdlines(&mut observed, &known);
        crate::observe::version::full_owner_names(&mut observed);
        observed
    }

    /// The host places (indices into `places`) and exec targets (into `survey.exec`) of `locks`,
    /// all of `batch`.
    fn places_of<'j>(
        &self,
        batch: &PlaceBatch,
        locks: impl Iterator<Item = &'j Judged>,
    ) -> (Vec<usize>, Vec<usize>) {
        let place_of: std::collections::HashMap<&std::path::Path, usize> = batch
            .places
            .clone()
            .map(|i| (self.places[i].state_dir.as_path(), i))
            .collect();
        let target_of: std::collections::HashMap<&str, usize> = batch
            .exec
            .iter()
            .map(|&i| (self.survey.exec[i].container.as_str(), i))
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

/// Every lock of every place, judged: a pass for the commands that take all of it at once
/// (`probe`, `remedy`'s re-check: one container each).
pub async fn look(args: &Places, policy: &Policy, now: chrono::DateTime<Utc>) -> Seen {
    let mut looking = Looking::start(args, policy, now).await;
    let mut judged = Vec::new();
    while let Some(batch) = looking.next().await {
        judged.extend(batch);
    }
    looking.finish(judged)
}

/// The lock files of the host places the walk read, and the listings of the exec targets
/// `exec` (indices into `survey.exec`).
struct FoundLocks {
    walked: walk::Walked,
    exec: Vec<usize>,
    listings: Vec<Result<Listing, ListingError>>,
}

/// Whether the judge wants to see a lock again (see [`Looking::second_look`]).
fn pending(j: &Judged) -> bool {
    j.verdict.as_ref().is_some_and(|v| v.look_again)
}

/// Judges again each pending lock of `judged` (sorted by location and path) that the second
/// look `seen` found still the same file, as unheld since `first`. Of a path seen twice, the
/// last counts.
fn judge_again(
    policy: &Policy,
    facts: &PlaceIndex<'_>,
    first: chrono::DateTime<Utc>,
    mut seen: Vec<Observed>,
    judged: &mut [Judged],
) {
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
        let Ok(i) = judged.binary_search_by(|j| (&j.obs.location, &j.obs.path).cmp(&key)) else {
            continue; // a lock taken since the first look: judged on the next run
        };
        let j = &mut judged[i];
        // Not pending, or another lock now: judged again on the next run. A pending lock the
        // second look did not see is gone: released, nothing to remove.
        if !pending(j) || !matches!((&o.file, &j.obs.file), (Ok(a), Ok(b)) if a == b) {
            continue;
        }
        o.unheld_since = Some(first);
        *j = judge(policy, o, facts, now);
    }
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
fn find_holders(
    observed: &mut [Observed],
    containers: &[ContainerReport],
    known: &mut crate::observe::holders::FdTables,
) {
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
            Some((
                pid,
                holders::holders_in(proc_root, pid, wanted, &ids, known)?,
            ))
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
    let search = holders::search_known(proc_root, &unnamed, &ids, known);
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
    judged: &[Judged],
    engines: &[Engine],
    dry_run: bool,
    timeout: std::time::Duration,
    jobs: usize,
) -> Vec<Option<Outcome>> {
    let mut outcomes: Vec<Option<Outcome>> = vec![None; judged.len()];
    if dry_run {
        return outcomes;
    }
    // Built here, where the site is known to be a container's and the lock read.
    let mut batches: Batch<'_, remove::ContainerItem<'_>> = BTreeMap::new();
    // Held leftovers, each with the name it goes back under.
    let mut put_backs: Batch<'_, (remove::ContainerItem<'_>, String)> = BTreeMap::new();
    for (i, j) in judged.iter().enumerate() {
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
    let done = remove_in_containers(engines, batches, timeout, jobs).await;
    for (i, o) in done.into_iter().flatten() {
        outcomes[i] = Some(o);
    }
    // Held leftovers of interrupted removals inside containers, put back by exec.
    for ((engine, container), batch) in put_backs {
        let (idx, items): (Vec<usize>, Vec<_>) = batch.into_iter().unzip();
        let out = remove::put_back_in_container(&engines[engine], container, &items, timeout).await;
        for (i, o) in idx.into_iter().zip(out) {
            outcomes[i] = Some(o);
        }
    }
    outcomes
}

/// Each container's stale locks in one exec, `jobs` containers at a time; none once a signal
/// came. Returns (index in `judged`, outcome).
async fn remove_in_containers(
    engines: &[Engine],
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
            let out = remove::in_container(&engines[engine], container, &items, timeout).await;
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

/// Where a pass's records go, in order, each as soon as its lock is done with: a command
/// writes them out (100,000 locks are never all records at once) or keeps them.
pub type Sink<'s> = &'s mut dyn FnMut(LockRecord);

/// One `scan` pass: look and judge at `now`; nothing is acted on. The records go to `sink`;
/// the report counts them.
pub async fn scan_pass(
    places: &Places,
    policy: &Policy,
    now: chrono::DateTime<Utc>,
    sink: Sink<'_>,
) -> Report {
    let mut looking = Looking::start(places, policy, now).await;
    let mut counts = LockCounts::default();
    while let Some(batch) = looking.next().await {
        let records = records(batch, |j| {
            let action = match j.verdict {
                Some(_) => Action::Kept,
                None => Action::Skipped,
            };
            (action, None)
        });
        for r in records {
            counts.add(&r);
            sink(r);
        }
    }
    report(
        "scan",
        now,
        policy,
        false,
        looking.finish(Vec::new()),
        counts,
    )
}

/// The records of the judged locks, in their order, each made as its lock is let go (from the
/// last, the locks' storage given back as it empties): a batch's locks are never held both as
/// facts and as records. `what` says what was done to each lock.
fn records(
    mut judged: Vec<Judged>,
    mut what: impl FnMut(&Judged) -> (Action, Option<String>),
) -> Vec<LockRecord> {
    let mut records = Vec::with_capacity(judged.len());
    while let Some(j) = judged.pop() {
        let (action, note) = what(&j);
        records.push(record(&j, action, note));
    }
    records.reverse();
    records
}

/// The report of a pass: everything it saw, and the counts of its records.
fn report(
    command: &'static str,
    now: chrono::DateTime<Utc>,
    policy: &Policy,
    dry_run: bool,
    seen: Seen,
    counts: LockCounts,
) -> Report {
    Report::new(
        command,
        now,
        policy.stale_after.num_seconds(),
        dry_run,
        seen.places_looked,
        Vec::new(),
        seen.problems,
    )
    .counted(counts)
    .with_containers(seen.containers, seen.warnings)
    .with_places(seen.dbs)
    .with_engines(seen.engines_up)
}

/// One `clean` pass at `now`: look, judge, remove the stale locks (none on a dry run), a batch
/// of places at a time, and report what was done to each lock (to `sink`). Shared by `clean`
/// and every pass of `watch`.
pub async fn clean_pass(
    places: &Places,
    policy: &Policy,
    now: chrono::DateTime<Utc>,
    dry_run: bool,
    sink: Sink<'_>,
) -> Report {
    // Docker's answers are outside the run: SIGTERM may end it while it waits on them.
    let _outside = places
        .containers
        .is_some()
        .then(crate::sys::interrupt::outside);
    let mut looking = Looking::start(places, policy, now).await;
    let mut counts = LockCounts::default();
    let mut problems = Vec::new();
    while let Some(batch) = looking.next().await {
        let (timeout, jobs) = (places.timeout, places.jobs);
        let mut outcomes = act(&batch, looking.engines(), dry_run, timeout, jobs).await;
        // Records are made from the last lock back (see `records`): its problems, put back in
        // order.
        let mut acted = Vec::new();
        let records = records(batch, |j| {
            let outcome = outcomes.pop().flatten();
            let done = clean::settle(j.verdict.as_ref(), j.obs.file.is_ok(), outcome, dry_run);
            if let Some(message) = done.problem {
                acted.push(Problem {
                    location: j.obs.location.clone(),
                    path: Some(j.obs.path.clone()),
                    message,
                });
            }
            (done.action, done.note)
        });
        problems.extend(acted.into_iter().rev());
        for r in records {
            counts.add(&r);
            sink(r);
        }
    }
    let mut seen = looking.finish(Vec::new());
    seen.problems.extend(problems);
    report("clean", now, policy, dry_run, seen, counts)
}

/// [`clean_pass`], its records kept in the report (`watch`'s passes, a container or a fleet a
/// few minutes apart).
pub async fn clean_pass_kept(places: &Places, policy: &Policy, dry_run: bool) -> Report {
    let mut locks = Vec::new();
    let now = Utc::now();
    let mut report = clean_pass(places, policy, now, dry_run, &mut |r| locks.push(r)).await;
    report.locks = locks;
    report
}
