//! Group configuration seeded by the operator: TMI-managed groups, and rules that put users
//! (by identity or verified e-mail), groups and identity-provider groups into them. Rules about
//! users are applied when a matching user signs in (users do not exist before their first
//! login); rules about groups are applied at startup.

use crate::domain::user::User;

/// Which users a rule means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserMatcher {
    /// Exactly this identity.
    Identity {
        /// Provider id.
        provider: String,
        /// The provider's subject.
        provider_user_id: String,
    },
    /// Any user whose provider verified this e-mail (case-insensitive).
    VerifiedEmail(String),
}

impl UserMatcher {
    /// Whether `user` is meant.
    pub fn matches(&self, user: &User) -> bool {
        match self {
            UserMatcher::Identity {
                provider,
                provider_user_id,
            } => user.provider == *provider && user.provider_user_id == *provider_user_id,
            UserMatcher::VerifiedEmail(email) => {
                user.email_verified && user.email.eq_ignore_ascii_case(email)
            }
        }
    }
}

/// What a rule puts into its group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberRef {
    /// Users matching this.
    User(UserMatcher),
    /// A TMI-managed group, by name.
    Group(String),
    /// A group asserted by an identity provider.
    IdpGroup {
        /// Provider id.
        provider: String,
        /// Group name as the provider asserts it.
        name: String,
    },
}

/// "`member` is a member of the TMI-managed group `group`".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedRule {
    /// Target group name (built-in names included: `administrators`, `security-reviewers`).
    pub group: String,
    /// The member.
    pub member: MemberRef,
    /// Notes kept on the membership.
    pub notes: Option<String>,
}

/// A TMI-managed group to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedGroup {
    /// Group name.
    pub name: String,
    /// Display name.
    pub display_name: Option<String>,
}

/// Everything the operator configured.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeedPlan {
    /// Groups to create.
    pub groups: Vec<SeedGroup>,
    /// Membership rules.
    pub rules: Vec<SeedRule>,
    /// Make the first user to sign in an administrator (and security reviewer) while the
    /// administrators group has no members.
    pub auto_promote_first_user: bool,
}

impl SeedPlan {
    /// The providers the rules name, with the rule's index (a rule naming a provider that is
    /// not configured matches nobody).
    pub fn providers_named(&self) -> impl Iterator<Item = (usize, &str)> {
        self.rules
            .iter()
            .enumerate()
            .filter_map(|(index, rule)| match &rule.member {
                MemberRef::User(UserMatcher::Identity { provider, .. })
                | MemberRef::IdpGroup { provider, .. } => Some((index, provider.as_str())),
                MemberRef::User(UserMatcher::VerifiedEmail(_)) | MemberRef::Group(_) => None,
            })
    }
}
