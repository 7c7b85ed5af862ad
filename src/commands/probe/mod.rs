//! `probe`: send a message to a user's gateway exactly as the router does, retry as it does, and
//! explain every failure from evidence: the session's lock, judged by the one policy.
//!
//! The gateway never says "locked": a blocked session answers HTTP 500 "internal error" after
//! its 10 s acquire timeout. So after a 5xx or a timeout the probe looks at the session's lock
//! itself, on the container's bind mount or through exec, the same way `scan` does.
//!
//! - [`classify`]: what the evidence means (outcomes, verdict, fix, the words), pure;
//! - [`evidence`]: one pipeline pass over the user's container, and whether it could look;
//! - [`gateway`]: the session the probe talks in, the request, the HTTP calls;
//! - [`inject`]: `--inject-lock`, placed, held and released;
//! - [`run`]: the steps in order; [`timeline`]: their lines, printed as they happen.
//!
//! The findings as data are `report::probe`'s; the caller renders them (JSON, metrics).

mod classify;
mod evidence;
mod gateway;
mod inject;
mod run;
mod timeline;

pub use run::{Ended, run};
pub use timeline::Timeline;
