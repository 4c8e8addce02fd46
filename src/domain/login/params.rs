//! Parsed parameters of `/oauth2/authorize` (the contract's patterns, plus our rules).

/// Raw query parameters of `/oauth2/authorize`, as received.
#[derive(Debug, Clone, Default)]
pub struct AuthorizeParams {
    /// `idp`.
    pub idp: Option<String>,
    /// `client_callback`.
    pub client_callback: Option<String>,
    /// `state` (the client's).
    pub state: Option<String>,
    /// `login_hint`.
    pub login_hint: Option<String>,
    /// `scope`.
    pub scope: Option<String>,
    /// `code_challenge`.
    pub code_challenge: Option<String>,
    /// `code_challenge_method`.
    pub code_challenge_method: Option<String>,
    /// `response_type` (not in the contract; `code` when present).
    pub response_type: Option<String>,
    /// `redirect_uri` (not in the contract): standard OAuth clients' name for `client_callback`.
    pub redirect_uri: Option<String>,
}

/// Scopes we grant; others are ignored.
const KNOWN_SCOPES: [&str; 3] = ["openid", "profile", "email"];
/// Longest scope string (the contract's limit).
pub const MAX_SCOPE_LEN: usize = 256;

/// A granted scope set: always contains `openid`, only known scopes, in a fixed order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope(String);

/// Why a scope was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScopeError {
    /// Characters or length outside the contract's pattern.
    Malformed,
    /// `openid` is missing.
    MissingOpenId,
}

impl Scope {
    /// Parses a space-separated scope list (contract pattern `^[a-zA-Z0-9_][a-zA-Z0-9_ ]*[a-zA-Z0-9_]$`).
    pub fn parse(raw: &str) -> Result<Self, ScopeError> {
        let well_formed = raw.len() >= 2
            && raw.len() <= MAX_SCOPE_LEN
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b' ')
            && !raw.starts_with(' ')
            && !raw.ends_with(' ');
        if !well_formed {
            return Err(ScopeError::Malformed);
        }
        let requested: Vec<&str> = raw.split(' ').filter(|s| !s.is_empty()).collect();
        if !requested.contains(&"openid") {
            return Err(ScopeError::MissingOpenId);
        }
        let granted: Vec<&str> = KNOWN_SCOPES
            .iter()
            .copied()
            .filter(|known| requested.contains(known))
            .collect();
        Ok(Self(granted.join(" ")))
    }

    /// Rebuilds a scope already granted (from storage).
    pub fn from_granted(text: &str) -> Self {
        Self(text.to_owned())
    }

    /// Space-separated scopes.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A login hint for the built-in `tmi` provider: 3–20 of `[a-zA-Z0-9-]`, lower-cased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginHint(String);

impl LoginHint {
    /// Parses a hint (contract pattern `^[a-zA-Z0-9-]{3,20}$`), lower-casing it.
    pub fn parse(raw: &str) -> Option<Self> {
        let ok = (3..=20).contains(&raw.len())
            && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        ok.then(|| Self(raw.to_ascii_lowercase()))
    }

    /// The normalised hint.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// "Alice (TMI User)" style display name: words split on `-`, each capitalised.
    pub fn display_name(&self) -> String {
        let words: Vec<String> = self
            .0
            .split('-')
            .filter(|w| !w.is_empty())
            .map(|w| {
                let mut chars = w.chars();
                match chars.next() {
                    Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                    None => String::new(),
                }
            })
            .collect();
        let base = if words.is_empty() {
            "User".to_owned()
        } else {
            words.join(" ")
        };
        format!("{base} (TMI User)")
    }
}

/// `true` for a client `state`: at most 256 of `[a-zA-Z0-9_~.+/=-]` (the contract's pattern).
pub fn is_valid_client_state(raw: &str) -> bool {
    raw.len() <= 256
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_~.+/=-".contains(&b))
}

/// `true` for a provider id: `^[a-zA-Z][a-zA-Z0-9_-]*$`, at most 100 characters.
pub fn is_valid_provider_id(raw: &str) -> bool {
    raw.len() <= 100
        && raw.as_bytes().first().is_some_and(u8::is_ascii_alphabetic)
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_requires_openid_and_drops_unknown_scopes() {
        assert_eq!(
            Scope::parse("email openid offline_access").map(|s| s.0),
            Ok("openid email".into())
        );
        assert_eq!(
            Scope::parse("openid profile email").map(|s| s.0),
            Ok("openid profile email".into())
        );
        assert_eq!(
            Scope::parse("profile email"),
            Err(ScopeError::MissingOpenId)
        );
        assert_eq!(Scope::parse(" openid"), Err(ScopeError::Malformed));
        assert_eq!(Scope::parse("openid\tprofile"), Err(ScopeError::Malformed));
        assert_eq!(
            Scope::parse(&format!("openid {}", "a".repeat(300))),
            Err(ScopeError::Malformed)
        );
    }

    #[test]
    fn login_hints_are_lower_cased_and_bounded() {
        assert_eq!(LoginHint::parse("Alice").map(|h| h.0), Some("alice".into()));
        assert_eq!(LoginHint::parse("ab"), None);
        assert_eq!(LoginHint::parse(&"a".repeat(21)), None);
        assert!(LoginHint::parse(&"a".repeat(20)).is_some());
        assert_eq!(LoginHint::parse("al ice"), None);
        assert_eq!(LoginHint::parse("al_ice"), None);
        assert_eq!(LoginHint::parse("bob@x"), None);
    }

    #[test]
    fn login_hint_display_names() {
        let hint = LoginHint::parse("alice").expect("valid");
        assert_eq!(hint.display_name(), "Alice (TMI User)");
        let hint = LoginHint::parse("mary-jane").expect("valid");
        assert_eq!(hint.display_name(), "Mary Jane (TMI User)");
        let hint = LoginHint::parse("---").expect("valid");
        assert_eq!(hint.display_name(), "User (TMI User)");
    }

    #[test]
    fn client_state_and_provider_id_patterns() {
        assert!(is_valid_client_state("abc_~.+/=-123"));
        assert!(!is_valid_client_state("a b"));
        assert!(!is_valid_client_state(&"a".repeat(257)));
        assert!(is_valid_provider_id("tmi"));
        assert!(is_valid_provider_id("saml_okta-2"));
        assert!(!is_valid_provider_id("1tmi"));
        assert!(!is_valid_provider_id(""));
        assert!(!is_valid_provider_id("t mi"));
    }
}
