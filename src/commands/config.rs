//! What each command needs, resolved once from the command line and the environment (see
//! `cli::resolve`): plain values, nothing of clap, the environment or the terminal.

use std::path::PathBuf;
use std::time::Duration;

use crate::find::survey::ContainerSearch;
use crate::find::walk::HostSearch;
use crate::judge::lock::{HeldOver, Policy};
use crate::report::output::LogStyle;

/// What a command needs, and nothing of how it was typed.
#[derive(Debug)]
pub enum Config {
    Scan(Scan),
    Clean(Clean),
    Watch(Watch),
    Probe(Probe),
    /// Text the command line prints as it is: a completion script or a man page (rendered by
    /// `cli::docs` from clap's definitions).
    Print(Vec<u8>),
}

/// `--place-timeout`'s default (where a command has no such option: `probe`).
pub const DEFAULT_PLACE_TIMEOUT: Duration = Duration::from_secs(3);

/// Where to look for locks.
#[derive(Debug, Clone)]
pub struct Places {
    /// State dirs on this host; `None` with `--no-host`.
    pub host: Option<HostSearch>,
    /// Containers to look inside; `None` with `--no-containers`.
    pub containers: Option<ContainerSearch>,
    /// How many containers to look inside (or clean) at once.
    pub jobs: usize,
    /// How long one exec may take.
    pub timeout: Duration,
    /// How long one place's SQLite databases may take to read.
    pub place_timeout: Duration,
    /// Show "looked inside n/m containers" (stderr is a terminal).
    pub progress: bool,
}

impl Places {
    /// Only the one container `name`, as its own pass (watch after a start, a restart's
    /// re-check, the probe): no host dirs, the same engines and container options.
    pub fn only_container(&self, name: &str) -> Places {
        let containers = self.containers.clone().map(|c| ContainerSearch {
            names: vec![name.to_owned()],
            ..c
        });
        Places {
            host: None,
            containers,
            ..self.clone()
        }
    }
}

/// `scan`.
#[derive(Debug)]
pub struct Scan {
    pub places: Places,
    pub policy: Policy,
    pub output: ScanOutput,
    pub stale_only: bool,
    pub fail_on_stale: bool,
    pub held_over: Option<HeldOver>,
    pub fail_on_held: bool,
    pub metrics_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanOutput {
    Table(TableStyle),
    Json,
    Prometheus,
}

/// How the locks' table is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableStyle {
    pub colour: bool,
    pub full_paths: bool,
    /// The width to cut the lines at: the terminal's, or `COLUMNS` in a pipe; `None`: never
    /// cut.
    pub columns: Option<usize>,
    /// `--format tsv`: tab-separated, never cut nor padded.
    pub tsv: bool,
}

/// `clean`.
#[derive(Debug)]
pub struct Clean {
    pub places: Places,
    pub policy: Policy,
    pub dry_run: bool,
    pub quiet: bool,
    pub output: CleanOutput,
    /// The run lock to take; `None` on a dry run, which removes nothing.
    pub run_lock: Option<RunLock>,
    pub metrics_file: Option<PathBuf>,
    /// `--restart-orphaned` and its bounds; `None` without it or on a dry run.
    pub restart_orphaned: Option<Restarts>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CleanOutput {
    Text(LogStyle),
    Json,
}

/// `--restart-orphaned`: how restarts are earned and bounded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restarts {
    /// A container up for less is left to its start-up.
    pub min_uptime: Duration,
    /// Most restarts, and most time spent on them, per run.
    pub budget: crate::judge::restart::Budget,
    /// Where the restarts of past runs are remembered (beside the run lock).
    pub memory: PathBuf,
}

/// The run lock that keeps cleans and watches from overlapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunLock {
    pub path: PathBuf,
    /// How long to wait for the holder.
    pub wait: Duration,
    /// A holder busy with one pass for longer looks hung (`clean --hung-after`; watch: 3 ×
    /// its interval, for its own passes).
    pub hung_after: Duration,
}

/// `watch`.
#[derive(Debug)]
pub struct Watch {
    pub places: Places,
    pub policy: Policy,
    pub interval: Duration,
    pub settle: Duration,
    pub style: LogStyle,
    pub run_lock: RunLock,
    pub restart_orphaned: Option<Restarts>,
    pub metrics_file: Option<PathBuf>,
}

/// `probe`.
#[derive(Debug)]
pub struct Probe {
    pub user: String,
    pub users_file: PathBuf,
    pub gateway_host: String,
    /// The user's container (prefix + user id).
    pub container: String,
    /// That container, as the pipeline looks at it (through one engine).
    pub places: Places,
    pub policy: Policy,
    pub attempts: u32,
    pub timeout: Duration,
    pub backoff: Duration,
    pub talk_as: TalkAs,
    pub message: String,
    pub agent: String,
    pub inject_lock: Option<Duration>,
    pub clean_on_failure: bool,
    pub output: ProbeOutput,
    pub metrics_file: Option<PathBuf>,
    pub metrics_user_label: bool,
}

impl Probe {
    /// The engine to ask about the container's state (`None`: the local socket).
    pub fn docker_host(&self) -> Option<&str> {
        let search = self.places.containers.as_ref()?;
        search.docker_hosts.first().map(String::as_str)
    }
}

/// Whose session the probe talks in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TalkAs {
    /// Its own `user`, so the user's conversation is never written to.
    Probe(String),
    /// The user itself (`--as-user`): appends to the user's transcript.
    User,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeOutput {
    Text,
    Json,
    Prometheus,
}
