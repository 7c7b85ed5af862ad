//! Judge: every decision, pure. Facts in, verdicts out; nothing here does I/O (`tests/layout.rs`
//! checks that it names no I/O and imports only `model`).

pub(crate) mod claims;
pub(crate) mod clean;
pub(crate) mod exit;
pub(crate) mod lock;
pub(crate) mod restart;
pub(crate) mod version;
