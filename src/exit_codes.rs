//! The exit statuses, as documented in `--help`, the man page and the README.

use std::process::ExitCode;

/// The job was done.
pub const OK: u8 = 0;
/// Part of the job could not be done; the rest was done and reported.
pub const PARTIAL: u8 = 1;
/// Usage error (clap exits with this too).
pub const USAGE: u8 = 2;
/// `scan --fail-on-stale` found a stale lock.
pub const STALE_FOUND: u8 = 3;

pub fn code(c: u8) -> ExitCode {
    ExitCode::from(c)
}
