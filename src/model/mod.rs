//! The floor: the data that flows between the stages, and the words every stage writes it in.
//! No I/O: nothing here opens a file, reads `/proc` or talks to Docker.

pub(crate) mod claims;
pub mod escape;
pub mod exit_codes;
pub mod holder;
pub mod lockfile;
pub(crate) mod names;
pub mod observed;
pub mod payload;
pub mod place;
pub mod process;
pub(crate) mod release;
pub(crate) mod sessions;
pub(crate) mod units;
