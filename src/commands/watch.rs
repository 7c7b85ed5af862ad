//! `watch`: clean a container's stale locks the moment it starts again, instead of up to five
//! minutes later from cron.
//!
//! Every lock left in a container when it died is stale by definition (its processes died with
//! it), and the engine announces every start. So `watch` follows the engines' container
//! `start`/`restart` events and runs the same pass as `clean` on that container (and its
//! bind-mounted host dir) a short settle time later. It also runs a full `clean` at start-up,
//! every `--interval`, and after reconnecting to an engine (events may have been missed). Passes
//! run one at a time, so no container is ever cleaned by two passes at once.

use std::cell::RefCell;
use std::collections::HashSet;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use color_eyre::eyre::{Result, WrapErr};
use futures_util::StreamExt;
use tokio::sync::mpsc;

use crate::commands::config::{self, Places};
use crate::commands::pass;
use crate::judge::lock::{Policy, Status};
use crate::model::exit_codes::Exit;
use crate::report::output::{self, LogStyle};
use crate::report::record::{Action, Report};
use crate::sys::docker;
use crate::sys::runlock;

/// What the engine followers tell the main loop.
enum Note {
    Started {
        engine: String,
        name: String,
        at: Option<i64>,
    },
    Reconnected(String),
}

pub fn run(args: config::Watch) -> Result<Exit> {
    let policy = args.policy;
    // Held for the whole watch: a cron `clean` left enabled steps aside instead of racing it.
    let mut lock = runlock::acquire(&args.run_lock.path, args.run_lock.wait).map_err(|busy| {
        runlock::Error {
            path: args.run_lock.path.clone(),
            busy,
        }
    })?;
    lock.set_busy(false);
    let busy = Arc::new(AtomicI64::new(0));
    spawn_hung_watchdog(&args, busy.clone());
    let rt = pass::runtime()?;
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, watch(args, policy, RefCell::new(lock), busy))
}

/// Watch's own passes, seen from another thread: one busy for longer than 3 × the interval
/// is logged (`event=pass-hung`) and written to the metrics as a failure, once per pass.
fn spawn_hung_watchdog(args: &config::Watch, busy: Arc<AtomicI64>) {
    let (limit, metrics) = (args.run_lock.hung_after, args.metrics_file.clone());
    let _ = std::thread::Builder::new()
        .name("hung-pass".into())
        .spawn(move || {
            let mut alerted = 0;
            loop {
                std::thread::sleep(Duration::from_secs(1));
                let since = busy.load(Ordering::Relaxed);
                let now = chrono::Utc::now().timestamp();
                if since == 0 || since == alerted || now - since <= limit.as_secs() as i64 {
                    continue;
                }
                alerted = since;
                let secs = (now - since) as f64;
                eprintln!(
                    "event=pass-hung busy_seconds={secs} hung_after={}",
                    humantime::format_duration(limit)
                );
                if let Some(path) = &metrics {
                    let text =
                        crate::report::metrics::hung("watch", secs, Some(std::process::id()), secs);
                    let _ = crate::report::metrics::write_atomic(path, &text);
                }
            }
        });
}

struct Ctx {
    args: config::Watch,
    policy: Policy,
    style: LogStyle,
    /// One pass at a time.
    passes: tokio::sync::Mutex<()>,
    /// The run lock, which says when a pass is under way; and the same, for the watchdog.
    lock: RefCell<runlock::RunLock>,
    busy: Arc<AtomicI64>,
    /// Containers with a pass scheduled and not yet started: Docker's `restart` sends both
    /// `start` and `restart`, and one pass is enough.
    pending: RefCell<HashSet<String>>,
}

async fn watch(
    args: config::Watch,
    policy: Policy,
    lock: RefCell<runlock::RunLock>,
    busy: Arc<AtomicI64>,
) -> Result<Exit> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).wrap_err("cannot watch for SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).wrap_err("cannot watch for SIGINT")?;
    let ctx = Rc::new(Ctx {
        style: args.style,
        args,
        policy,
        passes: tokio::sync::Mutex::new(()),
        pending: RefCell::new(HashSet::new()),
        lock,
        busy,
    });
    // Each engine asked (`None`: the local socket); none without containers to watch.
    let engines: Vec<Option<String>> = match &ctx.args.places.containers {
        Some(c) if c.docker_hosts.is_empty() => vec![None],
        Some(c) => c.docker_hosts.iter().cloned().map(Some).collect(),
        None => Vec::new(),
    };
    log(
        &ctx,
        &[
            ("event", "watch-started".into()),
            (
                "interval",
                humantime::format_duration(ctx.args.interval).to_string(),
            ),
        ],
    );
    full_pass(&ctx, "start-up").await;

    let (tx, mut rx) = mpsc::unbounded_channel();
    for url in engines {
        tokio::task::spawn_local(follow(ctx.clone(), url, tx.clone()));
    }
    let mut ticker = tokio::time::interval_at(
        tokio::time::Instant::now() + ctx.args.interval,
        ctx.args.interval,
    );
    loop {
        tokio::select! {
            Some(note) = rx.recv() => match note {
                Note::Started { engine, name, at } => {
                    if ctx.pending.borrow_mut().insert(name.clone()) {
                        tokio::task::spawn_local(container_pass(ctx.clone(), engine, name, at));
                    }
                }
                Note::Reconnected(engine) => {
                    log(&ctx, &[("event", "reconnected".into()), ("docker_host", engine)]);
                    full_pass(&ctx, "reconnected").await;
                }
            },
            _ = ticker.tick() => full_pass(&ctx, "interval").await,
            _ = term.recv() => break,
            _ = int.recv() => break,
        }
    }
    // Let a pass under way finish; none starts after this.
    let _done = ctx.passes.lock().await;
    log(&ctx, &[("event", "watch-stopped".into())]);
    Ok(Exit::Success)
}

/// Follows one engine's container starts, reconnecting with backoff whenever the stream drops
/// or the engine restarts.
async fn follow(ctx: Rc<Ctx>, url: Option<String>, tx: mpsc::UnboundedSender<Note>) {
    let mut backoff = Duration::from_millis(500);
    let mut connected_before = false;
    loop {
        let engine = match docker::connect(url.as_deref(), ctx.args.places.timeout).await {
            Ok(e) => e,
            Err(e) => {
                log(
                    &ctx,
                    &[
                        ("event", "docker-unreachable".into()),
                        ("error", e.to_string()),
                        ("retry_in", humantime::format_duration(backoff).to_string()),
                    ],
                );
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(30));
                continue;
            }
        };
        let mut events = Box::pin(engine.container_starts());
        if connected_before && tx.send(Note::Reconnected(engine.label.clone())).is_err() {
            return;
        }
        connected_before = true;
        backoff = Duration::from_millis(500);
        while let Some(ev) = events.next().await {
            match ev {
                Ok(e) if selected(&ctx.args.places, &e.name) => {
                    let note = Note::Started {
                        engine: engine.label.clone(),
                        name: e.name,
                        at: e.time_nano,
                    };
                    if tx.send(note).is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    log(
                        &ctx,
                        &[
                            ("event", "events-error".into()),
                            ("docker_host", engine.label.clone()),
                            ("error", e.to_string()),
                        ],
                    );
                    break;
                }
            }
        }
        log(
            &ctx,
            &[
                ("event", "events-ended".into()),
                ("docker_host", engine.label.clone()),
            ],
        );
        tokio::time::sleep(backoff).await;
    }
}

/// Whether a started container is one this watch cleans (as `survey` selects them).
fn selected(p: &Places, name: &str) -> bool {
    p.containers
        .as_ref()
        .is_some_and(|c| crate::find::survey::selected(name, &c.prefix, &c.names))
}

/// Marks a pass under way (in the run lock file and for the watchdog) until dropped.
struct Busy<'a>(&'a Ctx);

impl Busy<'_> {
    fn start(ctx: &Ctx) -> Busy<'_> {
        ctx.lock.borrow_mut().set_busy(true);
        ctx.busy
            .store(chrono::Utc::now().timestamp(), Ordering::Relaxed);
        Busy(ctx)
    }
}

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.0.busy.store(0, Ordering::Relaxed);
        self.0.lock.borrow_mut().set_busy(false);
    }
}

async fn full_pass(ctx: &Ctx, trigger: &str) {
    let _one = ctx.passes.lock().await;
    let _busy = Busy::start(ctx);
    let started = Instant::now();
    let mut report = pass::clean_pass_kept(&ctx.args.places, &ctx.policy, false).await;
    orphaned(ctx, &ctx.args.places, &mut report).await;
    write_metrics(ctx, &report, started);
    report_pass(ctx, trigger, None, &report, started, None);
}

/// OpenClaw 2026.8+: an orphan turn claim is restarted away (`--restart-orphaned`) or named.
/// A restart that failed or could not be decided is an error of the pass, as in `clean`.
async fn orphaned(ctx: &Ctx, places: &Places, report: &mut Report) {
    if report.summary.orphan_claims == 0 {
        return;
    }
    if let Some(bounds) = &ctx.args.restart_orphaned {
        report.restarts = crate::commands::remedy::restart_orphaned(
            places,
            &ctx.policy,
            bounds,
            &report.places,
            |r| print(&(crate::commands::remedy::line(ctx.style, r) + "\n")),
        )
        .await;
        crate::commands::remedy::count_errors(report);
    } else {
        for r in crate::commands::remedy::advice(&report.places) {
            print(&(crate::commands::remedy::line(ctx.style, &r) + "\n"));
        }
    }
}

/// `--metrics-file`: the clean metrics (command="watch") of every full pass, the ones a cron
/// clean would have written; a failed write is logged and retried at the next pass.
fn write_metrics(ctx: &Ctx, report: &Report, started: Instant) {
    let Some(path) = &ctx.args.metrics_file else {
        return;
    };
    let duration = started.elapsed().as_secs_f64();
    let text = crate::report::metrics::clean_pass(report, "watch", duration, path);
    if let Err(e) = crate::report::metrics::write_atomic(path, &text) {
        log(
            ctx,
            &[
                ("event", "metrics-error".into()),
                ("path", path.display().to_string()),
                ("error", e.to_string()),
            ],
        );
    }
}

async fn container_pass(ctx: Rc<Ctx>, engine: String, name: String, at: Option<i64>) {
    tokio::time::sleep(ctx.args.settle).await;
    let _one = ctx.passes.lock().await;
    let _busy = Busy::start(ctx.as_ref());
    // From here on, a new start of this container needs a new pass.
    ctx.pending.borrow_mut().remove(&name);
    let started = Instant::now();
    let mut places = ctx.args.places.only_container(&name);
    if let Some(c) = places.containers.as_mut() {
        c.docker_hosts = vec![engine];
    }
    let mut report = pass::clean_pass_kept(&places, &ctx.policy, false).await;
    orphaned(ctx.as_ref(), &places, &mut report).await;
    report_pass(
        ctx.as_ref(),
        "container-start",
        Some(&name),
        &report,
        started,
        at,
    );
}

/// One line per removal (and per lock that could not be removed), one per problem, and one
/// for the pass when it did anything or went wrong.
fn report_pass(
    ctx: &Ctx,
    trigger: &str,
    container: Option<&str>,
    report: &Report,
    started: Instant,
    event_nanos: Option<i64>,
) {
    let since_ms = event_nanos.map(|n| {
        let now = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(n);
        (now - n) / 1_000_000
    });
    let pass = Pass {
        trigger,
        container,
        duration_ms: started.elapsed().as_millis(),
        since_ms,
    };
    let ts = crate::report::record::rfc3339(chrono::Utc::now());
    print(&pass_text(ctx.style, &pass, report, &ts));
}

/// A pass, as its log line tells it.
struct Pass<'a> {
    trigger: &'a str,
    container: Option<&'a str>,
    duration_ms: u128,
    /// Since the container start that triggered it.
    since_ms: Option<i64>,
}

/// The log lines of a pass (pure; `ts` is the lines' timestamp). An interval pass that removed
/// nothing and met no problem says nothing: a quiet fleet gives a quiet journal.
fn pass_text(style: LogStyle, pass: &Pass<'_>, report: &Report, ts: &str) -> String {
    let mut out = String::new();
    for r in &report.locks {
        let acted = r.action == Action::Removed || r.status == Status::Stale;
        if acted {
            let mut line = output::log_line(style, r);
            if let Some(ms) = pass.since_ms {
                line.push_str(&match style {
                    LogStyle::Kv => format!(" since_start_ms={ms}"),
                    LogStyle::Json => String::new(),
                    LogStyle::Human => format!(" ({ms} ms after the container started)"),
                });
            }
            out.push_str(&line);
            out.push('\n');
        } else if r.status == Status::Wedged {
            // Needs a human: said on every pass until it is fixed.
            out.push_str(&output::attention_line(style, r));
            out.push('\n');
        }
    }
    for w in &report.warnings {
        out.push_str(&output::log_warning(style, w));
        out.push('\n');
    }
    for p in &report.errors {
        out.push_str(&output::log_problem(style, p));
        out.push('\n');
    }
    if report.summary.removed > 0 || report.summary.needs_human > 0 || pass.trigger != "interval" {
        let mut kv = vec![
            ("event", "pass".to_owned()),
            ("trigger", pass.trigger.to_owned()),
            ("locks", report.summary.locks.to_string()),
            ("stale", report.summary.stale.to_string()),
            ("removed", report.summary.removed.to_string()),
            ("errors", report.summary.errors.to_string()),
            ("wedged", report.summary.wedged.to_string()),
            ("needs_human", report.summary.needs_human.to_string()),
            ("duration_ms", pass.duration_ms.to_string()),
        ];
        if let Some(c) = pass.container {
            kv.insert(2, ("container", c.to_owned()));
        }
        if let Some(ms) = pass.since_ms {
            kv.push(("since_start_ms", ms.to_string()));
        }
        out.push_str(&line(style, &kv, ts));
        out.push('\n');
    }
    out
}

fn log(ctx: &Ctx, kv: &[(&str, String)]) {
    let ts = crate::report::record::rfc3339(chrono::Utc::now());
    print(&(line(ctx.style, kv, &ts) + "\n"));
}

/// One event as a log line in `style`, stamped `ts`.
fn line(style: LogStyle, kv: &[(&str, String)], ts: &str) -> String {
    let mut all = vec![("ts", ts.to_owned())];
    all.extend(kv.iter().map(|(k, v)| (*k, v.clone())));
    match style {
        LogStyle::Json => {
            let map: serde_json::Map<String, serde_json::Value> = all
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.into()))
                .collect();
            serde_json::Value::Object(map).to_string()
        }
        LogStyle::Kv => output::kv_line(&all),
        _ => {
            let rest: Vec<String> = all[1..].iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!("watch: {}", rest.join(" "))
        }
    }
}

fn print(s: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(s.as_bytes());
    let _ = out.flush();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::place::{Location, Problem};

    const TS: &str = "2026-11-24T03:55:58.412Z";

    fn report(errors: Vec<Problem>) -> Report {
        Report::new(
            "clean",
            chrono::Utc::now(),
            1800,
            false,
            1,
            Vec::new(),
            errors,
        )
    }

    fn pass<'a>(trigger: &'a str, container: Option<&'a str>, since: Option<i64>) -> Pass<'a> {
        Pass {
            trigger,
            container,
            duration_ms: 12,
            since_ms: since,
        }
    }

    #[test]
    fn a_quiet_interval_pass_says_nothing() {
        let quiet = pass_text(
            LogStyle::Kv,
            &pass("interval", None, None),
            &report(vec![]),
            TS,
        );
        assert_eq!(quiet, "");
    }

    #[test]
    fn a_container_start_pass_says_which_and_how_soon() {
        let p = pass("container-start", Some("zaki-user-7"), Some(850));
        let kv = pass_text(LogStyle::Kv, &p, &report(vec![]), TS);
        assert_eq!(
            kv,
            format!(
                "ts={TS} event=pass trigger=container-start container=zaki-user-7 locks=0 \
                 stale=0 removed=0 errors=0 wedged=0 needs_human=0 duration_ms=12 \
                 since_start_ms=850\n"
            )
        );
        let human = pass_text(LogStyle::Human, &p, &report(vec![]), TS);
        assert!(
            human.starts_with("watch: event=pass trigger=container-start container=zaki-user-7")
        );
        let json: serde_json::Value =
            serde_json::from_str(pass_text(LogStyle::Json, &p, &report(vec![]), TS).trim())
                .unwrap();
        assert_eq!(json["since_start_ms"], "850");
        assert_eq!(json["ts"], TS);
    }

    #[test]
    fn a_problem_makes_an_interval_pass_speak() {
        let problem = Problem {
            location: Location::Container("zaki-user-7".into()),
            path: None,
            message: "exec timed out".into(),
        };
        let text = pass_text(
            LogStyle::Kv,
            &pass("interval", None, None),
            &report(vec![problem]),
            TS,
        );
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(lines[0].contains("exec timed out"), "{text}");
        assert!(lines[1].contains("event=pass trigger=interval") && lines[1].contains("errors=1"));
    }
}
