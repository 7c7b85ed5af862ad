//! Report: what a run says: the records, the table, the log lines, the JSON and the metrics.

pub(crate) mod metrics;
pub(crate) mod output;
pub(crate) mod probe;
pub(crate) mod record;
pub(crate) mod turns;
