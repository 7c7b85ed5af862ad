//! The command line: clap's definitions, the man pages and completions written from them, and
//! their resolution into a clap-free `commands::config::Config`.

pub mod args;
pub mod docs;
pub mod resolve;
