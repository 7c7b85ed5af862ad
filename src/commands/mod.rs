//! The commands: each runs passes of find → observe → judge → act → report with its options.

pub mod app;
pub mod config;
pub(crate) mod pass;
pub(crate) mod probe;
pub(crate) mod remedy;
pub(crate) mod watch;
