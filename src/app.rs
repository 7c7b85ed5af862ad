//! The commands, each one pass through the pipeline:
//! find places → observe locks and owners → judge → act → report.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use chrono::{TimeDelta, Utc};
use color_eyre::eyre::{Result, WrapErr, eyre};

use crate::cli::{
    CleanArgs, CleanFormat, Cli, Command, JudgeArgs, PlaceArgs, ScanArgs, ScanFormat,
};
use crate::container::{self, Listing};
use crate::docker::Engine;
use crate::exit_codes;
use crate::observe::{self, Observed, Site};
use crate::output;
use crate::place::{Location, Problem};
use crate::policy::{Facts, Policy, Verdict};
use crate::proc::HostProc;
use crate::remove::{self, Outcome};
use crate::report::{Action, LockRecord, Report};
use crate::runlock::{self, Busy};
use crate::survey::{self, ContainerReport, ContainerSearch, Survey};
use crate::walk::{self, HostSearch};

pub fn run(cli: Cli) -> Result<ExitCode> {
    let colour = cli.color.enabled();
    match cli.command {
        Command::Scan(args) => scan(args, colour),
        Command::Clean(args) => clean(args),
        Command::Completions { shell } => {
            print_bytes(&crate::docs::completion(shell))?;
            Ok(exit_codes::code(exit_codes::OK))
        }
        Command::Man { page } => man(page.as_deref()),
    }
}

/// A lock with its verdict (`None` when it could not be read, so was not judged).
struct Judged {
    obs: Observed,
    verdict: Option<Verdict>,
}

/// Everything a run saw.
struct Seen {
    places: usize,
    judged: Vec<Judged>,
    problems: Vec<Problem>,
    containers: Vec<ContainerReport>,
    warnings: Vec<String>,
    engines: Vec<Engine>,
}

fn policy(j: &JudgeArgs) -> Result<Policy> {
    let stale_after = TimeDelta::from_std(j.older_than)
        .map_err(|_| eyre!("--older-than {:?} is too large", j.older_than))?;
    Ok(Policy {
        stale_after,
        ..Policy::default()
    })
}

/// The places to look at on the host: the command line's, or the defaults.
fn host_search(p: &PlaceArgs) -> HostSearch {
    if !p.root.is_empty() || !p.users_dir.is_empty() {
        return HostSearch {
            roots: p.root.clone(),
            users_dirs: p.users_dir.clone(),
            explicit: true,
        };
    }
    let mut roots = vec![PathBuf::from("/root/.openclaw")];
    if let Some(dir) = std::env::var_os("OPENCLAW_STATE_DIR").filter(|d| !d.is_empty()) {
        roots.push(PathBuf::from(dir));
    }
    HostSearch {
        roots,
        users_dirs: vec![PathBuf::from("/var/zaki-platform/users")],
        explicit: false,
    }
}

fn container_search(p: &PlaceArgs) -> ContainerSearch {
    ContainerSearch {
        docker_hosts: p.docker_host.clone(),
        prefix: p.prefix.clone(),
        names: p.container.clone(),
        state_dirs: p.container_state_dir.clone(),
        timeout: p.container_timeout,
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .wrap_err("cannot start the async runtime")
}

/// Find → observe → judge, for every place.
fn look(
    args: &PlaceArgs,
    policy: &Policy,
    now: chrono::DateTime<Utc>,
    rt: &tokio::runtime::Runtime,
) -> Seen {
    let mut problems = Vec::new();
    let mut places = if args.no_host {
        Vec::new()
    } else {
        walk::places(&host_search(args), &mut problems)
    };
    let mut survey = Survey::default();
    if !args.no_containers {
        survey = rt.block_on(survey::survey(
            &container_search(args),
            &mut places,
            &mut problems,
        ));
    }
    // Inside containers (exec) first: it runs concurrently and takes the longest.
    let listings = rt.block_on(list_containers(&survey, args));

    let mut found = Vec::new();
    for (i, place) in places.iter().enumerate() {
        walk::lock_files(i, place, &mut found, &mut problems);
    }
    let proc = HostProc::open();
    let mut observed = observe::host_locks(&places, found, &proc, &mut problems);
    for (target, listing) in survey.exec.iter().zip(listings) {
        match listing {
            Ok(l) => observed.extend(observe::container_locks(
                target.engine,
                &target.container,
                &l,
                &mut problems,
            )),
            Err(e) => {
                survey.reports[target.report].error = Some(e.clone());
                problems.push(Problem {
                    location: Location::Container(target.container.clone()),
                    path: None,
                    message: format!("{e}; nothing was removed there"),
                });
            }
        }
    }
    let mut judged: Vec<Judged> = observed
        .into_iter()
        .map(|obs| {
            let verdict = obs.file.as_ref().ok().map(|snap| {
                policy.judge(Facts {
                    payload: &obs.payload,
                    mtime: snap.id.mtime_utc(),
                    owner: &obs.owner,
                    now,
                })
            });
            Judged { obs, verdict }
        })
        .collect();
    judged.sort_by(|a, b| (&a.obs.location, &a.obs.path).cmp(&(&b.obs.location, &b.obs.path)));
    Seen {
        places: places.len() + survey.exec.len(),
        judged,
        problems,
        containers: survey.reports,
        warnings: survey.warnings,
        engines: survey.engines,
    }
}

/// One observe exec per container, `--jobs` at a time, with a progress line on a terminal.
async fn list_containers(survey: &Survey, args: &PlaceArgs) -> Vec<Result<Listing, String>> {
    use futures_util::StreamExt;
    let total = survey.exec.len();
    let progress = total > 1 && std::io::stderr().is_terminal();
    let mut results: Vec<Option<Result<Listing, String>>> = vec![None; total];
    let mut stream = futures_util::stream::iter(survey.exec.iter().enumerate())
        .map(|(i, t)| async move {
            let engine = &survey.engines[t.engine];
            let out = engine
                .run_script(
                    &t.container,
                    container::OBSERVE_SCRIPT,
                    &t.dirs,
                    args.container_timeout,
                )
                .await
                .map_err(|e| e.to_string())
                .and_then(|o| container::parse_listing(&o).map_err(|e| e.to_string()));
            (i, out)
        })
        .buffer_unordered(usize::from(args.jobs));
    let mut done = 0;
    while let Some((i, r)) = stream.next().await {
        results[i] = Some(r);
        done += 1;
        if progress {
            eprint!("\rzaki-locks: looked inside {done}/{total} containers");
        }
    }
    if progress {
        eprint!("\r\x1b[K");
    }
    results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err("not run".into())))
        .collect()
}

fn record(j: &Judged, action: Action, note: Option<String>) -> LockRecord {
    let note = note.or_else(|| j.obs.file.as_ref().err().cloned());
    LockRecord::new(&j.obs, j.verdict.as_ref(), action, note)
}

fn scan(args: ScanArgs, colour: bool) -> Result<ExitCode> {
    let started = Instant::now();
    let policy = policy(&args.judge)?;
    let rt = runtime()?;
    let now = Utc::now();
    let seen = look(&args.places, &policy, now, &rt);
    let records: Vec<LockRecord> = seen
        .judged
        .iter()
        .map(|j| {
            let action = if j.verdict.is_some() {
                Action::Kept
            } else {
                Action::Skipped
            };
            record(j, action, None)
        })
        .filter(|r| !args.stale_only || r.stale)
        .collect();
    let any_stale = seen
        .judged
        .iter()
        .any(|j| j.verdict.as_ref().is_some_and(|v| v.stale));
    let report = Report::new(
        "scan",
        now,
        policy.stale_after.num_seconds(),
        false,
        seen.places,
        records,
        seen.problems,
    )
    .with_containers(seen.containers, seen.warnings);
    report_problems(&report);
    match args.format {
        ScanFormat::Json => print_line(&output::json(&report))?,
        ScanFormat::Table => {
            if !report.locks.is_empty() {
                print_line(&output::table(&report.locks, colour))?;
            }
            print_line(&output::summary_line(
                "scan",
                &report.summary,
                false,
                started.elapsed().as_secs_f64(),
            ))?;
        }
    }
    Ok(exit_codes::code(if args.fail_on_stale && any_stale {
        exit_codes::STALE_FOUND
    } else if !report.errors.is_empty() {
        exit_codes::PARTIAL
    } else {
        exit_codes::OK
    }))
}

fn clean(args: CleanArgs) -> Result<ExitCode> {
    let started = Instant::now();
    let policy = policy(&args.judge)?;
    let _run_lock = if args.dry_run {
        None
    } else {
        let path = args.run_lock.clone().unwrap_or_else(runlock::default_path);
        match runlock::acquire(&path, args.wait) {
            Ok(l) => Some(l),
            Err(Busy::Held(pid)) => {
                if !args.quiet {
                    let by = pid.map_or_else(String::new, |p| format!(" (pid {p})"));
                    eprintln!(
                        "zaki-locks: another clean{by} holds {} and did not finish within {}: stepping aside",
                        path.display(),
                        humantime::format_duration(args.wait)
                    );
                }
                return Ok(exit_codes::code(exit_codes::OK));
            }
            Err(Busy::Io(e)) => {
                return Err(e).wrap_err_with(|| {
                    format!(
                        "cannot open the run lock {} (choose another with --run-lock PATH)",
                        path.display()
                    )
                });
            }
        }
    };

    let rt = runtime()?;
    let now = Utc::now();
    let mut seen = look(&args.places, &policy, now, &rt);
    let outcomes = act(
        &seen,
        args.dry_run,
        args.places.container_timeout,
        args.places.jobs,
        &rt,
    );
    let mut records = Vec::with_capacity(seen.judged.len());
    for (j, outcome) in seen.judged.iter().zip(outcomes) {
        let (action, note) = match (&j.verdict, &j.obs.file, outcome) {
            (None, _, _) | (_, Err(_), _) => (Action::Skipped, None),
            (Some(v), Ok(_), _) if !v.stale => (Action::Kept, None),
            (Some(_), Ok(_), None) => (Action::WouldRemove, None),
            (Some(_), Ok(_), Some(Outcome::Removed)) => (Action::Removed, None),
            (Some(_), Ok(_), Some(Outcome::Changed(why))) => {
                (Action::Kept, Some(format!("not removed: {why}")))
            }
            (Some(_), Ok(_), Some(Outcome::Gone)) => (
                Action::Skipped,
                Some("already gone: released or reclaimed by someone else".into()),
            ),
            (Some(_), Ok(_), Some(Outcome::Failed(e))) => {
                seen.problems.push(Problem {
                    location: j.obs.location.clone(),
                    path: Some(j.obs.path.clone()),
                    message: format!("cannot remove stale lock: {e}"),
                });
                (Action::Skipped, Some(format!("removal failed: {e}")))
            }
        };
        records.push(record(j, action, note));
    }
    let report = Report::new(
        "clean",
        now,
        policy.stale_after.num_seconds(),
        args.dry_run,
        seen.places,
        records,
        seen.problems,
    )
    .with_containers(seen.containers, seen.warnings);
    report_problems(&report);
    match args.format {
        CleanFormat::Json => print_line(&output::json(&report))?,
        CleanFormat::Text => {
            let mut out = String::new();
            for r in &report.locks {
                let loud = matches!(r.action, Action::Removed | Action::WouldRemove);
                let changed = r.action == Action::Kept && r.stale;
                if loud || (!args.quiet && (changed || r.action == Action::Skipped)) {
                    out.push_str(&output::action_line(r));
                    out.push('\n');
                }
            }
            let acted = report.summary.removed + report.summary.would_remove;
            if !args.quiet || acted > 0 || !report.errors.is_empty() {
                out.push_str(&output::summary_line(
                    "clean",
                    &report.summary,
                    args.dry_run,
                    started.elapsed().as_secs_f64(),
                ));
                out.push('\n');
            }
            print_bytes(out.as_bytes())?;
        }
    }
    Ok(exit_codes::code(if report.errors.is_empty() {
        exit_codes::OK
    } else {
        exit_codes::PARTIAL
    }))
}

fn man(page: Option<&str>) -> Result<ExitCode> {
    let pages = crate::docs::man_pages();
    let want = match page {
        None => format!("{}.1", crate::docs::BIN),
        Some(p) => format!("{}-{p}.1", crate::docs::BIN),
    };
    let Some((_, body)) = pages.iter().find(|(name, _)| *name == want) else {
        let names: Vec<&str> = pages.iter().skip(1).map(|(n, _)| n.as_str()).collect();
        return Err(eyre!(
            "no man page {want:?} (try one of: {})",
            names.join(", ")
        ));
    };
    print_bytes(body)?;
    Ok(exit_codes::code(exit_codes::OK))
}

/// Removes every stale lock (none on a dry run): host ones one by one, each container's in one
/// exec, containers `jobs` at a time. Returns an outcome per judged lock (`None`: not acted on).
fn act(
    seen: &Seen,
    dry_run: bool,
    timeout: std::time::Duration,
    jobs: u16,
    rt: &tokio::runtime::Runtime,
) -> Vec<Option<Outcome>> {
    let mut outcomes: Vec<Option<Outcome>> = vec![None; seen.judged.len()];
    if dry_run {
        return outcomes;
    }
    let mut batches: BTreeMap<(usize, &str), Vec<usize>> = BTreeMap::new();
    for (i, j) in seen.judged.iter().enumerate() {
        let (Some(v), Ok(snap)) = (&j.verdict, &j.obs.file) else {
            continue;
        };
        if !v.stale {
            continue;
        }
        match &j.obs.site {
            Site::Host { .. } => outcomes[i] = Some(remove::remove(&j.obs.site, snap)),
            Site::Container {
                engine, container, ..
            } => batches
                .entry((*engine, container.as_str()))
                .or_default()
                .push(i),
        }
    }
    let done = rt.block_on(async {
        use futures_util::StreamExt;
        futures_util::stream::iter(batches)
            .map(|((engine, container), idx)| async move {
                let items: Vec<remove::ContainerItem<'_>> = idx
                    .iter()
                    .map(|&i| {
                        let j = &seen.judged[i];
                        let Site::Container {
                            state_dir, dir_id, ..
                        } = &j.obs.site
                        else {
                            unreachable!("batched by container")
                        };
                        remove::ContainerItem {
                            state_dir,
                            path: j.obs.path.to_str().unwrap_or_default(),
                            dir_id: *dir_id,
                            judged: j.obs.file.as_ref().expect("judged locks were read"),
                        }
                    })
                    .collect();
                let out =
                    remove::in_container(&seen.engines[engine], container, &items, timeout).await;
                idx.into_iter().zip(out).collect::<Vec<_>>()
            })
            .buffer_unordered(usize::from(jobs))
            .collect::<Vec<_>>()
            .await
    });
    for (i, o) in done.into_iter().flatten() {
        outcomes[i] = Some(o);
    }
    outcomes
}

fn report_problems(report: &Report) {
    for w in &report.warnings {
        eprintln!("zaki-locks: warning: {w}");
    }
    for p in &report.errors {
        eprintln!("zaki-locks: error: {p}");
    }
}

fn print_line(s: &str) -> Result<()> {
    let mut b = s.as_bytes().to_vec();
    b.push(b'\n');
    print_bytes(&b)
}

/// Writes to stdout; a closed pipe (`zaki-locks scan | head`) is not an error worth a message.
fn print_bytes(b: &[u8]) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(b).and_then(|_| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => r.wrap_err("cannot write to stdout"),
    }
}
