//! Durations as an operator reads them. At the bottom of the crate: the policy's reasons,
//! the tables and the log lines all say ages the same way.

use chrono::TimeDelta;

/// `41m`, `2h03m`, `12s`, `3d04h`: ages as an operator reads them.
pub fn short_duration(d: TimeDelta) -> String {
    let s = d.num_seconds().max(0);
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        3600..86400 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d{:02}h", s / 86400, s % 86400 / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(short_duration(TimeDelta::seconds(5)), "5s");
        assert_eq!(short_duration(TimeDelta::seconds(61)), "1m01s");
        assert_eq!(short_duration(TimeDelta::seconds(7380)), "2h03m");
        assert_eq!(short_duration(TimeDelta::seconds(90000)), "1d01h");
        assert_eq!(short_duration(TimeDelta::seconds(-5)), "0s");
    }
}
