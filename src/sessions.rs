//! The session store (`sessions.json`): which session key a transcript lock belongs to.
//!
//! `sessions.json` maps keys such as `agent:main:openai-user:42` to `{"sessionId": …}`; the lock is
//! named after the session id, so the key is found by inverting that map.

use std::collections::HashMap;

use serde_json::Value;

/// Largest store read. Stores grow with every session of every chat; past this the key is simply
/// not shown (the lock is still judged).
pub const MAX_STORE_BYTES: u64 = 64 * 1024 * 1024;

/// Session id -> session key, for one sessions directory.
#[derive(Debug, Default, Clone)]
pub struct SessionIndex {
    by_id: HashMap<String, String>,
    by_key: HashMap<String, String>,
}

impl SessionIndex {
    /// Builds the index from the store's bytes; a malformed store gives an empty index.
    pub fn parse(bytes: &[u8]) -> SessionIndex {
        let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(bytes) else {
            return SessionIndex::default();
        };
        let mut by_id = HashMap::with_capacity(map.len());
        let mut by_key = HashMap::with_capacity(map.len());
        for (key, entry) in map {
            if let Some(id) = entry.get("sessionId").and_then(Value::as_str) {
                by_key.insert(key.clone(), id.to_owned());
                // Several keys may share a session; keep the first in the store's order.
                by_id.entry(id.to_owned()).or_insert(key);
            }
        }
        SessionIndex { by_id, by_key }
    }

    pub fn session_id_for(&self, key: &str) -> Option<String> {
        self.by_key.get(key).cloned()
    }

    pub fn key_for(&self, session_id: &str) -> Option<&str> {
        self.by_id.get(session_id).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inverts_the_store() {
        let idx = SessionIndex::parse(
            br#"{"agent:main:openai-user:42":{"sessionId":"abc","updatedAt":1},"agent:main:main":{"sessionId":"def"},"odd":7}"#,
        );
        assert_eq!(idx.key_for("abc"), Some("agent:main:openai-user:42"));
        assert_eq!(idx.key_for("def"), Some("agent:main:main"));
        assert_eq!(idx.key_for("zzz"), None);
        assert_eq!(SessionIndex::parse(b"not json").key_for("abc"), None);
    }
}
