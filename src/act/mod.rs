//! Act: carry out verdicts: remove a stale lock only if it is unchanged since it was judged.

pub mod remove;
