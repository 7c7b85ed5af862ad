//! The command line, all in one place. The man page and shell completions are generated from
//! these definitions (see `docs`), so every word here is also documentation.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::output::ColorChoice;

const EXIT_CODES: &str = "\
Exit status:
  0  the job was done (for clean: every stale lock removed, or none found)
  1  part of the job could not be done (an unreadable directory, a failed removal);
     the rest was still done and reported
  2  usage error
  3  scan --fail-on-stale: at least one stale lock is present;
     scan --held-over D --fail-on-held: a live lock is held longer than D
  130, 143  clean interrupted by SIGINT/SIGTERM (the removal under way was finished)";

const PROBE_EXIT_CODES: &str = "\
Exit status:
  0  ok, or ok-after-retry
  1  the probe itself could not run (no such user, unreadable router table, ...)
  2  usage error
  3  session-busy: the session's lock blocked every attempt
  4  timeout
  5  not-ready: the container is not running, or nothing listens on the port
  6  auth-failed (401/403) or http-error";

const ABOUT: &str = "Find and safely remove stuck OpenClaw session locks";

const LONG_ABOUT: &str = "\
Find and safely remove stuck OpenClaw session locks.

OpenClaw guards each session transcript with a lock file \
(agents/<agent>/sessions/<id>.jsonl.lock). When a gateway crashes or its container \
restarts, the lock stays behind and the session answers \"session busy\" until the lock is \
30 minutes old. zaki-locks judges every lock the way OpenClaw does (missing-pid, dead-pid, \
recycled-pid, invalid-createdAt, too-old), stricter about what a live owner is, and removes \
only locks that are stale and unchanged since they were judged.";

#[derive(Debug, Parser)]
#[command(
    name = "zaki-locks",
    version,
    about = ABOUT,
    long_about = LONG_ABOUT,
    after_help = EXIT_CODES,
    propagate_version = true,
    disable_help_subcommand = true
)]
pub struct Cli {
    /// When to colour the output: auto colours on a terminal unless NO_COLOR is set
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, global = true, value_name = "WHEN")]
    pub color: ColorChoice,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List every session lock with its owner, age and whether it is stale
    #[command(after_help = EXIT_CODES)]
    Scan(ScanArgs),
    /// Remove stale session locks (safe to run from cron every 5 minutes)
    #[command(after_help = EXIT_CODES)]
    Clean(CleanArgs),
    /// Clean a container's stale locks as soon as it starts again (follows Docker's events),
    /// plus a full clean at start-up and every --interval: a replacement for the cron job
    Watch(WatchArgs),
    /// Send a test message to a user's gateway like the router does, and say why it is stuck
    #[command(after_help = PROBE_EXIT_CODES)]
    Probe(ProbeArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell)
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) of zaki-locks or of one of its subcommands
    #[command(hide = true)]
    Man {
        /// The subcommand whose page to print (scan, clean, completions)
        page: Option<String>,
    },
}

/// Where to look for locks.
#[derive(Debug, Clone, Args)]
pub struct PlaceArgs {
    /// An OpenClaw state dir whose gateway runs on this host (repeatable). Giving --root or
    /// --users-dir replaces the defaults: /root/.openclaw, $OPENCLAW_STATE_DIR and
    /// /var/zaki-platform/users
    #[arg(long, value_name = "DIR")]
    pub root: Vec<PathBuf>,

    /// A directory of per-user state dirs (user-<id>/.openclaw), each bind-mounted into that
    /// user's container (repeatable). Their owners run in the container's PID namespace
    #[arg(long, value_name = "DIR")]
    pub users_dir: Vec<PathBuf>,

    /// Do not look at the host's filesystem (only containers)
    #[arg(long)]
    pub no_host: bool,

    /// Do not look inside containers (only the host's filesystem)
    #[arg(long, conflicts_with_all = ["container", "docker_host"])]
    pub no_containers: bool,

    /// A Docker engine to ask (repeatable): unix:///var/run/docker.sock, tcp://host:2376 (TLS
    /// when DOCKER_TLS_VERIFY is set) [default: $DOCKER_HOST, else the local socket]
    #[arg(long, value_name = "URL")]
    pub docker_host: Vec<String>,

    /// Look inside running containers whose name starts with this
    #[arg(long, value_name = "PREFIX", default_value = "zaki-user-")]
    pub prefix: String,

    /// Look inside exactly this container (repeatable; replaces --prefix)
    #[arg(long, value_name = "NAME")]
    pub container: Vec<String>,

    /// The OpenClaw state dir inside the containers (repeatable) [default: found from each
    /// container's mounts and environment, /home/node/.openclaw, /root/.openclaw]
    #[arg(long, value_name = "PATH")]
    pub container_state_dir: Vec<String>,

    /// Always look inside containers with `docker exec`, even where their files can be read
    /// from this host (through a bind mount or the container's root)
    #[arg(long)]
    pub via_exec: bool,

    /// How many containers to look inside at once
    #[arg(long, short = 'j', value_name = "N", default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub jobs: u16,

    /// How long one container may take to answer (each exec, and connecting to Docker)
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub container_timeout: Duration,
}

/// How to judge.
#[derive(Debug, Clone, Args)]
pub struct JudgeArgs {
    /// A lock older than this (by its createdAt) is stale whoever holds it; also the age an
    /// empty or half-written lock's mtime must reach (e.g. 30m, 1h, 90s)
    #[arg(long, value_name = "DURATION", default_value = "30m", value_parser = parse_duration)]
    pub older_than: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScanFormat {
    /// A table for people
    Table,
    /// The JSON report described in the README (stable schema)
    Json,
    /// Prometheus text format (node_exporter textfile collector)
    Prometheus,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CleanFormat {
    /// One line per action, for people and logs
    Text,
    /// The JSON report described in the README (stable schema)
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
    #[arg(long)]
    pub stale_only: bool,

    /// Exit with status 3 when a stale lock is present (for monitoring)
    #[arg(long)]
    pub fail_on_stale: bool,

    /// List only live locks held longer than this (a live lock is normally released within
    /// seconds; OpenClaw's watchdog releases one after 5 min), e.g. 1m. Without a value: each
    /// lock's own max hold (its payload's maxHoldMs, OpenClaw 2026.5.28+; else 5 min)
    #[arg(long, value_name = "DURATION", value_parser = parse_held_over,
          num_args = 0..=1, default_missing_value = "max-hold", require_equals = false)]
    pub held_over: Option<HeldOver>,

    /// With --held-over: exit with status 3 when such a lock is present
    #[arg(long, requires = "held_over")]
    pub fail_on_held: bool,

    /// Also write the metrics (Prometheus text format) to this file, atomically, for
    /// node_exporter's textfile collector
    #[arg(long, value_name = "PATH")]
    pub metrics_file: Option<PathBuf>,
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

    /// Print nothing unless a lock was removed or something went wrong (for cron)
    #[arg(long, short = 'q')]
    pub quiet: bool,

    /// Output format
    #[arg(long, value_enum, default_value_t = CleanFormat::Text)]
    pub format: CleanFormat,

    /// The run lock that keeps two cleans from overlapping [default: /run/zaki-locks.lock as
    /// root, else $XDG_RUNTIME_DIR/zaki-locks.lock]
    #[arg(long, value_name = "PATH", env = "ZAKI_LOCKS_RUN_LOCK")]
    pub run_lock: Option<PathBuf>,

    /// How long to wait for a previous clean to finish before stepping aside (exit 0)
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub wait: Duration,

    /// The shape of the text lines: human, or one key=value line (or JSON object) per action
    /// with a timestamp, for journald and log shippers [auto: human on a terminal, else kv]
    #[arg(long, value_enum, default_value_t = LogFormat::Auto, value_name = "FORMAT")]
    pub log_format: LogFormat,

    /// Also write the metrics (Prometheus text format) to this file, atomically, for
    /// node_exporter's textfile collector
    #[arg(long, value_name = "PATH")]
    pub metrics_file: Option<PathBuf>,

    /// OpenClaw 2026.8+: restart each container whose gateway holds an orphan turn claim (the
    /// gateway clears claims at start-up), one at a time, after checking again that the claim
    /// is still there. The database is never edited. Without it, clean prints the command
    #[arg(long)]
    pub restart_orphaned: bool,
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

/// humantime durations (`30m`, `1h 30m`, `90s`), with a message that says what to type.
fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s)
        .map_err(|e| format!("{e} (expected a duration such as 30m, 1h or 90s)"))
}

/// `--held-over`: a fixed threshold, or each lock's own max hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeldOver {
    After(Duration),
    /// The payload's `maxHoldMs`, else OpenClaw's default max hold.
    MaxHold,
}

/// OpenClaw's default max hold, for locks whose payload names none.
pub const DEFAULT_MAX_HOLD: Duration = Duration::from_secs(300);

impl HeldOver {
    /// The threshold for a lock with this `maxHoldMs`.
    pub fn threshold(self, max_hold_ms: Option<u64>) -> Duration {
        match self {
            HeldOver::After(d) => d,
            HeldOver::MaxHold => max_hold_ms.map_or(DEFAULT_MAX_HOLD, Duration::from_millis),
        }
    }
}

fn parse_held_over(s: &str) -> Result<HeldOver, String> {
    if s == "max-hold" {
        return Ok(HeldOver::MaxHold);
    }
    parse_duration(s).map(HeldOver::After)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProbeFormat {
    /// A timeline, each step printed as it happens
    Text,
    /// One JSON document at the end (schema in the README)
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
        default_value = "/var/zaki-platform/router/users.json"
    )]
    pub users_file: PathBuf,

    /// Where the gateways' ports are published
    #[arg(long, value_name = "HOST", default_value = "127.0.0.1")]
    pub gateway_host: String,

    /// Attempts, as the router makes them
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=20))]
    pub attempts: u32,

    /// Timeout of each attempt
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub timeout: Duration,

    /// Wait before retry n is n times this (2s: 2 s, then 4 s), as the router does
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = parse_duration)]
    pub backoff: Duration,

    /// The `user` the probe talks as, so it never writes into the user's conversation
    #[arg(long, value_name = "NAME", default_value = "zaki-locks-probe")]
    pub session_user: String,

    /// Talk as the user itself, to see exactly what the user sees. This APPENDS the probe's
    /// message and the reply to the user's real transcript
    #[arg(long, conflicts_with = "session_user")]
    pub as_user: bool,

    /// The message sent
    #[arg(
        long,
        value_name = "TEXT",
        default_value = "zaki-locks probe: please reply with one word."
    )]
    pub message: String,

    /// The OpenClaw agent that serves the OpenAI-compatible endpoint
    #[arg(long, value_name = "ID", default_value = "main")]
    pub agent: String,

    /// Check the retry path: lock the probe's session as a live process of the container (its
    /// pid 1) would, release it after DURATION, and send. With 12s the first attempt must fail
    /// as session-busy and a retry succeed. The lock is removed on every path, Ctrl-C included
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, conflicts_with = "as_user")]
    pub inject_lock: Option<Duration>,

    /// When a stale lock blocks the session at the end, remove it (the router's "clean stale
    /// locks on final failure")
    #[arg(long)]
    pub clean_on_failure: bool,

    /// Output format
    #[arg(long, value_enum, default_value_t = ProbeFormat::Text)]
    pub format: ProbeFormat,

    /// Also write the probe's metrics (Prometheus text format) to this file, atomically
    #[arg(long, value_name = "PATH")]
    pub metrics_file: Option<PathBuf>,

    /// The user's container is this prefix followed by the user id
    #[arg(long, value_name = "PREFIX", default_value = "zaki-user-")]
    pub prefix: String,

    /// The Docker engine to ask [default: $DOCKER_HOST, else the local socket]
    #[arg(long, value_name = "URL")]
    pub docker_host: Option<String>,

    /// The OpenClaw state dir inside the container [default: found from its mounts]
    #[arg(long, value_name = "PATH")]
    pub container_state_dir: Vec<String>,

    /// How long Docker and the container may take to answer
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
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
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
    pub interval: Duration,

    /// After a container starts, wait this long before cleaning it
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_duration)]
    pub settle: Duration,

    /// The shape of the log lines [auto: human on a terminal, else kv]
    #[arg(long, value_enum, default_value_t = LogFormat::Auto, value_name = "FORMAT")]
    pub log_format: LogFormat,

    /// The run lock, held for as long as watch runs (a cron clean then steps aside)
    #[arg(long, value_name = "PATH", env = "ZAKI_LOCKS_RUN_LOCK")]
    pub run_lock: Option<PathBuf>,

    /// How long to wait for a clean under way to finish before giving up (exit 1)
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub wait: Duration,

    /// OpenClaw 2026.8+: after each pass, restart each container whose gateway holds an orphan
    /// turn claim (as `clean --restart-orphaned`)
    #[arg(long)]
    pub restart_orphaned: bool,
}
