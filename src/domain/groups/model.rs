//! Group values.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::domain::user::UserId;

/// A group's internal id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupId(pub Uuid);

impl GroupId {
    /// Parses the hyphenated UUID form (only that one).
    pub fn parse(text: &str) -> Option<Self> {
        crate::domain::encoding::parse_hyphenated_uuid(text).map(Self)
    }
}

impl std::fmt::Display for GroupId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

/// The implicit group of every user.
pub const EVERYONE: GroupId = GroupId(Uuid::from_u128(0));
/// Built-in security reviewers.
pub const SECURITY_REVIEWERS: GroupId = GroupId(Uuid::from_u128(1));
/// Built-in administrators.
pub const ADMINISTRATORS: GroupId = GroupId(Uuid::from_u128(2));

/// Provider of TMI-managed groups (provider-independent).
pub const TMI_PROVIDER: &str = "*";

/// A group: TMI-managed (`provider == "*"`) or asserted by an identity provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// Internal id.
    pub id: GroupId,
    /// `*` for TMI-managed groups, else the provider id.
    pub provider: String,
    /// Group name, unique per provider.
    pub name: String,
    /// Display name.
    pub display_name: Option<String>,
    /// When the group was first recorded.
    pub created_at: DateTime<Utc>,
}

impl Group {
    /// The three built-in groups.
    pub fn builtins(at: DateTime<Utc>) -> [Group; 3] {
        let builtin = |id, name: &str, display: &str| Group {
            id,
            provider: TMI_PROVIDER.to_owned(),
            name: name.to_owned(),
            display_name: Some(display.to_owned()),
            created_at: at,
        };
        [
            builtin(EVERYONE, "everyone", "Everyone (Pseudo-group)"),
            builtin(
                SECURITY_REVIEWERS,
                "security-reviewers",
                "Security Reviewers",
            ),
            builtin(ADMINISTRATORS, "administrators", "Administrators"),
        ]
    }
}

/// What a membership puts into a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Member {
    /// A user.
    User(UserId),
    /// Another group (and so, transitively, its members).
    Group(GroupId),
}

/// A membership record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    /// Record id.
    pub id: Uuid,
    /// The containing group.
    pub group: GroupId,
    /// The member.
    pub member: Member,
    /// When it was added.
    pub added_at: DateTime<Utc>,
    /// Who added it (`None` for configuration seeding and automatic promotion).
    pub added_by: Option<UserId>,
    /// Free-form notes (never shown to non-administrators).
    pub notes: Option<String>,
}

/// Longest group name kept from an identity provider.
pub const MAX_GROUP_NAME: usize = 256;
/// Most groups kept from one login.
pub const MAX_IDP_GROUPS: usize = 200;

/// Cleans the group names an identity provider asserted: printable (no bidirectional controls,
/// not only invisible characters), bounded, de-duplicated,
/// at most [`MAX_IDP_GROUPS`].
pub fn clean_idp_groups(raw: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for name in raw {
        let name = name.trim();
        if !crate::domain::text::is_displayable(name, MAX_GROUP_NAME) {
            continue;
        }
        if !out.iter().any(|n| n == name) {
            out.push(name.to_owned());
        }
        if out.len() == MAX_IDP_GROUPS {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_ids_are_fixed() {
        assert_eq!(EVERYONE.to_string(), "00000000-0000-0000-0000-000000000000");
        assert_eq!(
            SECURITY_REVIEWERS.to_string(),
            "00000000-0000-0000-0000-000000000001"
        );
        assert_eq!(
            ADMINISTRATORS.to_string(),
            "00000000-0000-0000-0000-000000000002"
        );
    }

    #[test]
    fn idp_group_names_are_cleaned() {
        let raw = vec![
            "a".into(),
            " a ".into(),
            "".into(),
            "b\nc".into(),
            "x".repeat(300),
            "d".into(),
            // Reordering controls and invisible-only names are dropped like control characters.
            "admins\u{202E}".into(),
            "\u{200B}".into(),
        ];
        assert_eq!(clean_idp_groups(&raw), vec!["a".to_owned(), "d".to_owned()]);
        let many: Vec<String> = (0..500).map(|i| format!("g{i}")).collect();
        assert_eq!(clean_idp_groups(&many).len(), MAX_IDP_GROUPS);
    }
}
