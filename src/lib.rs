//! zaki-locks: find and safely remove stuck OpenClaw session locks.
//!
//! `main` parses the command line and hands a [`config::Config`] to [`app::run`]. Imports point
//! one way, down this map (`tests/layout.rs` checks there is no cycle). Everything a tenant writes
//! is opened through `safefs` and printed through `escape`.
//!
//! Entry and commands (main parses, `config` resolves, the commands run the pipeline and render its
//! report):
//! - [`cli`]: the whole command line (clap), from which `--help`, the man pages and completions are
//!   written
//! - [`config`]: every flag, environment variable and terminal check resolved once into a clap-free
//!   `Config` (pure `resolve`)
//! - [`app`]: the `scan` and `clean` commands, and the dispatch of every command
//! - [`watch`]: the `watch` command: a clean pass per container start and every interval
//! - [`probe`]: the `probe` command: send through the routing path, classify each attempt (pure),
//!   say why a bot is stuck
//! - [`docs`]: man pages and shell completions generated from `cli`
//!
//! Renderers (read only the report):
//! - [`output`]: the locks' table, the log lines (human, kv, JSON) and the JSON report
//! - [`turns`]: the SQLite era's table and summary
//! - [`metrics`]: Prometheus text for scan, clean, watch and probe, written atomically
//!
//! The pipeline: find → observe → judge → act → report:
//! - [`pipeline`]: one pass: find places, observe locks and holders, judge, act; shared by every
//!   command
//! - [`remedy`]: OpenClaw 2026.8+: restart containers holding orphan turn claims (or name the fix)
//! - [`report`]: what a run reports: one record per lock with its status, the summary (the JSON
//!   schema)
//! - [`walk`]: find: the host's state dirs and their lock files
//! - [`survey`]: find: the containers, and which one owns which host dir (`discover` I/O, pure
//!   `plan`)
//! - [`observe`]: observe: read each lock once, and its owner on the host or from an exec listing
//! - [`holders`]: observe: whether a process holds a lock open (write lease), and which
//! - [`claims`]: observe and judge: OpenClaw 2026.8+ SQLite turn claims, read-only
//! - [`era`]: what a place's OpenClaw release changes about its locks (pure rules)
//! - [`proc`]: observe: a host process's facts, read through one opened `/proc/<pid>`
//! - [`pidns`]: observe: a container's PID namespace seen from the host
//! - [`sessions`]: observe: `sessions.json`, streamed and bounded, for session keys
//! - [`container`]: observe and act inside containers: the exec scripts (`src/scripts/*.sh`) and
//!   their output
//! - [`docker`]: the only module that talks to Docker (bollard)
//! - [`remove`]: act: remove a stale lock only if it is unchanged since it was judged
//! - [`policy`]: judge: the staleness policy, pure; each lock's one status; the held-over rule
//!
//! At the bottom (no imports of the layers above):
//! - [`lock`]: the lock payload across OpenClaw versions, and lock file names
//! - [`lockfile`]: a lock file as read (identity, bounded bytes) or why not, a removal's leftover
//!   names, what a removal did: shared by walk, container, observe and remove
//! - [`place`]: where a lock lives and in which PID namespace its owner is judged
//! - [`safefs`]: opening tenant-written paths: regular files only, dirs relative to their parent,
//!   bounded reads
//! - [`escape`]: every tenant-written byte escaped before a terminal or a log
//! - [`router`]: the router's users table, for probe
//! - [`http`]: the probe's HTTP/1.1 client (hyper), bounded
//! - [`runlock`]: the run lock that keeps cleans and watches from overlapping
//! - [`interrupt`]: SIGINT/SIGTERM: finish the removal under way, start no other
//! - [`exit_codes`]: the exit statuses, an enum with a merge rule
//! - [`names`]: enums whose variants have one name (JSON, logs, metrics)
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
