//! The session store (`sessions.json`): which session key a transcript lock belongs to.
//!
//! `sessions.json` maps keys such as `agent:main:openai-user:42` to `{"sessionId": …}`; the lock is
//! named after the session id, so the key is found by inverting that map.

use std::collections::{HashMap, HashSet};

use serde::Deserialize;
use serde::de::{IgnoredAny, MapAccess, SeqAccess, Visitor};

/// Largest store read. Stores grow with every session of every chat; past this the key is not
/// shown (the lock is still judged) and the place reports an error naming the bound.
pub const MAX_STORE_BYTES: u64 = 64 * 1024 * 1024;

/// Session id -> session key, for one sessions directory.
#[derive(Debug, Default, Clone)]
pub struct SessionIndex {
    by_id: HashMap<String, String>,
    by_key: HashMap<String, String>,
}

impl SessionIndex {
    /// Builds the whole index from the store's bytes; a malformed store gives an empty index.
    pub fn parse(bytes: &[u8]) -> SessionIndex {
        Self::build(bytes, |_, _| true)
    }

    /// Builds the index of the given session ids only: a hostile store of millions of entries
    /// costs its parse time, never memory beyond what is kept.
    pub fn parse_for(bytes: &[u8], ids: &HashSet<&str>) -> SessionIndex {
        Self::build(bytes, |_, id| ids.contains(id))
    }

    /// The entry of one session key only (what `probe` needs).
    pub fn parse_key(bytes: &[u8], key: &str) -> SessionIndex {
        Self::build(bytes, |k, _| k == key)
    }

    /// Streams the store's top-level object: entries are never built as JSON values, and
    /// everything but `sessionId` is skipped unread.
    fn build(bytes: &[u8], keep: impl FnMut(&str, &str) -> bool) -> SessionIndex {
        let mut idx = SessionIndex::default();
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let visitor = StoreVisitor {
            idx: &mut idx,
            keep,
        };
        let ok = serde::Deserializer::deserialize_any(&mut de, visitor).is_ok() && de.end().is_ok();
        if ok { idx } else { SessionIndex::default() }
    }

    pub fn session_id_for(&self, key: &str) -> Option<String> {
        self.by_key.get(key).cloned()
    }

    pub fn key_for(&self, session_id: &str) -> Option<&str> {
        self.by_id.get(session_id).map(String::as_str)
    }

    fn insert(&mut self, key: String, id: String) {
        self.by_key.insert(key.clone(), id.clone());
        // Several keys may share a session: keep the smallest key, whatever the store's order
        // (what reading the store into a `serde_json::Value`, whose maps sort keys, gave).
        match self.by_id.get_mut(&id) {
            Some(k) if key < *k => *k = key,
            Some(_) => {}
            None => {
                self.by_id.insert(id, key);
            }
        }
    }
}

struct StoreVisitor<'a, F> {
    idx: &'a mut SessionIndex,
    keep: F,
}

impl<'de, F: FnMut(&str, &str) -> bool> Visitor<'de> for StoreVisitor<'_, F> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON object of sessions")
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            let Entry(id) = map.next_value()?;
            if let Some(id) = id
                && (self.keep)(&key, &id)
            {
                self.idx.insert(key, id);
            }
        }
        Ok(())
    }

    // Anything but an object is an empty store.
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(())
    }
    fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<(), E> {
        Ok(())
    }
}

/// One store entry: its `sessionId` when that is a string; everything else skipped.
struct Entry(Option<String>);

impl<'de> Deserialize<'de> for Entry {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Entry, D::Error> {
        d.deserialize_any(EntryVisitor)
    }
}

struct EntryVisitor;

impl<'de> Visitor<'de> for EntryVisitor {
    type Value = Entry;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a session entry")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entry, A::Error> {
        let mut id = None;
        while let Some(k) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if k == "sessionId" {
                // A duplicate field: the last one wins, as in a JSON object.
                id = map.next_value::<MaybeStr>()?.0;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(Entry(id))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Entry, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Entry(None))
    }
    fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<Entry, E> {
        Ok(Entry(None))
    }
    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Entry, E> {
        Ok(Entry(None))
    }
    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Entry, E> {
        Ok(Entry(None))
    }
    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<Entry, E> {
        Ok(Entry(None))
    }
    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Entry, E> {
        Ok(Entry(None))
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<Entry, E> {
        Ok(Entry(None))
    }
}

/// A string, or `None` for any other JSON value (skipped).
struct MaybeStr(Option<String>);

impl<'de> Deserialize<'de> for MaybeStr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<MaybeStr, D::Error> {
        d.deserialize_any(MaybeStrVisitor)
    }
}

struct MaybeStrVisitor;

impl<'de> Visitor<'de> for MaybeStrVisitor {
    type Value = MaybeStr;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<MaybeStr, E> {
        Ok(MaybeStr(Some(s.to_owned())))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<MaybeStr, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(MaybeStr(None))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<MaybeStr, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(MaybeStr(None))
    }
    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<MaybeStr, E> {
        Ok(MaybeStr(None))
    }
    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<MaybeStr, E> {
        Ok(MaybeStr(None))
    }
    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<MaybeStr, E> {
        Ok(MaybeStr(None))
    }
    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<MaybeStr, E> {
        Ok(MaybeStr(None))
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<MaybeStr, E> {
        Ok(MaybeStr(None))
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
        assert_eq!(SessionIndex::parse(b"[1,2]").key_for("abc"), None);
        let only = SessionIndex::parse_for(
            br#"{"k1":{"sessionId":"a"},"k2":{"sessionId":"b","x":[{"sessionId":"c"}]}}"#,
            &HashSet::from(["b", "c"]),
        );
        assert_eq!(
            (only.key_for("a"), only.key_for("b"), only.key_for("c")),
            (None, Some("k2"), None)
        );
        // Keys sharing a session: the smallest one, in either order in the store.
        for store in [
            &br#"{"b":{"sessionId":"s"},"a":{"sessionId":"s"}}"#[..],
            br#"{"a":{"sessionId":"s"},"b":{"sessionId":"s"}}"#,
        ] {
            assert_eq!(SessionIndex::parse(store).key_for("s"), Some("a"));
        }
        let one =
            SessionIndex::parse_key(br#"{"k1":{"sessionId":"a"},"k2":{"sessionId":7}}"#, "k1");
        assert_eq!(one.session_id_for("k1").as_deref(), Some("a"));
        assert_eq!(one.session_id_for("k2"), None);
    }
}

/// Property tests: the streaming parser agrees with `serde_json::Value` on any store shape.
#[cfg(test)]
mod fuzz {
    use proptest::prelude::*;
    use serde_json::Value;

    use super::*;

    fn value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i32>().prop_map(Value::from),
            "[a-c]{0,3}".prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::btree_map("sessionId|[a-c]{1,2}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

        #[test]
        fn agrees_with_serde_json(v in value(), cut in 0usize..200) {
            let text = v.to_string();
            let idx = SessionIndex::parse(text.as_bytes());
            if let Value::Object(map) = &v {
                for (k, e) in map {
                    prop_assert_eq!(idx.session_id_for(k), e.get("sessionId").and_then(Value::as_str).map(str::to_owned));
                }
            }
            // A store cut short is no store at all, never a partial one.
            let short = &text.as_bytes()[..cut.min(text.len())];
            if serde_json::from_slice::<Value>(short).is_err() {
                prop_assert!(SessionIndex::parse(short).by_key.is_empty());
            }
        }
    }
}
