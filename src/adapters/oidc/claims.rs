//! Mapping a provider's claims (ID token payload, userinfo JSON) to an [`UpstreamIdentity`]
//! through configurable dotted paths such as `id`, `email` or `realm_access.roles`.

use serde_json::Value;

use crate::ports::identity_provider::UpstreamIdentity;

/// Most groups taken from one login; the rest are dropped (and logged).
pub const MAX_GROUPS: usize = 200;
/// Longest subject, group name, e-mail or name we accept from a provider.
pub const MAX_CLAIM_CHARS: usize = 256;

/// A dotted path into a JSON object; numeric segments index arrays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimPath(Vec<String>);

impl ClaimPath {
    /// Parses `a.b.0.c`; `None` when empty or a segment is empty.
    pub fn parse(raw: &str) -> Option<Self> {
        let segments: Vec<String> = raw.split('.').map(str::to_owned).collect();
        if raw.len() > 200 || segments.iter().any(|s| s.is_empty()) {
            return None;
        }
        Some(Self(segments))
    }

    /// The value at this path, if any (JSON `null` counts as absent).
    pub fn lookup<'v>(&self, root: &'v Value) -> Option<&'v Value> {
        let mut here = root;
        for segment in &self.0 {
            here = match here {
                Value::Object(map) => map.get(segment)?,
                Value::Array(items) => items.get(segment.parse::<usize>().ok()?)?,
                _ => return None,
            };
        }
        (!here.is_null()).then_some(here)
    }
}

/// Where each identity field is found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimPaths {
    /// The provider's stable user id.
    pub subject: ClaimPath,
    /// E-mail address.
    pub email: ClaimPath,
    /// Whether the e-mail is verified (boolean, or the strings `true`/`false`).
    pub email_verified: ClaimPath,
    /// Display name.
    pub name: ClaimPath,
    /// Groups (array of strings, or one string).
    pub groups: Option<ClaimPath>,
}

impl ClaimPaths {
    /// The OIDC standard claim names.
    pub fn standard() -> Self {
        let path = |p: &str| ClaimPath(vec![p.to_owned()]);
        Self {
            subject: path("sub"),
            email: path("email"),
            email_verified: path("email_verified"),
            name: path("name"),
            groups: Some(path("groups")),
        }
    }

    /// Reads an identity out of `claims`. Fails (for logs only) when the subject is missing
    /// or unusable; every other field is optional and dropped when malformed.
    pub fn identity(&self, claims: &Value) -> Result<UpstreamIdentity, String> {
        let subject = match self.subject.lookup(claims) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => return Err("the subject claim is missing or not a string".into()),
        };
        if subject.is_empty()
            || subject.chars().count() > MAX_CLAIM_CHARS
            || subject.chars().any(char::is_control)
        {
            return Err("the subject claim is empty, too long or has control characters".into());
        }
        Ok(UpstreamIdentity {
            subject,
            email: self.email.lookup(claims).and_then(short_string),
            email_verified: self.email_verified.lookup(claims).is_some_and(is_true),
            name: self.name.lookup(claims).and_then(short_string),
            groups: self
                .groups
                .as_ref()
                .and_then(|p| p.lookup(claims))
                .map(groups)
                .unwrap_or_default(),
        })
    }
}

/// `true`, or the string `"true"` (some providers send strings).
pub fn is_true(value: &Value) -> bool {
    match value {
        Value::Bool(b) => *b,
        Value::String(s) => s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

fn short_string(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.trim().is_empty() && s.chars().count() <= MAX_CLAIM_CHARS => {
            Some(s.clone())
        }
        _ => None,
    }
}

fn groups(value: &Value) -> Vec<String> {
    let items: Vec<&Value> = match value {
        Value::Array(items) => items.iter().collect(),
        single @ Value::String(_) => vec![single],
        _ => Vec::new(),
    };
    let mut out: Vec<String> = items
        .into_iter()
        .filter_map(short_string)
        .filter(|g| !g.chars().any(char::is_control))
        .collect();
    out.sort();
    out.dedup();
    if out.len() > MAX_GROUPS {
        tracing::warn!(
            count = out.len(),
            kept = MAX_GROUPS,
            "identity provider asserted too many groups"
        );
        out.truncate(MAX_GROUPS);
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn paths(subject: &str, groups: &str) -> ClaimPaths {
        ClaimPaths {
            subject: ClaimPath::parse(subject).unwrap(),
            groups: ClaimPath::parse(groups),
            ..ClaimPaths::standard()
        }
    }

    #[test]
    fn numeric_subjects_and_nested_groups_are_read() {
        let claims = json!({
            "id": 583231, "email": "octo@example.com", "email_verified": "true",
            "name": "Octo Cat", "realm_access": {"roles": ["b", "a", "a", 7]}
        });
        let identity = paths("id", "realm_access.roles").identity(&claims).unwrap();
        assert_eq!(identity.subject, "583231");
        assert_eq!(identity.email.as_deref(), Some("octo@example.com"));
        assert!(identity.email_verified);
        assert_eq!(identity.name.as_deref(), Some("Octo Cat"));
        assert_eq!(identity.groups, vec!["a".to_owned(), "b".to_owned()]);
    }

    #[test]
    fn a_missing_or_unusable_subject_is_an_error() {
        let p = ClaimPaths::standard();
        assert!(p.identity(&json!({"email": "a@b.c"})).is_err());
        assert!(p.identity(&json!({"sub": ""})).is_err());
        assert!(p.identity(&json!({"sub": "a\u{0}b"})).is_err());
        assert!(p.identity(&json!({"sub": "x".repeat(257)})).is_err());
        assert!(p.identity(&json!({"sub": {"nested": 1}})).is_err());
    }

    #[test]
    fn malformed_optional_fields_are_dropped() {
        let identity = ClaimPaths::standard()
            .identity(&json!({
                "sub": "s", "email": 5, "email_verified": "yes", "name": null, "groups": "solo"
            }))
            .unwrap();
        assert_eq!(identity.email, None);
        assert!(!identity.email_verified);
        assert_eq!(identity.name, None);
        assert_eq!(identity.groups, vec!["solo".to_owned()]);
    }

    #[test]
    fn array_indexes_and_bad_paths() {
        assert_eq!(
            ClaimPath::parse("emails.1.value")
                .unwrap()
                .lookup(&json!({"emails": [{"value": "x"}, {"value": "y"}]})),
            Some(&json!("y"))
        );
        assert!(ClaimPath::parse("a..b").is_none());
        assert!(ClaimPath::parse("").is_none());
    }

    #[test]
    fn group_count_is_capped() {
        let many: Vec<String> = (0..500).map(|i| format!("g{i:03}")).collect();
        let identity = ClaimPaths::standard()
            .identity(&json!({"sub": "s", "groups": many}))
            .unwrap();
        assert_eq!(identity.groups.len(), MAX_GROUPS);
    }
}
