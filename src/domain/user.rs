//! Users: an internal UUID bound to one (provider, provider_user_id) identity, plus profile
//! fields refreshed at each login.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::ports::identity_provider::UpstreamIdentity;
use crate::ports::{Clock, IdGenerator, PortError, UserRepository};

/// A user's internal id (the `sub` of our access tokens).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserId(Uuid);

impl UserId {
    /// Wraps a UUID.
    pub fn from_uuid(id: Uuid) -> Self {
        Self(id)
    }

    /// Parses the hyphenated UUID form; `None` when malformed.
    pub fn parse(text: &str) -> Option<Self> {
        Uuid::parse_str(text).ok().map(Self)
    }

    /// The UUID.
    pub fn as_uuid(&self) -> Uuid {
        self.0
    }
}

impl std::fmt::Display for UserId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

/// A stored user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Internal id.
    pub id: UserId,
    /// The provider this user signs in with.
    pub provider: String,
    /// The provider's subject for this user.
    pub provider_user_id: String,
    /// E-mail address (may be synthetic when the provider gave none).
    pub email: String,
    /// Whether the provider verified the e-mail.
    pub email_verified: bool,
    /// Display name (never empty, no control characters).
    pub name: String,
    /// When the user was created.
    pub created_at: DateTime<Utc>,
    /// The last successful login.
    pub last_login_at: DateTime<Utc>,
}

/// Longest display name we keep (the contract's `display_name` max).
pub const MAX_NAME_CHARS: usize = 256;
/// Longest e-mail we keep (the contract's `email` max).
pub const MAX_EMAIL_CHARS: usize = 254;

/// Removes control characters and bidirectional formatting characters (overrides, embeddings,
/// isolates and marks, which let a name display as something else: "Alice\u{202E}nimda")
/// and trims; `None` when nothing printable is left.
pub fn clean_display_text(raw: &str, max_chars: usize) -> Option<String> {
    let bidi = |c: char| matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}');
    let cleaned: String = raw
        .chars()
        .filter(|&c| !c.is_control() && !bidi(c))
        .collect();
    let trimmed = cleaned.trim();
    if trimmed.is_empty() {
        None
    } else {
        Some(trimmed.chars().take(max_chars).collect())
    }
}

/// A plausible e-mail address: one `@`, a dotted domain, no spaces or control characters,
/// within the length limit.
pub fn is_plausible_email(email: &str) -> bool {
    if email.len() > MAX_EMAIL_CHARS || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        }
        None => false,
    }
}

/// Why a login could not be tied to a user.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// The e-mail belongs to another account and linking is not allowed for this login.
    #[error("the e-mail address belongs to another account")]
    AccountConflict,
    /// Storage failed.
    #[error(transparent)]
    Port(#[from] PortError),
}

/// How a new identity whose e-mail is already taken is treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EmailLinking {
    /// Always refuse with [`ResolveError::AccountConflict`] (the default).
    #[default]
    Refuse,
    /// Link to the account when both sides have that e-mail verified; refuse otherwise.
    VerifiedBothSides,
}

/// Users sharing one e-mail that we look at when linking.
const MAX_EMAIL_MATCHES: usize = 2;

/// Holders of an address we look at before an account counts it as verified.
const MAX_HOLDERS_CHECKED: usize = 50;

/// Finds or creates the user for an upstream identity and refreshes the profile.
///
/// A known `(provider, subject)` always wins. A new identity whose e-mail (ignoring case)
/// already belongs to an account is linked to that account only when `linking` allows it,
/// both e-mails are verified and exactly one account has it; otherwise the login is refused
/// with `AccountConflict`, so an e-mail never silently takes over an account.
pub async fn resolve_user(
    users: &dyn UserRepository,
    clock: &dyn Clock,
    ids: &dyn IdGenerator,
    provider: &str,
    identity: &UpstreamIdentity,
    linking: EmailLinking,
) -> Result<User, ResolveError> {
    let now = clock.now();
    let real_email = identity
        .email
        .as_deref()
        .filter(|e| is_plausible_email(e))
        .map(str::to_owned);
    let email = real_email
        .clone()
        .unwrap_or_else(|| synthetic_email(provider, &identity.subject));
    let name = identity
        .name
        .as_deref()
        .and_then(|n| clean_display_text(n, MAX_NAME_CHARS))
        .unwrap_or_else(|| email.clone());
    let email_verified = identity.email_verified && real_email.is_some();

    for _ in 0..3 {
        if let Some(mut user) = users.find_by_identity(provider, &identity.subject).await? {
            // A linked identity does not overwrite the e-mail of the account it joined.
            if user.provider == provider && user.provider_user_id == identity.subject {
                // An address another account holds verified is recorded here, but not as
                // verified: e-mail rules and linking would otherwise follow the copy (a new
                // identity with that address gets AccountConflict instead). Checked whenever
                // this account would newly count it as verified, at every such login.
                let newly_verified = email_verified
                    && (!user.email_verified || !user.email.eq_ignore_ascii_case(&email));
                let taken = newly_verified
                    && users
                        .find_by_email(&email, MAX_HOLDERS_CHECKED)
                        .await?
                        .iter()
                        .any(|holder| holder.id != user.id && holder.email_verified);
                user.email = email.clone();
                user.email_verified = email_verified && !taken;
                user.name = name.clone();
            }
            user.last_login_at = now;
            users.update_profile(&user).await?;
            return Ok(user);
        }
        if let Some(address) = &real_email {
            let holders = users.find_by_email(address, MAX_EMAIL_MATCHES).await?;
            if let Some(holder) = holders.first() {
                let may_link = linking == EmailLinking::VerifiedBothSides
                    && email_verified
                    && holder.email_verified
                    && holders.len() == 1;
                if !may_link {
                    // A concurrent first login of this same identity may have created the
                    // holder between the two lookups: that is this user, not a conflict.
                    if users
                        .find_by_identity(provider, &identity.subject)
                        .await?
                        .is_some()
                    {
                        continue;
                    }
                    return Err(ResolveError::AccountConflict);
                }
                match users
                    .link_identity(holder.id, provider, &identity.subject)
                    .await
                {
                    // Linked, or a concurrent login linked it first: read it back.
                    Ok(()) | Err(PortError::AlreadyExists) => continue,
                    Err(other) => return Err(other.into()),
                }
            }
        }
        let user = User {
            id: UserId(ids.uuid()),
            provider: provider.to_owned(),
            provider_user_id: identity.subject.clone(),
            email: email.clone(),
            email_verified,
            name: name.clone(),
            created_at: now,
            last_login_at: now,
        };
        match users.insert(&user).await {
            Ok(()) => return Ok(user),
            // Lost a race with a concurrent first login: read the winner's record.
            Err(PortError::AlreadyExists) => continue,
            Err(other) => return Err(other.into()),
        }
    }
    Err(PortError::Conflict.into())
}

/// The address used when a provider gives no usable e-mail.
fn synthetic_email(provider: &str, subject: &str) -> String {
    let safe: String = subject
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .take(64)
        .collect();
    format!("{safe}@{provider}.oauth.tmi").to_ascii_lowercase()
}

/// Shared handle to a user repository.
pub type Users = Arc<dyn UserRepository>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_text_loses_control_characters() {
        assert_eq!(
            clean_display_text(" Al\u{0}ice\n ", 256).as_deref(),
            Some("Alice")
        );
        assert_eq!(clean_display_text("\n\t", 256), None);
        assert_eq!(
            clean_display_text("Alice\u{202E}nimda\u{2066}x\u{200F}", 256).as_deref(),
            Some("Alicenimdax")
        );
        assert_eq!(clean_display_text("\u{202E}", 256), None);
        // Joiners stay: they are part of emoji and many scripts.
        assert_eq!(
            clean_display_text("a\u{200D}b", 256).as_deref(),
            Some("a\u{200D}b")
        );
        assert_eq!(clean_display_text("abcdef", 3).as_deref(), Some("abc"));
    }

    #[test]
    fn plausible_emails() {
        assert!(is_plausible_email("alice@tmi.local"));
        assert!(!is_plausible_email("alice"));
        assert!(!is_plausible_email("a@b@c.d"));
        assert!(!is_plausible_email("a b@c.d"));
        assert!(!is_plausible_email("a@nodot"));
    }

    #[test]
    fn synthetic_email_is_plausible() {
        assert!(is_plausible_email(&synthetic_email("github", "12 34/<x>")));
    }
}
