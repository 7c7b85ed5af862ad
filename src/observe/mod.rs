//! Observe: read each lock once with its owner and holders, and each SQLite-era place's rows.
//! Facts only: what they mean is decided in `judge`.

pub mod claims;
pub mod container;
pub(crate) mod holders;
pub mod locks;
pub(crate) mod version;
