//! Judge: every decision, pure. Facts in, verdicts out; nothing here does I/O.

pub(crate) mod claims;
pub(crate) mod lock;
pub(crate) mod version;
