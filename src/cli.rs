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
  3  scan --fail-on-stale: at least one stale lock is present";

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
}

/// humantime durations (`30m`, `1h 30m`, `90s`), with a message that says what to type.
fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s)
        .map_err(|e| format!("{e} (expected a duration such as 30m, 1h or 90s)"))
}
