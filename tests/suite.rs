//! Every integration test, in one binary: one build and one link instead of one a file (the
//! suite builds in about a minute less). Each `tests/<name>.rs` is a module here, and
//! `scripts/test.sh` runs each module as it ran each binary: `suite --exact <name>::…`, in a
//! session of its own. A new tests/*.rs goes here, in a tier of scripts/test.sh and in
//! docs/testing.md (the script refuses to run otherwise).

mod common;

mod alerts;
mod big_tree;
mod churn;
mod confine;
mod container_scope;
mod containers;
mod docs;
mod evidence;
mod faults;
mod first_contact;
mod first_hour;
mod generated;
mod holders;
mod holders_gateway;
mod host;
mod hostile;
mod layout;
mod many_containers;
mod metrics;
mod openclaw_eras;
mod package;
mod probe;
mod remove;
mod scripts;
mod sqlite_readonly;
mod tenants;
mod terminal;
mod watch;
mod watch_daemon;
