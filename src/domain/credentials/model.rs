//! Client-credential values: ids, secrets and the parsed fields of a new credential.

use chrono::{DateTime, Datelike, Utc};
use secrecy::SecretString;
use uuid::Uuid;

use crate::domain::encoding::random_token;
use crate::domain::text::{is_bidi_control, is_invisible};
use crate::domain::user::UserId;
use crate::ports::IdGenerator;

/// Prefix of every client id.
pub const CLIENT_ID_PREFIX: &str = "tmi_cc_";
/// Longest client secret we look at (the contract's limit).
pub const MAX_SECRET_LEN: usize = 256;

/// A client id: `tmi_cc_` + 22 base64url characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientId(String);

impl ClientId {
    /// A fresh random client id (128 bits).
    pub fn generate(ids: &dyn IdGenerator) -> Self {
        Self(format!("{CLIENT_ID_PREFIX}{}", random_token(ids, 16)))
    }

    /// Parses a client id; `None` unless it has our exact shape.
    pub fn parse(text: &str) -> Option<Self> {
        let rest = text.strip_prefix(CLIENT_ID_PREFIX)?;
        let ok = rest.len() == 22
            && rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        ok.then(|| Self(text.to_owned()))
    }

    /// The id text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A fresh random client secret: 43 base64url characters (256 bits).
pub fn generate_secret(ids: &dyn IdGenerator) -> SecretString {
    SecretString::from(random_token(ids, 32))
}

/// A credential name: 1–100 characters, not blank, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialName(String);

impl CredentialName {
    /// Parses a name.
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let count = raw.chars().count();
        if count == 0 || count > 100 {
            return Err("name must be 1-100 characters");
        }
        if raw.chars().all(is_invisible) {
            return Err("name must not be blank");
        }
        if raw.chars().any(char::is_control) {
            return Err("name must not contain control characters");
        }
        if raw.chars().any(is_bidi_control) {
            return Err("name must not contain bidirectional control characters");
        }
        Ok(Self(raw.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Parses an optional description: at most 500 characters, no control characters except
/// line breaks and tabs.
pub fn parse_description(raw: Option<&str>) -> Result<Option<String>, &'static str> {
    match raw {
        None => Ok(None),
        Some(text) if text.chars().count() > 500 => {
            Err("description must be at most 500 characters")
        }
        Some(text)
            if text
                .chars()
                .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) =>
        {
            Err("description must not contain control characters")
        }
        Some(text) if text.chars().any(is_bidi_control) => {
            Err("description must not contain bidirectional control characters")
        }
        Some(text) => Ok(Some(text.to_owned())),
    }
}

/// Parses an optional RFC 3339 expiry, which must lie in the future. It is normalised to what
/// storage keeps, so the creation response shows the value later listed: microseconds (finer
/// digits are dropped), and a leap second (`:60`) as the second after it.
pub fn parse_expiry(
    raw: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, &'static str> {
    const BAD: &str = "expires_at must be an RFC 3339 date-time";
    let Some(text) = raw else { return Ok(None) };
    let parsed = DateTime::parse_from_rfc3339(text).map_err(|_| BAD)?;
    // During a leap second the sub-second part runs past 1 000 000 000 ns.
    let micros = i64::from(parsed.timestamp_subsec_nanos() / 1_000);
    let parsed = DateTime::<Utc>::from_timestamp(parsed.timestamp(), 0)
        .and_then(|at| at.checked_add_signed(chrono::Duration::microseconds(micros)))
        .ok_or(BAD)?;
    // RFC 3339 years have four digits: 9999-12-31T23:59:59-23:59 (or a leap second at the end
    // of 9999) is in the year 10000 in UTC, which no RFC 3339 date-time we answer could show.
    if parsed.year() > 9999 {
        return Err("expires_at must be before the year 10000 (UTC)");
    }
    if parsed <= now {
        return Err("expires_at must be in the future");
    }
    Ok(Some(parsed))
}

/// What a caller asks for when creating a credential (already validated).
#[derive(Debug, Clone)]
pub struct NewCredential {
    /// Name.
    pub name: CredentialName,
    /// Optional description.
    pub description: Option<String>,
    /// Optional expiry.
    pub expires_at: Option<DateTime<Utc>>,
}

/// A stored client credential. Holds only a digest of the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCredential {
    /// Credential id.
    pub id: Uuid,
    /// The user who owns it.
    pub owner: UserId,
    /// Public client id.
    pub client_id: ClientId,
    /// HMAC-SHA256 of the secret under the pepper `pepper_id`.
    pub secret_digest: [u8; 32],
    /// Which pepper keyed `secret_digest`.
    pub pepper_id: String,
    /// Name.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last modification.
    pub modified_at: DateTime<Utc>,
    /// Expiry, if any.
    pub expires_at: Option<DateTime<Utc>>,
    /// Last successful grant (updated lazily).
    pub last_used_at: Option<DateTime<Utc>>,
}

impl ClientCredential {
    /// Whether the credential can be used at `now`.
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_none_or(|at| at > now)
    }
}

/// The subject of tokens issued to a credential: `sa:<credential id>:<owner id>`.
pub fn service_subject(credential: Uuid, owner: UserId) -> String {
    format!("sa:{}:{owner}", credential.hyphenated())
}

/// The owner named in a service-account subject, if `sub` is one.
pub fn owner_of_service_subject(sub: &str) -> Option<UserId> {
    let rest = sub.strip_prefix("sa:")?;
    let (credential, owner) = rest.split_once(':')?;
    Uuid::parse_str(credential).ok()?;
    UserId::parse(owner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn names_are_validated() {
        assert!(CredentialName::parse("CI").is_ok());
        assert!(CredentialName::parse(&"é".repeat(100)).is_ok());
        assert!(CredentialName::parse(&"a".repeat(101)).is_err());
        assert!(CredentialName::parse("").is_err());
        assert!(CredentialName::parse("   ").is_err());
        assert!(CredentialName::parse("a\u{7}b").is_err());
        assert!(CredentialName::parse("a\nb").is_err());
        // Invisible alone is blank; beside visible text it is kept.
        for blank in [
            "\u{200B}",
            "\u{200B}\u{FEFF} ",
            "\u{3000}\u{2060}",
            "\u{E0041}",
        ] {
            assert_eq!(
                CredentialName::parse(blank).map(|n| n.as_str().to_owned()),
                Err("name must not be blank"),
                "{blank:?}"
            );
        }
        assert!(CredentialName::parse("CI\u{200D}bot").is_ok());
        assert_eq!(
            CredentialName::parse("report\u{202E}fdp.exe").map(|n| n.as_str().to_owned()),
            Err("name must not contain bidirectional control characters")
        );
        assert!(CredentialName::parse("a\u{2067}b").is_err());
        assert!(CredentialName::parse("שלום CI").is_ok());
        assert_eq!(
            parse_description(Some("see \u{2066}x\u{2069}")),
            Err("description must not contain bidirectional control characters")
        );
        assert_eq!(
            parse_description(Some("line one\nline two")),
            Ok(Some("line one\nline two".to_owned()))
        );
    }

    #[test]
    fn expiry_must_be_rfc3339_in_the_future() {
        let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        assert!(
            parse_expiry(Some("2027-01-01T00:00:00Z"), now)
                .unwrap()
                .is_some()
        );
        assert!(parse_expiry(Some("2025-01-01T00:00:00Z"), now).is_err());
        assert!(parse_expiry(Some("2026-01-01T00:00:00Z"), now).is_err());
        assert!(parse_expiry(Some("tomorrow"), now).is_err());
        // The last instant whose UTC form still has a four-digit year.
        assert!(parse_expiry(Some("9999-12-31T23:59:59Z"), now).is_ok());
        assert!(parse_expiry(Some("9999-12-31T23:59:59.999999Z"), now).is_ok());
        for past_9999 in [
            "9999-12-31T23:59:59-23:59",
            "9999-12-31T23:00:00-01:00",
            "9999-12-31T23:59:60Z",
        ] {
            assert_eq!(
                parse_expiry(Some(past_9999), now),
                Err("expires_at must be before the year 10000 (UTC)"),
                "{past_9999}"
            );
        }
        assert_eq!(parse_expiry(None, now), Ok(None));
        // What storage keeps: a leap second is the next second, nanoseconds are cut to micros.
        let at = |text: &str| parse_expiry(Some(text), now).map(|t| t.map(|t| t.to_rfc3339()));
        assert_eq!(
            at("2030-01-01T00:00:60Z"),
            Ok(Some("2030-01-01T00:01:00+00:00".into()))
        );
        assert_eq!(
            at("2030-06-30T23:59:60.5+00:00"),
            Ok(Some("2030-07-01T00:00:00.500+00:00".into()))
        );
        assert_eq!(
            at("2030-01-01T00:00:00.123456789Z"),
            Ok(Some("2030-01-01T00:00:00.123456+00:00".into()))
        );
        assert_eq!(
            at("2030-01-01T02:00:00+02:00"),
            Ok(Some("2030-01-01T00:00:00+00:00".into()))
        );
    }

    #[test]
    fn client_ids_have_a_fixed_shape() {
        assert!(ClientId::parse("tmi_cc_AAAAAAAAAAAAAAAAAAAAAA").is_some());
        assert!(ClientId::parse("tmi_cc_short").is_none());
        assert!(ClientId::parse("xx_cc_AAAAAAAAAAAAAAAAAAAAAA").is_none());
        assert!(ClientId::parse("tmi_cc_AAAAAAAAAAAAAAAAAAAA+=").is_none());
    }

    #[test]
    fn service_subjects_round_trip() {
        let owner = UserId::from_uuid(Uuid::from_u128(5));
        let sub = service_subject(Uuid::from_u128(9), owner);
        assert_eq!(owner_of_service_subject(&sub), Some(owner));
        assert_eq!(owner_of_service_subject("sa:nope:nope"), None);
        assert_eq!(owner_of_service_subject(&owner.to_string()), None);
    }
}
