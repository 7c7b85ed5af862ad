//! zaki-locks: find and safely remove stuck OpenClaw session locks.
//!
//! `main` parses the command line, `cli::resolve` turns it into a clap-free
//! `commands::config::Config`, and `commands::app` runs it. Data flows one way through the
//! folders: find places → observe locks, holders and claims → judge (pure, every decision) →
//! act → report. Each folder imports only folders listed below it here (`tests/layout.rs` reads
//! the folders and checks it; it also checks that `judge` and `model` do no I/O). Everything a
//! tenant writes is opened through `sys::safefs` and printed through `model::escape`.
//!
//! - [`cli`]: the command line: clap's definitions (`args`), the man pages and completions
//!   written from them (`docs`), and their resolution into a `Config` (`resolve`)
//! - [`commands`]: each command and its passes: `app` (dispatch, `scan`, `clean`), `watch`,
//!   `probe`, `remedy` (restarts for orphan claims), `pass` (one pass: find → observe → judge →
//!   act), `config` (what each command needs)
//! - [`report`]: what a run says: `record` (a record per lock, the summary, the JSON schema),
//!   `output` (table, log lines, JSON), `metrics` (Prometheus), `turns` (the SQLite era's
//!   table), `probe` (the probe's findings)
//! - [`act`]: carry out verdicts: `remove` (a stale lock, only if unchanged since it was judged)
//! - [`judge`]: every decision, pure: `lock` (a lock's verdict: OpenClaw's rules, the holder
//!   rule, the store lock, the second look), `version` (what a release changes), `claims` (the
//!   SQLite era: era, gateway, turn claims), `clean` (what clean does with each verdict),
//!   `restart` (whether to restart a container), `exit` (a run's exit status)
//! - [`observe`]: read each lock once with its owner (`locks`), who holds it open (`holders`), the
//!   SQLite era's rows (`claims`), a place's OpenClaw (`version`), a container's listing by
//!   exec (`container`, scripts in `src/scripts/`)
//! - [`find`]: where to look: the host's state dirs and their lock files (`walk`), the containers
//!   and which one owns which dir (`survey`)
//! - [`sys`]: the system's edges: `safefs` (tenant paths: regular files only, no symlink
//!   followed, bounded reads), `snapshot` (a lock file's identity and bytes), `lease` (the
//!   kernel's holder check), `proc`, `pidns`, `docker` (the only module that talks to Docker),
//!   `http`, `interrupt` (SIGINT/SIGTERM), `runlock`, `router` (the router's users table)
//! - [`model`]: the floor: the data that flows between the stages and the words it is written in:
//!   `place`, `payload`, `lockfile`, `observed`, `holder`, `process`, `claims`, `release`,
//!   `sessions`, `exit_codes`, `names`, `units`, `escape`

pub mod act;
pub mod cli;
pub mod commands;
pub(crate) mod find;
pub(crate) mod judge;
pub mod model;
pub mod observe;
pub(crate) mod report;
pub mod sys;
