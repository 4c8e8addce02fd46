//! Refresh-token families and their rotation rules (DECISIONS.md, "Tokens").
//!
//! A family is one login session. Each refresh token carries the family id and a sequence
//! number. Presenting the current sequence rotates the family; presenting the previous one
//! within the grace window gets a fresh pair for the current sequence without advancing;
//! anything older is reuse and revokes the whole family. Families also expire absolutely.

use chrono::{DateTime, Duration, Utc};

use crate::domain::user::UserId;

/// Id of a refresh-token family (22 base64url characters of randomness).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FamilyId(String);

impl FamilyId {
    /// Wraps an id; `None` when it is empty, too long or not base64url.
    pub fn parse(text: &str) -> Option<Self> {
        let ok = !text.is_empty()
            && text.len() <= 64
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        ok.then(|| Self(text.to_owned()))
    }

    /// The id text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The server-side record of a family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshFamily {
    /// Family id.
    pub id: FamilyId,
    /// Owner.
    pub user_id: UserId,
    /// Provider the session was authenticated by.
    pub idp: String,
    /// Granted scopes, space separated.
    pub scope: String,
    /// Groups asserted by the provider at login (kept so refreshed tokens keep them).
    pub groups: Vec<String>,
    /// When the user authenticated.
    pub auth_time: DateTime<Utc>,
    /// The sequence number of the only refresh token that may rotate the family.
    pub current_seq: u64,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Absolute expiry; no rotation extends it.
    pub expires_at: DateTime<Utc>,
    /// When `current_seq` was last advanced.
    pub rotated_at: Option<DateTime<Utc>>,
    /// Revoked families accept nothing.
    pub revoked: bool,
}

/// The outcome of presenting a refresh token of sequence `seq` to a family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Presentation {
    /// The current token: store this successor (sequence advanced by one) if still current.
    Rotate(RefreshFamily),
    /// A retry of the previous token within the grace window: issue a pair for the current
    /// sequence without advancing.
    GraceRetry,
    /// An older token: the family must be revoked.
    Reuse,
    /// The family was revoked earlier.
    Revoked,
    /// The family's absolute lifetime is over.
    Expired,
}

impl RefreshFamily {
    /// Decides what presenting sequence `seq` at `now` means. Pure: the caller stores the
    /// result with a compare-and-set on `current_seq`.
    pub fn present(&self, seq: u64, now: DateTime<Utc>, grace: Duration) -> Presentation {
        if self.revoked {
            return Presentation::Revoked;
        }
        if now >= self.expires_at {
            return Presentation::Expired;
        }
        if seq == self.current_seq {
            let mut next = self.clone();
            next.current_seq += 1;
            next.rotated_at = Some(now);
            return Presentation::Rotate(next);
        }
        let within_grace = self.rotated_at.is_some_and(|at| now < at + grace);
        if seq + 1 == self.current_seq && within_grace {
            return Presentation::GraceRetry;
        }
        Presentation::Reuse
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use uuid::Uuid;

    fn t(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_800_000_000 + secs, 0)
            .single()
            .expect("valid time")
    }

    fn family() -> RefreshFamily {
        RefreshFamily {
            id: FamilyId::parse("fam1").expect("id"),
            user_id: UserId::from_uuid(Uuid::nil()),
            idp: "tmi".into(),
            scope: "openid".into(),
            groups: vec![],
            auth_time: t(0),
            current_seq: 0,
            created_at: t(0),
            expires_at: t(7 * 24 * 3600),
            rotated_at: None,
            revoked: false,
        }
    }

    const GRACE: Duration = Duration::seconds(10);

    #[test]
    fn presenting_the_current_sequence_rotates() {
        let Presentation::Rotate(next) = family().present(0, t(5), GRACE) else {
            panic!("expected rotation");
        };
        assert_eq!(next.current_seq, 1);
        assert_eq!(next.rotated_at, Some(t(5)));
        assert_eq!(
            next.expires_at,
            family().expires_at,
            "rotation never extends the lifetime"
        );
    }

    #[test]
    fn previous_sequence_within_grace_is_a_retry() {
        let mut f = family();
        f.current_seq = 1;
        f.rotated_at = Some(t(100));
        assert_eq!(f.present(0, t(109), GRACE), Presentation::GraceRetry);
    }

    #[test]
    fn previous_sequence_after_grace_is_reuse() {
        let mut f = family();
        f.current_seq = 1;
        f.rotated_at = Some(t(100));
        assert_eq!(f.present(0, t(110), GRACE), Presentation::Reuse);
    }

    #[test]
    fn older_sequence_is_reuse_even_within_grace() {
        let mut f = family();
        f.current_seq = 3;
        f.rotated_at = Some(t(100));
        assert_eq!(f.present(1, t(101), GRACE), Presentation::Reuse);
    }

    #[test]
    fn future_sequence_is_reuse() {
        assert_eq!(family().present(5, t(1), GRACE), Presentation::Reuse);
    }

    #[test]
    fn revoked_family_accepts_nothing() {
        let mut f = family();
        f.revoked = true;
        assert_eq!(f.present(0, t(1), GRACE), Presentation::Revoked);
    }

    #[test]
    fn family_expires_absolutely() {
        let f = family();
        assert_eq!(f.present(0, f.expires_at, GRACE), Presentation::Expired);
        assert!(matches!(
            f.present(0, f.expires_at - Duration::seconds(1), GRACE),
            Presentation::Rotate(_)
        ));
    }

    #[test]
    fn family_ids_are_base64url() {
        assert!(FamilyId::parse("abc_DEF-123").is_some());
        assert!(FamilyId::parse("").is_none());
        assert!(FamilyId::parse("a.b").is_none());
        assert!(FamilyId::parse(&"a".repeat(65)).is_none());
    }
}
