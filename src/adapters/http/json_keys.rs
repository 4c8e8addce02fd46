//! Duplicate keys in JSON bodies. serde_json keeps the last of two equal keys silently, so
//! `{"grant_type": "authorization_code", "grant_type": "client_credentials"}` would be read as
//! the second while a proxy or log may have read the first. Bodies naming a key twice in one
//! object are refused instead (as the original server did).

use std::collections::HashSet;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// The first key some object of `json` names twice, or `None` (also when `json` is not valid
/// JSON: the endpoint reports that itself).
pub fn duplicate_key(json: &[u8]) -> Option<String> {
    match serde_json::from_slice::<Checked>(json) {
        Ok(Checked) => None,
        Err(err) if err.is_data() => err
            .to_string()
            .strip_prefix(MARKER)
            .and_then(|rest| rest.split_once(MARKER_END))
            .map(|(key, _)| key.to_owned()),
        Err(_) => None,
    }
}

const MARKER: &str = "duplicate key <";
const MARKER_END: &str = ">";

/// Any JSON value, checked for duplicate keys on the way.
struct Checked;

impl<'de> Deserialize<'de> for Checked {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(CheckedVisitor)
    }
}

struct CheckedVisitor;

impl<'de> Visitor<'de> for CheckedVisitor {
    type Value = Checked;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_str<E>(self, _: &str) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_unit<E>(self) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Checked, A::Error> {
        while seq.next_element::<Checked>()?.is_some() {}
        Ok(Checked)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Checked, A::Error> {
        let mut keys = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if keys.contains(&key) {
                let shown = if key.len() <= 64
                    && key
                        .chars()
                        .all(|c| c.is_ascii_graphic() && c != '<' && c != '>')
                {
                    key
                } else {
                    String::new()
                };
                return Err(de::Error::custom(format!("{MARKER}{shown}{MARKER_END}")));
            }
            map.next_value::<Checked>()?;
            keys.insert(key);
        }
        Ok(Checked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_keys_named_twice_in_one_object_at_any_depth() {
        assert_eq!(
            duplicate_key(br#"{"a": 1, "b": 2, "a": 3}"#).as_deref(),
            Some("a")
        );
        assert_eq!(
            duplicate_key(br#"{"x": [{"k": 1, "k": 2}]}"#).as_deref(),
            Some("k")
        );
        // Escapes are decoded: these are the same key.
        assert_eq!(
            duplicate_key(br#"{"name": 1, "n\u0061me": 2}"#).as_deref(),
            Some("name")
        );
        assert_eq!(duplicate_key(br#"{"a": {"b": 1}, "b": {"a": 2}}"#), None);
        assert_eq!(duplicate_key(br#"[{"a": 1}, {"a": 1}]"#), None);
        assert_eq!(duplicate_key(b"not json"), None);
        assert_eq!(
            duplicate_key(br#"{"\u0007": 1, "\u0007": 2}"#).as_deref(),
            Some("")
        );
    }
}
