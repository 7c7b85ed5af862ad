//! What a lock file is: its name, its bounded raw bytes, and the payload OpenClaw writes into it.
//!
//! Parsing follows OpenClaw's `readLockPayload` so that both tools agree on what a payload says:
//! a field that is present but of the wrong type counts as absent, and anything that is not a
//! JSON object counts as no payload at all.

use chrono::{DateTime, Utc};
use serde_json::Value;

/// Largest payload read. A real one is under 150 bytes; anything bigger is judged by what a
/// torn or foreign file would be (no pid, no createdAt) and never read past this bound.
pub const MAX_PAYLOAD_BYTES: usize = 4096;

/// The two kinds of lock file OpenClaw creates in a sessions directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockKind {
    /// `<sessionId>.jsonl.lock`: guards one session transcript.
    Transcript,
    /// `sessions.json.lock`: guards the session store.
    Store,
}

/// Classifies a directory entry's name; `None` for everything the tool must never touch.
pub fn classify_name(name: &[u8]) -> Option<LockKind> {
    if name == b"sessions.json.lock" {
        Some(LockKind::Store)
    } else if name.len() > b".jsonl.lock".len() && name.ends_with(b".jsonl.lock") {
        Some(LockKind::Transcript)
    } else {
        None
    }
}

/// The session id a transcript lock belongs to (`abc.jsonl.lock` -> `abc`).
pub fn session_id(name: &str) -> Option<&str> {
    name.strip_suffix(".jsonl.lock")
}

/// What is wrong with a payload as a whole, before its fields are looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadProblem {
    /// Zero bytes: a lock between OpenClaw's exclusive create and its write.
    Empty,
    /// Larger than [`MAX_PAYLOAD_BYTES`].
    Oversized,
    /// Not UTF-8, not JSON, or cut short (a half-written lock).
    NotJson,
    /// Valid JSON, but not an object.
    NotObject,
}

impl PayloadProblem {
    pub fn describe(self) -> &'static str {
        match self {
            PayloadProblem::Empty => "empty file",
            PayloadProblem::Oversized => "file larger than a lock payload",
            PayloadProblem::NotJson => "payload is not valid JSON",
            PayloadProblem::NotObject => "payload is not a JSON object",
        }
    }
}

/// The fields of a lock payload, each `None` when absent or invalid.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Payload {
    /// Positive integer pid. Kept as `u64`: a pid too large for the kernel is simply dead.
    pub pid: Option<u64>,
    /// `createdAt` parsed as RFC 3339 (a string that is not is absent).
    pub created_at: Option<DateTime<Utc>>,
    /// Owner's `/proc/<pid>/stat` field 22 (OpenClaw 2026.3+).
    pub starttime: Option<u64>,
    /// Owner's max hold in milliseconds (OpenClaw 2026.5.22+).
    pub max_hold_ms: Option<u64>,
    /// `startedAt` in epoch milliseconds: the compact store lock of OpenClaw 2026.1.29 –
    /// 2026.2.12 (`{"pid":N,"startedAt":ms}`), whose writer closes the file at once.
    pub started_at_ms: Option<u64>,
    /// Set when the bytes could not be read as a payload object at all.
    pub problem: Option<PayloadProblem>,
}

impl Payload {
    /// Parses at most [`MAX_PAYLOAD_BYTES`] of a lock file. `file_size` is the size from `fstat`,
    /// which tells an oversized file from one that merely fits the buffer.
    pub fn parse(bytes: &[u8], file_size: u64) -> Payload {
        let problem = |p| Payload {
            problem: Some(p),
            ..Payload::default()
        };
        if file_size > MAX_PAYLOAD_BYTES as u64 || bytes.len() > MAX_PAYLOAD_BYTES {
            return problem(PayloadProblem::Oversized);
        }
        if bytes.is_empty() {
            return problem(PayloadProblem::Empty);
        }
        let value: Value = match serde_json::from_slice(bytes) {
            Ok(v) => v,
            Err(_) => return problem(PayloadProblem::NotJson),
        };
        let Value::Object(map) = value else {
            return problem(PayloadProblem::NotObject);
        };
        let created_at = map
            .get("createdAt")
            .and_then(Value::as_str)
            .and_then(parse_created_at);
        Payload {
            pid: map.get("pid").and_then(lock_number).filter(|&p| p > 0),
            created_at,
            starttime: map.get("starttime").and_then(lock_number),
            max_hold_ms: map.get("maxHoldMs").and_then(lock_number),
            started_at_ms: map.get("startedAt").and_then(lock_number),
            problem: None,
        }
    }
}

/// OpenClaw's `isValidLockNumber`: a non-negative integer. JSON `4063.0` is an integer in
/// JavaScript, so it counts; `4063.5`, `"4063"` and `-1` do not. Integers beyond `u64` saturate
/// (no process has such a pid, so the owner is simply not found).
fn lock_number(v: &Value) -> Option<u64> {
    if let Some(n) = v.as_u64() {
        return Some(n);
    }
    let f = v.as_f64()?;
    (f.is_finite() && f >= 0.0 && f.fract() == 0.0).then_some(if f >= u64::MAX as f64 {
        u64::MAX
    } else {
        f as u64
    })
}

/// OpenClaw writes `new Date().toISOString()`; RFC 3339 covers it and every offset form. Other
/// strings count as invalid, which only ever makes the tool more careful (mtime fallback).
pub fn parse_created_at(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_store_payload() {
        let p = parse(r#"{"pid":13,"startedAt":1796191808123}"#);
        assert_eq!(
            (p.pid, p.started_at_ms, p.created_at),
            (Some(13), Some(1796191808123), None)
        );
    }

    fn parse(s: &str) -> Payload {
        Payload::parse(s.as_bytes(), s.len() as u64)
    }

    #[test]
    fn names() {
        assert_eq!(classify_name(b"a.jsonl.lock"), Some(LockKind::Transcript));
        assert_eq!(classify_name(b"sessions.json.lock"), Some(LockKind::Store));
        assert_eq!(classify_name(b".jsonl.lock"), None);
        assert_eq!(classify_name(b"a.lock"), None);
        assert_eq!(classify_name(b"a.jsonl"), None);
        assert_eq!(classify_name(b"other.json.lock"), None);
        assert_eq!(classify_name(b"a.jsonl.lock.tmp"), None);
    }

    #[test]
    fn legacy_payload() {
        let p = parse("{\n  \"pid\": 4063,\n  \"createdAt\": \"2026-11-24T03:19:47.369Z\"\n}");
        assert_eq!(p.pid, Some(4063));
        assert_eq!(
            p.created_at.unwrap().to_rfc3339(),
            "2026-11-24T03:19:47.369+00:00"
        );
        assert_eq!(p.starttime, None);
        assert_eq!(p.problem, None);
    }

    #[test]
    fn newer_payload() {
        let p = parse(
            r#"{"pid":7,"createdAt":"2026-11-24T03:19:47Z","starttime":123,"maxHoldMs":300000}"#,
        );
        assert_eq!(
            (p.pid, p.starttime, p.max_hold_ms),
            (Some(7), Some(123), Some(300000))
        );
    }

    #[test]
    fn invalid_fields_count_as_absent() {
        for body in [
            r#"{"pid":"7"}"#,
            r#"{"pid":-7}"#,
            r#"{"pid":7.5}"#,
            r#"{"pid":0}"#,
            r#"{"pid":null}"#,
        ] {
            assert_eq!(parse(body).pid, None, "{body}");
        }
        assert_eq!(parse(r#"{"pid":7.0}"#).pid, Some(7));
        assert_eq!(parse(r#"{"pid":1e300}"#).pid, Some(u64::MAX));
        assert_eq!(
            parse(r#"{"pid":99999999999999999999999}"#).pid,
            Some(u64::MAX)
        );
        let p = parse(r#"{"pid":7,"createdAt":"yesterday"}"#);
        assert_eq!((p.pid, p.created_at), (Some(7), None));
        assert_eq!(parse(r#"{"createdAt":12}"#).created_at, None);
        assert_eq!(parse(r#"{"createdAt":1700000000000}"#).created_at, None);
    }

    #[test]
    fn whole_payload_problems() {
        assert_eq!(parse("").problem, Some(PayloadProblem::Empty));
        assert_eq!(parse("  \n").problem, Some(PayloadProblem::NotJson));
        assert_eq!(parse("{\"pid\": 12").problem, Some(PayloadProblem::NotJson));
        assert_eq!(parse("[1]").problem, Some(PayloadProblem::NotObject));
        assert_eq!(
            Payload::parse(&[0xff, 0xfe], 2).problem,
            Some(PayloadProblem::NotJson)
        );
        assert_eq!(
            Payload::parse(b"{}", 10_000_000).problem,
            Some(PayloadProblem::Oversized)
        );
        let deep = "[".repeat(3000);
        assert_eq!(parse(&deep).problem, Some(PayloadProblem::NotJson));
    }
}

/// Property tests (a bounded fuzz run in every `cargo test`): the parser never panics, never
/// reads past the bound, and agrees with `serde_json` on what a valid payload says.
#[cfg(test)]
mod fuzz {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

        #[test]
        fn any_bytes_are_a_finding_not_a_crash(bytes in proptest::collection::vec(any::<u8>(), 0..6000)) {
            let p = Payload::parse(&bytes, bytes.len() as u64);
            if bytes.len() > MAX_PAYLOAD_BYTES {
                prop_assert_eq!(p.problem, Some(PayloadProblem::Oversized));
            }
            if p.problem.is_some() {
                prop_assert!(p.pid.is_none() && p.created_at.is_none());
            }
        }

        #[test]
        fn json_objects_with_any_field_types(
            pid in prop_oneof![
                any::<i64>().prop_map(|n| n.to_string()),
                any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| format!("{f:?}")),
                "\"[0-9]{1,6}\"",
                Just("null".to_owned()),
                Just("[1]".to_owned()),
            ],
            created in prop_oneof![
                "\"[0-9T:.Z-]{0,30}\"",
                Just("\"2026-11-24T03:19:47.369Z\"".to_owned()),
                any::<i32>().prop_map(|n| n.to_string()),
            ],
        ) {
            let body = format!("{{\n  \"pid\": {pid},\n  \"createdAt\": {created}\n}}");
            let p = Payload::parse(body.as_bytes(), body.len() as u64);
            let v: serde_json::Value = serde_json::from_str(&body).unwrap();
            // A pid is kept exactly when it is a positive integer, as OpenClaw decides.
            let want = v["pid"].as_u64().filter(|&n| n > 0).or_else(|| {
                v["pid"].as_f64().filter(|f| *f >= 1.0 && f.fract() == 0.0).map(|f| f.min(u64::MAX as f64) as u64)
            });
            prop_assert_eq!(p.pid, want);
            // A createdAt is kept exactly when it is an RFC 3339 string.
            prop_assert_eq!(p.created_at, v["createdAt"].as_str().and_then(parse_created_at));
        }
    }
}
