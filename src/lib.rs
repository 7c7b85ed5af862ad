//! zaki-locks: find and safely remove stuck OpenClaw session locks.
//!
//! `main` parses the command line and hands a [`config::Config`] to [`app::run`]. Each module
//! imports only modules listed below it in this map (`tests/layout.rs` checks it). Everything a
//! tenant writes is opened through `safefs` and printed through `escape`.
//!
//! Commands (`main` parses, `config::resolve` resolves, `app` dispatches):
//! - [`app`]: dispatches every command; runs `scan` and `clean`; renders the probe's report
//! - [`watch`]: the `watch` command: a clean pass per container start, and every interval
//!
//! Renderers (they read reports):
//! - [`metrics`]: Prometheus text for scan, clean, watch and probe, written atomically
//! - [`turns`]: the SQLite era's table and summary
//! - [`docs`]: man pages and shell completions, generated from `cli`
//!
//! Commands that run passes of their own:
//! - [`probe`]: send through the routing path and say why a bot is stuck: `classify` (pure),
//!   `evidence`, `gateway`, `inject`, `run`, `report`, `timeline`
//! - [`remedy`]: OpenClaw 2026.8+: restart containers holding orphan turn claims (pure `decide`),
//!   or name the fix
//!
//! One pass: find → observe → judge → act → report:
//! - [`pipeline`]: one pass over every place, shared by every command; what becomes of each lock
//!   (pure `settle`)
//!
//! Options:
//! - [`config`]: every flag, environment variable and terminal check resolved once into a clap-free
//!   `Config` (pure `resolve`)
//! - [`cli`]: the whole command line (clap): `--help`, the man pages and completions are written
//!   from it
//!
//! The report and its text:
//! - [`output`]: the locks' table, the log lines (human, kv, JSON) and the JSON report
//! - [`report`]: what a run reports: a record per lock with its status, the summary (the JSON
//!   schema)
//!
//! Find, observe, act:
//! - [`claims`]: OpenClaw 2026.8+ SQLite turn claims, read-only, judged by a pure `judge`
//!   (`layout`, `db`, `error`)
//! - [`remove`]: act: remove a stale lock only if it is unchanged since it was judged
//! - [`survey`]: find: the containers and which one owns which host dir (`discover` does I/O,
//!   `plan` decides, pure)
//! - [`era`]: what a place's OpenClaw release changes about its locks (pure rules)
//! - [`observe`]: read each lock once, and its owner, on the host or from an exec listing
//! - [`docker`]: the only module that talks to Docker (bollard)
//! - [`container`]: inside containers: the exec scripts (`src/scripts/*.sh`) and the parsing of
//!   their output
//! - [`walk`]: find: the host's state dirs and their lock files
//!
//! Judge:
//! - [`policy`]: the staleness policy, pure; each lock's one status; the held-over rule
//!
//! Observation primitives:
//! - [`holders`]: whether a process holds a lock open (write lease), and which
//! - [`lockfile`]: a lock file as read (identity, bounded bytes) or why not; leftover names; what a
//!   removal did
//! - [`pidns`]: a container's PID namespace seen from the host
//! - [`router`]: the router's users table, for probe
//! - [`place`]: where a lock lives and in which PID namespace its owner is judged
//! - [`safefs`]: opening tenant-written paths: regular files only, dirs relative to their parent,
//!   bounded reads
//! - [`exit_codes`]: the exit statuses, an enum with a merge rule
//!
//! At the bottom (they import no module of the crate):
//! - [`escape`]: every tenant-written byte escaped before a terminal or a log
//! - [`http`]: the probe's HTTP/1.1 client (hyper), bounded
//! - [`interrupt`]: SIGINT/SIGTERM: finish the removal under way, start no other
//! - [`lock`]: the lock payload across OpenClaw versions, and lock file names
//! - [`names`]: enums whose variants have one name each (JSON, logs, metrics)
//! - [`proc`]: a host process's facts, read through one opened `/proc/<pid>`
//! - [`runlock`]: the run lock that keeps cleans and watches from overlapping
//! - [`sessions`]: `sessions.json`, streamed and bounded, for session keys
//! - [`units`]: durations as operators read them

pub mod app;
mod claims;
pub mod cli;
pub mod config;
pub mod container;
pub mod docker;
pub mod docs;
mod era;
pub mod escape;
pub mod exit_codes;
mod holders;
mod http;
mod interrupt;
mod lock;
mod lockfile;
mod metrics;
mod names;
pub mod observe;
mod output;
mod pidns;
mod pipeline;
mod place;
mod policy;
mod probe;
mod proc;
mod remedy;
pub mod remove;
mod report;
mod router;
mod runlock;
mod safefs;
mod sessions;
mod survey;
mod turns;
mod units;
mod walk;
mod watch;
