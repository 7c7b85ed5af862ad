//! The system's edges: files opened safely, `/proc`, PID namespaces, Docker, HTTP, signals, the
//! run lock. Each wraps one outside thing; none decides anything about a lock.

pub(crate) mod confine;
pub mod docker;
pub(crate) mod fskind;
pub(crate) mod http;
pub(crate) mod interrupt;
pub(crate) mod lease;
pub(crate) mod pidns;
pub(crate) mod proc;
pub(crate) mod restarts;
pub(crate) mod router;
pub(crate) mod runlock;
pub(crate) mod safefs;
pub(crate) mod snapshot;
