//! zaki-locks: find and safely remove stuck OpenClaw session locks.
//!
//! Data flows one way: [`walk`] finds places and lock files → [`observe`] reads them and their
//! owners ([`proc`], [`sessions`]) → [`policy`] judges → [`remove`] acts → [`report`] and
//! [`output`] tell. [`app`] strings the steps together for each command. Everything a tenant
//! writes is opened through [`safefs`] and printed through [`escape`].

pub mod app;
pub mod claims;
pub mod cli;
pub mod config;
pub mod container;
pub mod docker;
pub mod docs;
pub mod era;
pub mod escape;
pub mod exit_codes;
pub mod holders;
pub mod http;
pub mod interrupt;
pub mod lock;
pub mod lockfile;
pub mod metrics;
mod names;
pub mod observe;
pub mod output;
pub mod pidns;
pub mod pipeline;
pub mod place;
pub mod policy;
pub mod probe;
pub mod proc;
pub mod remedy;
pub mod remove;
pub mod report;
pub mod router;
pub mod runlock;
pub mod safefs;
pub mod sessions;
pub mod survey;
pub mod turns;
pub mod units;
pub mod walk;
pub mod watch;
