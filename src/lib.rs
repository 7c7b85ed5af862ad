//! zaki-locks: find and safely remove stuck OpenClaw session locks.
//!
//! Data flows one way: [`walk`] finds places and lock files → [`observe`] reads them and their
//! owners ([`proc`], [`sessions`]) → [`policy`] judges → [`remove`] acts → [`report`] and
//! [`output`] tell. [`app`] strings the steps together for each command. Everything a tenant
//! writes is opened through [`safefs`] and printed through [`escape`].

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
