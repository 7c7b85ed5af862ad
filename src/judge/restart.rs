//! Whether to restart a container whose gateway holds an orphan turn claim (OpenClaw 2026.8+),
//! from what was seen just before the restart. Pure.

/// A container with an orphan claim, looked at again just before a restart.
#[derive(Debug, Clone, Copy)]
pub struct Recheck {
    /// The same claim is still there.
    pub still: bool,
    pub running: bool,
    pub uptime: Option<chrono::TimeDelta>,
}

/// What to do with a container whose claim was looked at again.
#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    Gone,
    NotRunning,
    /// Up for less than the minimum: its start-up clears claims, never restart it then.
    Starting(chrono::TimeDelta),
    Restart,
}

pub fn decide(again: &Recheck, min_uptime: std::time::Duration) -> Decision {
    if !again.still {
        Decision::Gone
    } else if !again.running {
        Decision::NotRunning
    } else if let Some(up) = again
        .uptime
        .filter(|u| u.to_std().map_or(true, |u| u < min_uptime))
    {
        Decision::Starting(up)
    } else {
        Decision::Restart
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_restart_only_when_the_claim_is_still_there_and_the_gateway_is_up_long_enough() {
        let again = |still, running, up: Option<i64>| Recheck {
            still,
            running,
            uptime: up.map(chrono::TimeDelta::seconds),
        };
        let min = std::time::Duration::from_secs(60);
        assert_eq!(decide(&again(false, true, Some(600)), min), Decision::Gone);
        assert_eq!(
            decide(&again(true, false, Some(600)), min),
            Decision::NotRunning
        );
        assert_eq!(
            decide(&again(true, true, Some(30)), min),
            Decision::Starting(chrono::TimeDelta::seconds(30))
        );
        // A clock that puts the start in the future is "just started".
        assert!(matches!(
            decide(&again(true, true, Some(-5)), min),
            Decision::Starting(_)
        ));
        assert_eq!(decide(&again(true, true, Some(61)), min), Decision::Restart);
        // No uptime known: the claim was confirmed and the container runs.
        assert_eq!(decide(&again(true, true, None), min), Decision::Restart);
    }
}
