//! The commands, each one pass through the pipeline:
//! find places → observe locks and owners → judge → act → report.

use std::io::Write;
use std::process::ExitCode;
use std::time::Instant;

use chrono::Utc;
use color_eyre::eyre::{Result, WrapErr, eyre};

use crate::commands::config::{self, CleanOutput, Config, ProbeOutput, ScanOutput};
use crate::commands::pass::runtime;
use crate::judge::exit;
use crate::judge::lock::{HeldOver, Status};
use crate::model::exit_codes::Exit;
use crate::report::output::{self, LogStyle};
use crate::report::record::{Action, LockRecord, Report};
use crate::sys::runlock::{self, Busy};

pub fn run(config: Config) -> Result<ExitCode> {
    let exit = match config {
        Config::Scan(c) => scan(c)?,
        Config::Clean(c) => clean(c)?,
        Config::Print(bytes) => {
            print_bytes(&bytes)?;
            Exit::Success
        }
        Config::Probe(c) => probe(&c)?,
        Config::Watch(c) => crate::commands::watch::run(c)?,
    };
    Ok(exit.into())
}

fn scan(args: config::Scan) -> Result<Exit> {
    let started = Instant::now();
    let now = Utc::now();
    let rt = runtime()?;
    let is_held_over = |r: &LockRecord| {
        args.held_over.is_some_and(|h| {
            let age = precise_age(r, now);
            h.exceeded(&args.policy, r.status, r.owner_state, age, r.max_hold_ms)
        })
    };
    let mut listed = Listed::start(&args, now)?;
    let mut n_held_over = 0;
    // Each lock listed as the pass makes it (the filters only shape what is listed; metrics
    // and the summary count everything seen).
    let report = rt.block_on(crate::commands::pass::scan_pass(
        &args.places,
        &args.policy,
        now,
        &mut |r| {
            let held_over = is_held_over(&r);
            n_held_over += usize::from(held_over);
            if (!args.stale_only || r.status == Status::Stale)
                && (args.held_over.is_none() || held_over)
            {
                listed.push(&r);
            }
        },
    ));
    // An orphan turn claim (OpenClaw 2026.8+) blocks its session as surely as a stale lock.
    let any_stale = report.summary.stale > 0 || report.summary.orphan_claims > 0;
    let metrics = (args.metrics_file.is_some() || args.output == ScanOutput::Prometheus)
        .then(|| scan_metrics(&args, &report, started, n_held_over));
    let metrics_written = write_metrics(args.metrics_file.as_deref(), metrics.as_deref());
    report_problems(&report);
    match listed {
        Listed::Json(_, Some(e)) => return Err(e).wrap_err("cannot write to stdout"),
        Listed::Json(json, None) => json
            .end(&report)
            .and_then(|mut out| out.write_all(b"\n").map(|_| out))
            .wrap_err("cannot write to stdout")?
            .finish()?,
        Listed::Table(rows, out, style) => {
            let held_over = args.held_over.map(|h| (h, n_held_over));
            print_scan_table(out, rows, &report, style, held_over, started)?
        }
        Listed::Metrics => print_bytes(metrics.unwrap_or_default().as_bytes())?,
    }
    Ok(exit::status(exit::Run {
        problems: !report.errors.is_empty(),
        metrics_unwritten: !metrics_written,
        stale_found: args.fail_on_stale && any_stale,
        held_found: args.fail_on_held && n_held_over > 0,
        interrupted: None,
    }))
}

/// Where `scan` lists each lock as the pass makes it: into the JSON as it is written, a TSV
/// line as it is made, or the table's rows (its widths need every row); nothing for the
/// metrics. A failed write is said once the pass is over.
enum Listed {
    Json(output::JsonStream<Out>, Option<std::io::Error>),
    Table(Rows, Out, config::TableStyle),
    Metrics,
}

/// The table's rows kept for its widths, or the TSV's lines written.
enum Rows {
    Kept(output::TableRows),
    Written {
        lines: usize,
        full_paths: bool,
        failed: Option<std::io::Error>,
    },
}

impl Listed {
    fn start(args: &config::Scan, now: chrono::DateTime<Utc>) -> Result<Listed> {
        Ok(match args.output {
            ScanOutput::Json => {
                let head = crate::report::record::ReportHead::new(
                    "scan",
                    now,
                    args.policy.stale_after.num_seconds(),
                    false,
                );
                let json = output::JsonStream::start(Out::new(), &head)
                    .wrap_err("cannot write to stdout")?;
                Listed::Json(json, None)
            }
            ScanOutput::Table(style) if style.tsv => {
                let rows = Rows::Written {
                    lines: 0,
                    full_paths: style.full_paths,
                    failed: None,
                };
                Listed::Table(rows, Out::new(), style)
            }
            ScanOutput::Table(style) => Listed::Table(
                Rows::Kept(output::TableRows::new(style.full_paths)),
                Out::new(),
                style,
            ),
            ScanOutput::Prometheus => Listed::Metrics,
        })
    }

    fn push(&mut self, r: &LockRecord) {
        match self {
            Listed::Json(json, failed @ None) => *failed = json.lock(r).err(),
            Listed::Table(Rows::Kept(rows), ..) => rows.push(r),
            Listed::Table(
                Rows::Written {
                    lines,
                    full_paths,
                    failed: failed @ None,
                },
                out,
                _,
            ) => {
                let header = match lines {
                    0 => output::write_tsv_header(out),
                    _ => Ok(()),
                };
                *failed = header
                    .and_then(|_| output::write_tsv_row(out, r, *full_paths))
                    .err();
                *lines += 1;
            }
            _ => {}
        }
    }
}

fn scan_metrics(
    args: &config::Scan,
    report: &Report,
    started: Instant,
    n_held_over: usize,
) -> String {
    // The threshold for the metrics: the fixed one, or the max hold of a lock without maxHoldMs.
    let threshold = args
        .held_over
        .map(|h| h.threshold(&args.policy, None).as_secs_f64());
    crate::report::metrics::run(
        report,
        &crate::report::metrics::RunFacts {
            command: "scan",
            duration_seconds: started.elapsed().as_secs_f64(),
            success: report.errors.is_empty(),
            held_over: threshold.map(|t| (t, n_held_over)),
            last_success: args.metrics_file.as_deref().and_then(|p| {
                crate::report::metrics::previous(p, "zaki_locks_last_success_timestamp_seconds")
            }),
        },
    )
}

/// The rest of the locks' table (all of it, or the TSV's newline), the SQLite era's, and the
/// summary line (with `--held-over`'s count).
fn print_scan_table(
    mut out: Out,
    rows: Rows,
    report: &Report,
    style: config::TableStyle,
    held_over: Option<(HeldOver, usize)>,
    started: Instant,
) -> Result<()> {
    match rows {
        Rows::Kept(rows) if !rows.is_empty() => rows
            .write(&mut out, style.colour, style.columns)
            .and_then(|_| out.write_all(b"\n")),
        Rows::Written {
            failed: Some(e), ..
        } => Err(e),
        Rows::Written { lines: 1.., .. } => out.write_all(b"\n"),
        _ => Ok(()),
    }
    .wrap_err("cannot write to stdout")?;
    let (colour, columns) = (style.colour, style.columns);
    if let Some(t) = crate::report::turns::table(&report.places, colour, columns, style.tsv) {
        out.line(&t)?;
    }
    let secs = started.elapsed().as_secs_f64();
    let mut line = output::summary_line("scan", &report.summary, false, secs);
    line.push_str(&crate::report::turns::sqlite_summary(
        &report.summary,
        &report.places,
    ));
    match held_over {
        Some((HeldOver::After(t), n)) => line.push_str(&format!(
            "; {n} held over {}",
            humantime::format_duration(t)
        )),
        Some((HeldOver::MaxHold, n)) => line.push_str(&format!("; {n} held over their max hold")),
        None => {}
    }
    out.line(&line)?;
    out.finish()
}

/// `probe`: the timeline is printed as the probe goes; the JSON or the metrics are rendered
/// here, from its report.
fn probe(args: &config::Probe) -> Result<Exit> {
    use crate::commands::probe::{Ended, Timeline};
    let started = Instant::now();
    let timeline = Timeline::new(args.output == ProbeOutput::Text);
    let report = match crate::commands::probe::run(args, &timeline)? {
        Ended::Done(report) => report,
        Ended::Interrupted => {
            eprintln!("zaki-locks: interrupted: the injected lock, if any, was removed");
            return Ok(Exit::Interrupted(nix::sys::signal::Signal::SIGINT as i32));
        }
    };
    let metrics =
        (args.metrics_file.is_some() || args.output == ProbeOutput::Prometheus).then(|| {
            let last = args.metrics_file.as_deref().and_then(|p| {
                crate::report::metrics::previous(
                    p,
                    "zaki_locks_probe_last_success_timestamp_seconds",
                )
            });
            crate::report::metrics::probe(
                &report,
                started.elapsed().as_secs_f64(),
                last,
                args.metrics_user_label,
            )
        });
    match args.output {
        ProbeOutput::Json => print_line(
            &serde_json::to_string_pretty(&report).wrap_err("cannot render the probe's report")?,
        )?,
        ProbeOutput::Prometheus => print_bytes(metrics.as_deref().unwrap_or_default().as_bytes())?,
        ProbeOutput::Text => {}
    }
    if let (Some(path), Some(text)) = (&args.metrics_file, &metrics)
        && let Err(e) = crate::report::metrics::write_atomic(path, text)
    {
        return Err(eyre!(
            "cannot write the metrics file {}: {e}",
            path.display()
        ));
    }
    Ok(report.verdict.exit())
}

/// A lock's age in seconds with its milliseconds (held-over thresholds of a few seconds, such
/// as a short maxHoldMs, need them); whole seconds when createdAt is not there.
fn precise_age(r: &LockRecord, now: chrono::DateTime<Utc>) -> Option<f64> {
    use chrono::SubsecRound;
    // As reported: to the millisecond.
    r.created_at
        .map(|c| c.trunc_subsecs(3))
        .map(|c| ((now - c).num_milliseconds().max(0)) as f64 / 1000.0)
        .or(r.age_seconds.map(|a| a as f64))
}

/// Writes the metrics file, if asked for; a failure is one line on stderr (and exit 1).
fn write_metrics(path: Option<&std::path::Path>, text: Option<&str>) -> bool {
    let (Some(path), Some(text)) = (path, text) else {
        return true;
    };
    match crate::report::metrics::write_atomic(path, text) {
        Ok(()) => true,
        Err(e) => {
            eprintln!(
                "zaki-locks: error: cannot write the metrics file {}: {e} (check --metrics-file)",
                crate::model::escape::path(path)
            );
            false
        }
    }
}

fn clean(args: config::Clean) -> Result<Exit> {
    let started = Instant::now();
    let policy = args.policy;
    let _run_lock = match &args.run_lock {
        None => None,
        Some(at) => match take_run_lock(at, args.quiet) {
            Ok(l) => Some(l),
            Err(Busy::Held(holder)) => return step_aside(&args, at, &holder, started),
            Err(busy) => {
                let path = at.path.clone();
                return Err(runlock::Error { path, busy }.into());
            }
        },
    };

    let rt = runtime()?;
    crate::sys::interrupt::install();
    let now = Utc::now();
    let mut listed = CleanListed::start(&args, now)?;
    let mut report = rt.block_on(crate::commands::pass::clean_pass(
        &args.places,
        &policy,
        now,
        args.dry_run,
        &mut |r| listed.push(&args, &r),
    ));
    listed.flush();
    // OpenClaw 2026.8+: orphan turn claims, fixed by a restart (opt-in) or named with the fix.
    report.restarts = if let Some(bounds) = &args.restart_orphaned {
        rt.block_on(crate::commands::remedy::restart_orphaned(
            &args.places,
            &policy,
            bounds,
            &report.places,
            |r| {
                if let CleanOutput::Text(style) = args.output {
                    let _ = print_line(&crate::commands::remedy::line(style, r));
                }
            },
        ))
    } else {
        crate::commands::remedy::advice(&report.places)
    };
    crate::commands::remedy::count_errors(&mut report);
    let duration = started.elapsed().as_secs_f64();
    let metrics = (args.metrics_file.as_deref())
        .map(|p| crate::report::metrics::clean_pass(&report, "clean", duration, p));
    let metrics_written = write_metrics(args.metrics_file.as_deref(), metrics.as_deref());
    listed.end(&args, &report, started)?;
    let interrupted = crate::sys::interrupt::caught();
    if let Some(sig) = interrupted {
        eprintln!(
            "zaki-locks: interrupted by {sig}: the removal under way was finished, nothing more was removed"
        );
    }
    Ok(exit::status(exit::Run {
        problems: !report.errors.is_empty(),
        metrics_unwritten: !metrics_written,
        interrupted: interrupted.map(|s| s as i32),
        ..exit::Run::default()
    }))
}

/// Where `clean` writes each lock as the pass makes it: into the JSON as it is written, or its
/// log line. A failed write is kept and said once the run is over: the removals, the restarts
/// and the metrics file are not left undone for want of a stdout.
struct CleanListed {
    to: CleanTo,
    failed: Option<std::io::Error>,
}

enum CleanTo {
    Json(output::JsonStream<Out>),
    Text(Out, LogStyle),
}

impl CleanListed {
    fn start(args: &config::Clean, now: chrono::DateTime<Utc>) -> Result<CleanListed> {
        let to = match args.output {
            CleanOutput::Json => {
                let older = args.policy.stale_after.num_seconds();
                let head =
                    crate::report::record::ReportHead::new("clean", now, older, args.dry_run);
                let json = output::JsonStream::start(Out::new(), &head)
                    .wrap_err("cannot write to stdout")?;
                CleanTo::Json(json)
            }
            CleanOutput::Text(style) => CleanTo::Text(Out::new(), style),
        };
        Ok(CleanListed { to, failed: None })
    }

    /// `clean`'s text for one lock: a line when it was acted on (with `--quiet`, only
    /// removals); with `--quiet`, a wedged lock (it needs a human) on stderr with its fix.
    fn push(&mut self, args: &config::Clean, r: &LockRecord) {
        if self.failed.is_some() {
            return;
        }
        self.failed = match &mut self.to {
            CleanTo::Json(json) => json.lock(r).err(),
            CleanTo::Text(out, style) => {
                let loud = matches!(r.action, Action::Removed | Action::WouldRemove);
                let changed = r.action == Action::Kept && r.status == Status::Stale;
                let human = r.status == Status::Wedged;
                if loud || (!args.quiet && (changed || human || r.action == Action::Skipped)) {
                    let line = output::log_line(*style, r);
                    out.write_all(line.as_bytes())
                        .and_then(|_| out.write_all(b"\n"))
                        .err()
                } else {
                    if human {
                        eprintln!("{}", output::attention_line(*style, r));
                    }
                    None
                }
            }
        };
    }

    /// The log lines written so far sent out, before the restarts' own.
    fn flush(&mut self) {
        if let (CleanTo::Text(out, _), None) = (&mut self.to, &self.failed) {
            self.failed = out.flush().err();
        }
    }

    /// The rest of the report after the locks: the JSON's, or the text's summary, restarts and
    /// problems.
    fn end(self, args: &config::Clean, report: &Report, started: Instant) -> Result<()> {
        if let Some(e) = self.failed {
            return Err(e).wrap_err("cannot write to stdout");
        }
        match self.to {
            CleanTo::Json(json) => {
                report_problems(report);
                json.end(report)
                    .and_then(|mut out| out.write_all(b"\n").map(|_| out))
                    .wrap_err("cannot write to stdout")?
                    .finish()
            }
            CleanTo::Text(out, style) => print_clean_end(out, args, report, style, started),
        }
    }
}

/// The rest of `clean`'s text, after its locks' lines: the summary, the restarts not already
/// printed, and the problems on stderr. With `--quiet`, what needs a human (a gateway to
/// restart) goes to stderr, one line each with its fix.
fn print_clean_end(
    mut out: Out,
    args: &config::Clean,
    report: &Report,
    style: LogStyle,
    started: Instant,
) -> Result<()> {
    let acted = report.summary.removed + report.summary.would_remove;
    if !args.quiet || acted > 0 || report.summary.needs_human > 0 {
        let mut summary = output::log_summary(
            style,
            "clean",
            &report.summary,
            args.dry_run,
            started.elapsed().as_secs_f64(),
        );
        if style == LogStyle::Human {
            summary.push_str(&crate::report::turns::sqlite_summary(
                &report.summary,
                &report.places,
            ));
        }
        out.line(&summary)?;
    }
    // With --restart-orphaned each line was printed as it happened.
    if args.restart_orphaned.is_none() {
        for r in &report.restarts {
            let line = crate::commands::remedy::line(style, r);
            match (args.quiet, r.action, style) {
                (true, "would-restart", LogStyle::Human) => {
                    eprintln!("zaki-locks: needs a human: {line}")
                }
                (true, "would-restart", _) => eprintln!("{line}"),
                (true, _, _) => {}
                (false, _, _) => out.line(&line)?,
            }
        }
    }
    if style == LogStyle::Human {
        report_problems(report);
    } else {
        for w in &report.warnings {
            eprintln!("{}", output::log_warning(style, w));
        }
        for p in &report.errors {
            eprintln!("{}", output::log_problem(style, p));
        }
    }
    out.finish()
}

/// Takes the run lock; when another run holds it, says so on stderr (unless `quiet`) before
/// waiting up to `--wait` for it, so that a clean typed by hand does not seem to hang.
fn take_run_lock(at: &config::RunLock, quiet: bool) -> Result<runlock::RunLock, Busy> {
    match runlock::acquire(&at.path, std::time::Duration::ZERO) {
        Err(Busy::Held(holder)) if !at.wait.is_zero() => {
            if !quiet {
                eprintln!(
                    "zaki-locks: clean: the run lock {} is held by {holder}: waiting up to {} \
                     for it to finish (--wait)",
                    crate::model::escape::path(&at.path),
                    humantime::format_duration(at.wait)
                );
            }
            runlock::acquire(&at.path, at.wait)
        }
        taken => taken,
    }
}

/// Another clean or a watch holds the run lock: do nothing, say who holds it and what to do,
/// and still write the metrics (`zaki_locks_stepped_aside 1`; see `metrics::stepped_aside`)
/// so that the clean's last-success time does not go stale while a watch does the job.
fn step_aside(
    args: &config::Clean,
    at: &config::RunLock,
    holder: &runlock::Holder,
    started: Instant,
) -> Result<Exit> {
    if let Some(busy) = holder.busy_for.filter(|b| *b > at.hung_after) {
        return hung_holder(args, at, holder, busy, started);
    }
    let watch = holder
        .command
        .as_deref()
        .is_some_and(|c| c.contains(" watch"));
    let advice = if watch {
        "a watch cleans continuously: disable this cron job or timer, or stop the watch".to_owned()
    } else {
        format!(
            "wait longer with --wait, or if it is stuck: kill {}",
            holder
                .pid
                .map_or_else(|| "it".to_owned(), |p| p.to_string())
        )
    };
    let message = format!(
        "the run lock {} is held by {holder}: stepped aside after {}, nothing was removed ({advice})",
        at.path.display(),
        humantime::format_duration(at.wait)
    );
    let mut report = Report::new(
        "clean",
        Utc::now(),
        args.policy.stale_after.num_seconds(),
        args.dry_run,
        0,
        Vec::new(),
        Vec::new(),
    );
    report.stepped_aside = Some(crate::report::record::SteppedAside {
        run_lock: at.path.display().to_string(),
        pid: holder.pid,
        command: holder.command.clone(),
        message: message.clone(),
    });
    let written = match &args.metrics_file {
        Some(p) => write_metrics(
            Some(p),
            Some(&crate::report::metrics::stepped_aside(
                "clean",
                started.elapsed().as_secs_f64(),
            )),
        ),
        None => true,
    };
    match args.output {
        CleanOutput::Json => print_json(&report)?,
        CleanOutput::Text(_) if !args.quiet => eprintln!("zaki-locks: clean: {message}"),
        CleanOutput::Text(_) => {}
    }
    Ok(Exit::partial_if(!written))
}

/// The run lock's holder has been busy with one pass for longer than `--hung-after`: it looks
/// hung, and stepping aside from it is a failure (exit 1, `last_run_success 0`), said even
/// under `--quiet`, so that monitoring does not stay green while nothing is cleaned.
fn hung_holder(
    args: &config::Clean,
    at: &config::RunLock,
    holder: &runlock::Holder,
    busy: std::time::Duration,
    started: Instant,
) -> Result<Exit> {
    let busy = std::time::Duration::from_secs(busy.as_secs());
    let message = format!(
        "the run lock {} is held by {holder}, busy with one pass for {} (over --hung-after {}): \
         it looks hung, nothing was removed (look at it, then: kill {})",
        at.path.display(),
        humantime::format_duration(busy),
        humantime::format_duration(at.hung_after),
        holder
            .pid
            .map_or_else(|| "it".to_owned(), |p| p.to_string())
    );
    eprintln!(
        "zaki-locks: clean: {}",
        crate::model::escape::text(&message)
    );
    let metrics = crate::report::metrics::hung(
        "clean",
        started.elapsed().as_secs_f64(),
        holder.pid,
        busy.as_secs_f64(),
    );
    write_metrics(args.metrics_file.as_deref(), Some(&metrics));
    Ok(Exit::Partial)
}

fn report_problems(report: &Report) {
    for w in &report.warnings {
        eprintln!("zaki-locks: warning: {}", crate::model::escape::text(w));
    }
    for p in &report.errors {
        eprintln!("zaki-locks: error: {p}");
    }
}

/// The JSON report on stdout, written as it is serialised, and a newline.
fn print_json(report: &Report) -> Result<()> {
    let mut out = Out::new();
    output::write_json(&mut out, report)
        .and_then(|_| out.write_all(b"\n"))
        .wrap_err("cannot write to stdout")?;
    out.finish()
}

/// Stdout through a buffer, for what is written piece by piece (a table, the JSON report, log
/// lines) rather than made whole first. A closed pipe (`zaki-locks scan | head`) is not an
/// error worth a message: what follows it is dropped, as [`print_bytes`] drops it.
struct Out {
    w: std::io::BufWriter<std::io::StdoutLock<'static>>,
    closed: bool,
}

impl Out {
    fn new() -> Out {
        Out {
            w: std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout().lock()),
            closed: false,
        }
    }

    /// A line and its newline.
    fn line(&mut self, s: &str) -> Result<()> {
        self.write_all(s.as_bytes())
            .and_then(|_| self.write_all(b"\n"))
            .wrap_err("cannot write to stdout")
    }

    /// Flushes what is left.
    fn finish(mut self) -> Result<()> {
        self.flush().wrap_err("cannot write to stdout")
    }

    fn unless_closed<T>(&mut self, r: std::io::Result<T>, closed: T) -> std::io::Result<T> {
        match r {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(closed)
            }
            r => r,
        }
    }
}

impl Write for Out {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        if self.closed {
            return Ok(b.len());
        }
        let r = self.w.write(b);
        self.unless_closed(r, b.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.closed {
            return Ok(());
        }
        let r = self.w.flush();
        self.unless_closed(r, ())
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
