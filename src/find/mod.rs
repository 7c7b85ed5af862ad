//! Find: where the state dirs are, on this host and in containers, and their lock files.

pub(crate) mod survey;
pub(crate) mod walk;
