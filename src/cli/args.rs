//! The command line, all in one place. The man page and shell completions are generated from
//! these definitions (see `docs`), so every word here is also documentation.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum, ValueHint};

use crate::judge::lock::{HeldOver, MIN_SAFE_THRESHOLD};

/// `-h`'s epilogue: where the rest is.
const SHORT_AFTER: &str =
    "More options, exit statuses and the details of each: --help (or man zaki-locks)";

fn exit_codes(command: &str) -> String {
    crate::model::exit_codes::help_text(crate::model::exit_codes::table(command))
}

/// The top-level help's epilogue: exit statuses, and where the rest is documented.
fn main_after_help() -> String {
    let mut env = String::from("Environment:");
    let mut width = env.len();
    for name in environment_names() {
        if width + name.len() + 2 > 80 {
            env.push_str("\n ");
            width = 1;
        }
        env.push(' ');
        env.push_str(name);
        width += name.len() + 1;
    }
    format!(
        "{}\n\n{env}\nThe holder rule, statuses, reasons, JSON, metrics, files: man zaki-locks\n\
         (or: zaki-locks man | man -l -)",
        exit_codes("zaki-locks")
    )
}

/// The environment variables the man pages describe, for `--help`.
pub fn environment_names() -> Vec<&'static str> {
    ENVIRONMENT
        .split("\n\n")
        .filter_map(|p| p.strip_prefix("* ")?.split_once(':').map(|(n, _)| n))
        .collect()
}

/// The ENVIRONMENT section of the man pages: one `* NAME: text` paragraph per variable.
pub const ENVIRONMENT: &str = "\
* NO_COLOR: when set and not empty, no colour (--color auto).\n\n\
* DOCKER_HOST: the Docker engine to ask when --docker-host is not given (unix:///path or \
tcp://host:port); default unix:///var/run/docker.sock. An engine that cannot be reached makes \
the run exit 1.\n\n\
* DOCKER_TLS_VERIFY: when set, talk TLS to a tcp:// engine.\n\n\
* DOCKER_CERT_PATH: where the TLS certificates are (ca.pem, cert.pem, key.pem).\n\n\
* OPENCLAW_STATE_DIR: one more default state dir on the host (as OpenClaw itself reads it).\n\n\
* ZAKI_LOCKS_RUN_LOCK: the run lock's path (--run-lock).";

const ABOUT: &str = "Find and safely remove stuck OpenClaw session locks";

const LONG_ABOUT: &str = "\
Find and safely remove stuck OpenClaw session locks.

OpenClaw guards each session transcript with a lock file \
(agents/<agent>/sessions/<id>.jsonl.lock). When a gateway crashes or its container \
restarts, the lock stays behind and the session answers \"session busy\" until the lock is \
30 minutes old. zaki-locks judges every lock the way OpenClaw does (missing-pid, dead-pid, \
recycled-pid, invalid-createdAt, too-old), stricter about what a live owner is, and removes \
only locks that are stale and unchanged since they were judged. A lock some process holds \
open is never removed, whatever its age: held past its max hold it is reported wedged.";

/// `--color`: whether to colour human output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// Colour when stdout is a terminal and `NO_COLOR` is not set.
    Auto,
    Always,
    Never,
}

#[derive(Debug, Parser)]
#[command(
    name = "zaki-locks",
    version,
    about = ABOUT,
    long_about = LONG_ABOUT,
    after_help = main_after_help(),
    propagate_version = true,
    disable_help_subcommand = true
)]
pub struct Cli {
    /// When to colour the output
    ///
    /// auto colours on a terminal unless NO_COLOR is set; always colours in a pipe too
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, global = true, value_name = "WHEN")]
    pub color: ColorChoice,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List every session lock with its owner, age and whether it is stale
    #[command(after_help = SHORT_AFTER, after_long_help = exit_codes("scan"))]
    Scan(ScanArgs),
    /// Remove stale session locks (safe to run from cron every 5 minutes)
    #[command(after_help = SHORT_AFTER, after_long_help = exit_codes("clean"))]
    Clean(CleanArgs),
    /// Clean each container's stale locks as soon as it starts again (replaces the cron job)
    ///
    /// Follows Docker's events, plus a full clean at start-up and every --interval: a
    /// replacement for the cron job
    #[command(after_help = SHORT_AFTER, after_long_help = exit_codes("watch"))]
    Watch(WatchArgs),
    /// Send a test message to a user's gateway like the router does, and say why it is stuck
    #[command(after_help = SHORT_AFTER, after_long_help = exit_codes("probe"))]
    Probe(ProbeArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell)
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print a man page (roff): `zaki-locks man clean | man -l -`
    Man {
        /// The subcommand whose page to print [default: the main page]
        #[arg(value_parser = clap::builder::PossibleValuesParser::new(MAN_PAGES))]
        page: Option<String>,
    },
}

/// The subcommands that have their own man page (`zaki-locks-<name>.1`).
pub const MAN_PAGES: [&str; 6] = ["scan", "clean", "watch", "probe", "completions", "man"];

/// Where to look for locks.
#[derive(Debug, Clone, Args)]
pub struct PlaceArgs {
    /// A place typed without its option (`scan /root/.openclaw`): refused with the option to use
    #[arg(hide = true, value_name = "PLACE")]
    pub stray: Vec<PathBuf>,

    /// A host state dir, such as /root/.openclaw (repeatable)
    ///
    /// An OpenClaw state dir whose gateway runs on this host. Giving --root or --users-dir replaces
    /// the defaults: /root/.openclaw, $OPENCLAW_STATE_DIR and /var/zaki-platform/users
    #[arg(long, value_name = "DIR", value_hint = ValueHint::DirPath)]
    pub root: Vec<PathBuf>,

    /// A dir of per-user state dirs (repeatable)
    ///
    /// A directory of user-<id>/.openclaw state dirs. Each is bind-mounted into that user's
    /// container: their owners run in the container's PID namespace
    #[arg(long, value_name = "DIR", value_hint = ValueHint::DirPath)]
    pub users_dir: Vec<PathBuf>,

    /// What a per-user dir's name has before the id
    ///
    /// A per-user dir's name below --users-dir is this prefix, then the user id: user-42 by
    /// default; empty: the id alone (42, digits only)
    #[arg(
        hide_short_help = true,
        long,
        value_name = "PREFIX",
        default_value = "user-"
    )]
    pub user_dir_prefix: String,

    /// Look only inside containers, not at the host's dirs
    #[arg(long)]
    pub no_host: bool,

    /// Look only at the host's dirs, not inside containers
    #[arg(long, conflicts_with_all = ["container", "docker_host"])]
    pub no_containers: bool,

    /// A Docker engine to ask (repeatable)
    ///
    /// unix:///var/run/docker.sock, or tcp://host:2376 (TLS when DOCKER_TLS_VERIFY is set)
    /// [default: $DOCKER_HOST, else the local socket]
    #[arg(hide_short_help = true, long, value_name = "URL", value_parser = parse_docker_host)]
    pub docker_host: Vec<String>,

    /// Look inside running containers named so
    ///
    /// Look inside running containers whose name starts with this
    #[arg(long, value_name = "PREFIX", default_value = "zaki-user-")]
    pub prefix: String,

    /// Exactly this container (repeatable)
    ///
    /// Look inside exactly this container (repeatable; replaces --prefix). On the host, only its
    /// user's dir is looked at (zaki-user-42: user-42 below the users dirs; the host's own state
    /// dirs only when given with --root). A stopped container's bind-mounted state dir is read from
    /// this host
    #[arg(long, value_name = "NAME")]
    pub container: Vec<String>,

    /// The state dir inside the containers (repeatable)
    ///
    /// The OpenClaw state dir inside the containers [default: found from each container's mounts
    /// and environment, /home/node/.openclaw, /root/.openclaw]
    #[arg(hide_short_help = true, long, value_name = "PATH")]
    pub container_state_dir: Vec<String>,

    /// Always look inside containers by exec
    ///
    /// Always look inside containers with `docker exec`, even where their files can be read from
    /// this host (through a bind mount or the container's root)
    #[arg(hide_short_help = true, long)]
    pub via_exec: bool,

    /// Containers to look inside at once
    #[arg(hide_short_help = true, long, short = 'j', value_name = "N", default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub jobs: u16,

    /// How long a container may take to answer
    ///
    /// How long one container may take to answer (each exec, and connecting to Docker)
    #[arg(hide_short_help = true, long, value_name = "DURATION", default_value = "10s", value_parser = duration_in(Duration::from_millis(100), HOUR))]
    pub container_timeout: Duration,

    /// How long one place's databases may take to read
    ///
    /// How long one place's SQLite databases (OpenClaw 2026.8+) may take to read; past it the
    /// place is an error ("timed out reading …") and the others go on
    #[arg(hide_short_help = true, long, value_name = "DURATION", default_value = "3s", value_parser = duration_in(Duration::from_millis(100), HOUR))]
    pub place_timeout: Duration,
}

/// How to judge.
#[derive(Debug, Clone, Args)]
pub struct JudgeArgs {
    /// Age (by createdAt) past which a lock nobody holds open is too-old (e.g. 30m, 1h, 90s)
    ///
    /// A lock some process holds open is never removed, whatever its age: held past its max
    /// hold (its maxHoldMs, else this) it is reported wedged, with the restart that fixes it.
    /// Age alone never removes a lock whose owner may be alive where its holders cannot be
    /// seen. Also the age an empty or half-written lock's mtime must reach before it is stale
    /// (it may be one being created). Below OpenClaw's own 5-minute max hold it needs
    /// --allow-short-threshold
    #[arg(long, value_name = "DURATION", default_value = "30m", value_parser = duration_in(Duration::ZERO, YEAR))]
    pub older_than: Duration,

    /// Accept an --older-than below 5m (for tests, and fleets known to be idle)
    ///
    /// Held locks are still never removed. But a live owner may hold its lock for 5 minutes:
    /// below that, normal held locks without maxHoldMs are reported wedged (and fail
    /// --fail-on-held), and where holders cannot be seen (a network filesystem, some exec
    /// listings) an empty lock a gateway is still writing may be removed
    #[arg(hide_short_help = true, long)]
    pub allow_short_threshold: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScanFormat {
    /// A table for people (aligned, cut to the terminal's width or COLUMNS)
    Table,
    /// Tab-separated lines, never cut (for cut, awk and spreadsheets)
    Tsv,
    /// The JSON report (stable schema: its fields are listed in man zaki-locks)
    Json,
    /// Prometheus text format (node_exporter textfile collector)
    Prometheus,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CleanFormat {
    /// One line per action, for people and logs
    Text,
    /// The JSON report (stable schema: its fields are listed in man zaki-locks)
    Json,
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    #[command(flatten)]
    pub places: PlaceArgs,
    #[command(flatten)]
    pub judge: JudgeArgs,

    /// Output format
    #[arg(long, value_enum, default_value_t = ScanFormat::Table)]
    pub format: ScanFormat,

    /// List only stale locks
    #[arg(long, conflicts_with = "held_over")]
    pub stale_only: bool,

    /// Exit 3 when a stale lock is present
    ///
    /// Exit with status 3 when a stale lock is present (for monitoring)
    #[arg(long)]
    pub fail_on_stale: bool,

    /// List only live locks held longer than this
    ///
    /// e.g. 1m [no value: each one's max hold]. A live lock is normally released within seconds;
    /// OpenClaw's watchdog releases one after 5 min. Without a value: each lock's own max hold (its
    /// payload's maxHoldMs, OpenClaw 2026.5.28+; else --older-than), the line past which a lock
    /// held open is wedged
    #[arg(long, value_name = "DURATION", value_parser = parse_held_over,
          num_args = 0..=1, default_missing_value = "max-hold", require_equals = false)]
    pub held_over: Option<HeldOver>,

    /// With --held-over: exit 3 when one is present
    ///
    /// With --held-over: exit with status 3 when such a lock is present
    #[arg(long, requires = "held_over")]
    pub fail_on_held: bool,

    /// Show full paths in the table
    ///
    /// The table shows each lock's path relative to its state dir; the JSON report always has
    /// the full path
    #[arg(hide_short_help = true, long)]
    pub full_paths: bool,

    /// Also write the metrics to this file
    ///
    /// Also write the metrics to this file, atomically: Prometheus text format, for node_exporter's
    /// textfile collector
    #[arg(long, value_name = "PATH", value_hint = ValueHint::FilePath)]
    pub metrics_file: Option<PathBuf>,
}

/// `--restart-orphaned` and its bounds, for `clean` and `watch` alike.
#[derive(Debug, Args)]
pub struct RestartArgs {
    /// Restart gateways holding an orphan turn claim
    ///
    /// OpenClaw 2026.8+: restart each container whose gateway holds an orphan turn claim (watch:
    /// after each pass). The gateway clears claims at start-up. One at a time, after checking
    /// again that the claim is still there; the database is never edited. Without it, the
    /// command is printed
    #[arg(long)]
    pub restart_orphaned: bool,

    /// With --restart-orphaned: the uptime a restart needs
    ///
    /// Leave a container up for less than this alone: its gateway clears claims while it starts;
    /// restarting it again would only delay that
    #[arg(hide_short_help = true, long, value_name = "DURATION", default_value = "1m", requires = "restart_orphaned",
          value_parser = duration_in(Duration::ZERO, HOUR))]
    pub restart_min_uptime: Duration,

    /// With --restart-orphaned: most restarts per run
    ///
    /// At most this many containers are restarted in one run (one watch pass); the others are
    /// reported as deferred and looked at again on the next run
    #[arg(hide_short_help = true, long, value_name = "N", default_value = "3", requires = "restart_orphaned",
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub restart_max: u32,

    /// With --restart-orphaned: most time spent restarting per run
    ///
    /// No restart is begun once the run has spent this long on restarts (each one waits up to
    /// 10 s for the gateway to stop); the others are reported as deferred
    #[arg(hide_short_help = true, long, value_name = "DURATION", default_value = "60s", requires = "restart_orphaned",
          value_parser = duration_in(Duration::from_secs(1), HOUR))]
    pub restart_budget: Duration,
}

#[derive(Debug, Args)]
pub struct CleanArgs {
    #[command(flatten)]
    pub places: PlaceArgs,
    #[command(flatten)]
    pub judge: JudgeArgs,

    /// Show what would be removed, remove nothing
    #[arg(long, short = 'n')]
    pub dry_run: bool,

    /// Print only removals and what needs a human
    ///
    /// For cron: print nothing unless a lock was removed, something went wrong or needs a human
    /// (a wedged lock, a gateway to restart: one line each on stderr, with its fix)
    #[arg(long, short = 'q')]
    pub quiet: bool,

    /// Output format
    #[arg(long, value_enum, default_value_t = CleanFormat::Text)]
    pub format: CleanFormat,

    /// The run lock that keeps cleans apart
    ///
    /// The run lock that keeps two cleans (or a clean and a watch) from overlapping [default:
    /// /run/zaki-locks.lock as root, else $XDG_RUNTIME_DIR/zaki-locks.lock]
    #[arg(hide_short_help = true, long, value_name = "PATH", env = "ZAKI_LOCKS_RUN_LOCK", value_hint = ValueHint::FilePath)]
    pub run_lock: Option<PathBuf>,

    /// How long to wait for the run lock
    ///
    /// How long to wait for a previous clean (or a watch) to finish. Then it steps aside (exit 0,
    /// metrics still written). A clean run by hand says on stderr that it waits
    #[arg(hide_short_help = true, long, value_name = "DURATION", default_value = "10s", value_parser = duration_in(Duration::ZERO, HOUR))]
    pub wait: Duration,

    /// A run lock holder busy for longer than this looks hung
    ///
    /// A run lock holder busy with one pass for longer than this looks hung: stepping aside
    /// from it exits 1 and writes zaki_locks_last_run_success 0 with its pid and busy time
    /// [default: 3 × the 5-minute cron interval]
    #[arg(hide_short_help = true, long, value_name = "DURATION", default_value = "15m", value_parser = duration_in(Duration::from_secs(1), YEAR))]
    pub hung_after: Duration,

    /// The shape of the log lines
    ///
    /// auto: human on a terminal, else kv. human, or one key=value line (or JSON object) per action
    /// with a timestamp, for journald and log shippers
    #[arg(long, value_enum, default_value_t = LogFormat::Auto, value_name = "FORMAT")]
    pub log_format: LogFormat,

    /// Also write the metrics to this file
    ///
    /// Also write the metrics to this file, atomically: Prometheus text format, for node_exporter's
    /// textfile collector
    #[arg(long, value_name = "PATH", value_hint = ValueHint::FilePath)]
    pub metrics_file: Option<PathBuf>,

    #[command(flatten)]
    pub restart: RestartArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// human on a terminal, kv otherwise
    Auto,
    /// Sentences for people
    Human,
    /// ts=… action=… key=value pairs, one line per action
    Kv,
    /// One JSON object per line
    Json,
}

const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(86400);
const YEAR: Duration = Duration::from_secs(365 * 86400);

/// humantime durations (`30m`, `1h 30m`, `90s`), with one message that says what to type.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    if !t.is_empty() && t.ends_with(|c: char| c.is_ascii_digit()) {
        let lead = t.trim_end_matches(|c: char| c.is_ascii_digit());
        return Err(if lead.is_empty() {
            format!("a duration needs a unit: write {t}s, {t}m or {t}h")
        } else {
            format!("the last number has no unit: write {t}m (or {t}s)")
        });
    }
    humantime::parse_duration(t)
        .map_err(|e| format!("{e}: write a duration such as 30m, 1h30m or 90s (units: s, m, h, d)"))
}

/// A duration parser that also refuses values outside `min..=max`, so that no later step
/// (timers, date arithmetic) ever sees a value it cannot hold.
pub fn duration_in(
    min: Duration,
    max: Duration,
) -> impl Fn(&str) -> Result<Duration, String> + Clone + Send + Sync + 'static {
    move |s: &str| {
        let d = parse_duration(s).map_err(|e| unit_in_range(s, min, max).unwrap_or(e))?;
        if d < min {
            Err(format!("must be at least {}", shown(min)))
        } else if d > max {
            Err(format!("must be at most {}", shown(max)))
        } else {
            Ok(d)
        }
    }
}

/// A bound as one would type it: `1s`, `30m`, `1d`.
fn shown(d: Duration) -> String {
    let (ms, s) = (d.as_millis(), d.as_secs());
    match () {
        _ if ms % 1000 != 0 => format!("{ms}ms"),
        _ if s > 0 && s % 86400 == 0 => format!("{}d", s / 86400),
        _ if s > 0 && s % 3600 == 0 => format!("{}h", s / 3600),
        _ if s > 0 && s % 60 == 0 => format!("{}m", s / 60),
        _ => format!("{s}s"),
    }
}

/// A number without a unit, and the units that make it a value in `min..=max`: the message
/// suggests only those (`--interval 0`: not `0s`, which is refused, but the least value).
fn unit_in_range(s: &str, min: Duration, max: Duration) -> Option<String> {
    let t = s.trim();
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let ok: Vec<String> = ["s", "m", "h"]
        .iter()
        .map(|u| format!("{t}{u}"))
        .filter(|v| humantime::parse_duration(v).is_ok_and(|d| (min..=max).contains(&d)))
        .collect();
    Some(match ok.as_slice() {
        [] => format!(
            "a duration needs a unit, and {t} of any unit is out of range: write a value from {} to {}",
            shown(min),
            shown(max)
        ),
        [one] => format!("a duration needs a unit: write {one}"),
        [init @ .., last] => format!(
            "a duration needs a unit: write {} or {last}",
            init.join(", ")
        ),
    })
}

/// A Docker engine address in a shape the engine client understands.
fn parse_docker_host(s: &str) -> Result<String, String> {
    let ok = ["unix:///", "tcp://", "http://", "https://"]
        .iter()
        .any(|p| s.starts_with(p) && s.len() > p.len());
    if ok {
        Ok(s.to_owned())
    } else {
        Err("expected unix:///path/to/docker.sock or tcp://host:port".into())
    }
}

fn parse_held_over(s: &str) -> Result<HeldOver, String> {
    if s == "max-hold" {
        return Ok(HeldOver::MaxHold);
    }
    duration_in(Duration::from_secs(1), YEAR)(s).map(HeldOver::After)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProbeFormat {
    /// A timeline, each step printed as it happens
    Text,
    /// One JSON document at the end (its fields are listed in man zaki-locks-probe)
    Json,
    /// Prometheus text format (node_exporter textfile collector)
    Prometheus,
}

#[derive(Debug, Args)]
pub struct ProbeArgs {
    /// The Telegram user id, as in the router table
    #[arg(value_name = "USER_ID")]
    pub user: String,

    /// The router table
    #[arg(
        long,
        value_name = "PATH",
        value_hint = ValueHint::FilePath,
        default_value = "/var/zaki-platform/router/users.json"
    )]
    pub users_file: PathBuf,

    /// Where the gateways' ports are published
    #[arg(
        hide_short_help = true,
        long,
        value_name = "HOST",
        default_value = "127.0.0.1"
    )]
    pub gateway_host: String,

    /// Attempts, as the router makes them
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=20))]
    pub attempts: u32,

    /// Timeout of each attempt
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = duration_in(Duration::from_secs(1), HOUR))]
    pub timeout: Duration,

    /// Wait before retry n: n times this
    ///
    /// Wait before retry n is n times this (2s: 2 s, then 4 s), as the router does
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = duration_in(Duration::ZERO, HOUR))]
    pub backoff: Duration,

    /// The `user` the probe talks as
    ///
    /// The `user` the probe talks as, so it never writes into the user's conversation
    #[arg(
        hide_short_help = true,
        long,
        value_name = "NAME",
        default_value = "zaki-locks-probe"
    )]
    pub session_user: String,

    /// Talk as the user itself (writes to its transcript)
    ///
    /// Talk as the user itself, to see exactly what the user sees. This APPENDS the probe's message
    /// and the reply to the user's real transcript
    #[arg(long, conflicts_with = "session_user")]
    pub as_user: bool,

    /// The message sent
    #[arg(
        hide_short_help = true,
        long,
        value_name = "TEXT",
        default_value = "zaki-locks probe: please reply with one word."
    )]
    pub message: String,

    /// The agent that serves the OpenAI endpoint
    ///
    /// The OpenClaw agent that serves the OpenAI-compatible endpoint
    #[arg(
        hide_short_help = true,
        long,
        value_name = "ID",
        default_value = "main"
    )]
    pub agent: String,

    /// Hold the session lock this long, then send
    ///
    /// Checks the retry path: locks the probe's session in the name of a process of its own in
    /// the container (started by exec, alive until the lock goes), as OpenClaw writes a lock, and
    /// releases it after DURATION. Up to OpenClaw 2026.4 (a 10 s wait for a lock) 12s makes the
    /// first attempt fail as session-busy and a retry succeed; from 2026.5 (a 60 s wait) hold it
    /// longer than --timeout. The probe says when the retry path was not exercised. The lock and
    /// its owner are removed on every path, Ctrl-C included
    #[arg(long, value_name = "DURATION", value_parser = duration_in(Duration::from_secs(1), HOUR), conflicts_with = "as_user")]
    pub inject_lock: Option<Duration>,

    /// Remove a stale lock that blocks at the end
    ///
    /// When a stale lock blocks the session at the end, remove it, as the router's "clean stale
    /// locks on final failure" does
    #[arg(long)]
    pub clean_on_failure: bool,

    /// Output format
    #[arg(long, value_enum, default_value_t = ProbeFormat::Text)]
    pub format: ProbeFormat,

    /// Also write the metrics to this file
    ///
    /// Also write the probe's metrics (Prometheus text format) to this file, atomically
    #[arg(long, value_name = "PATH", value_hint = ValueHint::FilePath)]
    pub metrics_file: Option<PathBuf>,

    /// Label the probe's metrics with user="<id>"
    ///
    /// Off by default: one series set per user grows without bound and puts Telegram ids in
    /// Prometheus; give each probed user its own --metrics-file instead, or turn this on for a
    /// handful of canary users
    #[arg(long)]
    pub metrics_user_label: bool,

    /// The container's name before the user id
    ///
    /// The user's container is this prefix followed by the user id
    #[arg(long, value_name = "PREFIX", default_value = "zaki-user-")]
    pub prefix: String,

    /// The Docker engine to ask
    ///
    /// The Docker engine to ask [default: $DOCKER_HOST, else the local socket]
    #[arg(hide_short_help = true, long, value_name = "URL", value_parser = parse_docker_host)]
    pub docker_host: Option<String>,

    /// The state dir inside the container
    ///
    /// The OpenClaw state dir inside the container [default: found from its mounts]
    #[arg(hide_short_help = true, long, value_name = "PATH")]
    pub container_state_dir: Vec<String>,

    /// How long Docker and the container may take
    ///
    /// How long Docker and the container may take to answer
    #[arg(hide_short_help = true, long, value_name = "DURATION", default_value = "10s", value_parser = duration_in(Duration::from_millis(100), HOUR))]
    pub container_timeout: Duration,

    #[command(flatten)]
    pub judge: JudgeArgs,
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    #[command(flatten)]
    pub places: PlaceArgs,
    #[command(flatten)]
    pub judge: JudgeArgs,

    /// Run a full clean this often (and at start-up, and after reconnecting to Docker)
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = duration_in(Duration::from_secs(1), DAY))]
    pub interval: Duration,

    /// Wait this long after a start before cleaning
    ///
    /// After a container starts, wait this long before cleaning it
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = duration_in(Duration::ZERO, HOUR))]
    pub settle: Duration,

    /// The shape of the log lines
    ///
    /// auto: human on a terminal, else kv
    #[arg(long, value_enum, default_value_t = LogFormat::Auto, value_name = "FORMAT")]
    pub log_format: LogFormat,

    /// The run lock, held while watch runs
    ///
    /// The run lock, held for as long as watch runs (a cron clean then steps aside)
    #[arg(hide_short_help = true, long, value_name = "PATH", env = "ZAKI_LOCKS_RUN_LOCK", value_hint = ValueHint::FilePath)]
    pub run_lock: Option<PathBuf>,

    /// How long to wait for a clean under way
    ///
    /// How long to wait for a clean under way to finish before giving up (exit 1)
    #[arg(hide_short_help = true, long, value_name = "DURATION", default_value = "30s", value_parser = duration_in(Duration::ZERO, HOUR))]
    pub wait: Duration,

    #[command(flatten)]
    pub restart: RestartArgs,

    /// Write the metrics to this file after every pass
    ///
    /// Atomically; Prometheus text format, command="watch"; it replaces the cron clean's file
    #[arg(long, value_name = "PATH", value_hint = ValueHint::FilePath)]
    pub metrics_file: Option<PathBuf>,
}

impl Cli {
    /// Checks that clap cannot express (across options); a failure is a usage error (exit 2).
    pub fn validate(&self) -> Result<(), clap::Error> {
        let judge = match &self.command {
            Command::Scan(a) => Some(&a.judge),
            Command::Clean(a) => Some(&a.judge),
            Command::Watch(a) => Some(&a.judge),
            Command::Probe(a) => Some(&a.judge),
            _ => None,
        };
        if let Some(j) = judge
            && j.older_than < MIN_SAFE_THRESHOLD
            && !j.allow_short_threshold
        {
            let d = humantime::format_duration(j.older_than);
            let sub = self.command.name();
            return Err(usage(
                sub,
                format!(
                    "--older-than {d} is below OpenClaw's 5-minute max hold: live locks would be \
                     removed (unless --allow-short-threshold)\n\n  tip: the default is 30m: drop \
                     --older-than\n  tip: to mean it: zaki-locks {sub} --older-than {d} \
                     --allow-short-threshold"
                ),
            ));
        }
        let places = match &self.command {
            Command::Scan(a) => Some(&a.places),
            Command::Clean(a) => Some(&a.places),
            Command::Watch(a) => Some(&a.places),
            _ => None,
        };
        if let Some(p) = places
            && let Some(path) = p.stray.first()
        {
            let shown = path.display();
            let users = path.join(".openclaw").is_dir()
                || std::fs::read_dir(path).is_ok_and(|mut d| {
                    d.any(|e| e.is_ok_and(|e| e.file_name().to_string_lossy().starts_with("user-")))
                });
            return Err(usage(
                self.command.name(),
                if users {
                    format!(
                        "places are options: a dir of user-<id>/.openclaw is --users-dir {shown}"
                    )
                } else {
                    format!(
                        "places are options: a state dir is --root {shown} (a dir of \
                     user-<id>/.openclaw is --users-dir)"
                    )
                },
            ));
        }
        if let Some(p) = places
            && p.no_host
            && (!p.root.is_empty() || !p.users_dir.is_empty())
        {
            return Err(usage(
                self.command.name(),
                "--no-host cannot be used with --root or --users-dir (they are host places)".into(),
            ));
        }
        Ok(())
    }
}

impl Command {
    /// The subcommand's name, as typed.
    fn name(&self) -> &'static str {
        match self {
            Command::Scan(_) => "scan",
            Command::Clean(_) => "clean",
            Command::Watch(_) => "watch",
            Command::Probe(_) => "probe",
            Command::Completions { .. } => "completions",
            Command::Man { .. } => "man",
        }
    }
}

/// A usage error of subcommand `sub`, shown with that subcommand's usage line.
fn usage(sub: &str, msg: String) -> clap::Error {
    use clap::CommandFactory;
    let mut root = Cli::command();
    root.build();
    let mut cmd = root.find_subcommand(sub).cloned().unwrap_or(root);
    cmd.error(clap::error::ErrorKind::ArgumentConflict, msg)
}
