//! `[groups]`: operator-managed groups, memberships and administrators, validated into the
//! domain's seed plan.

use serde::Deserialize;

use super::ConfigError;
use crate::domain::groups::seed::SeedGroup;
use crate::domain::groups::{MemberRef, SeedPlan, SeedRule, UserMatcher};
use crate::domain::login::params::is_valid_provider_id;

/// `[groups]`: operator-managed groups and memberships.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct GroupsConfig {
    /// Make the first user to sign in an administrator while administrators is empty.
    pub auto_promote_first_user: bool,
    /// `[[groups.define]]`: TMI-managed groups to create.
    pub define: Vec<GroupDefinition>,
    /// `[[groups.members]]`: who belongs to which group (`group` names the target).
    pub members: Vec<MemberSpec>,
    /// `[[groups.administrators]]`: members of the administrators group.
    pub administrators: Vec<MemberSpec>,
    /// `[[groups.security_reviewers]]`: members of the security-reviewers group.
    pub security_reviewers: Vec<MemberSpec>,
}

/// A TMI-managed group.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupDefinition {
    /// Group name (unique).
    pub name: String,
    /// Display name.
    pub display_name: Option<String>,
}

/// One member: exactly one of `provider` + `provider_user_id`, `email` (matches verified
/// e-mails), `member_group` (a TMI-managed group) or `provider` + `idp_group` (a group asserted
/// by that identity provider).
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct MemberSpec {
    /// Target group (only in `[[groups.members]]`).
    pub group: Option<String>,
    /// Provider of a user or of an identity-provider group.
    pub provider: Option<String>,
    /// The provider's subject of a user.
    pub provider_user_id: Option<String>,
    /// A verified e-mail address.
    pub email: Option<String>,
    /// A TMI-managed group.
    pub member_group: Option<String>,
    /// An identity-provider group name.
    pub idp_group: Option<String>,
    /// Notes kept on the membership.
    pub notes: Option<String>,
}

impl GroupsConfig {
    /// Validates the group configuration into a seed plan; errors name the entry.
    pub fn seed_plan(&self) -> Result<SeedPlan, ConfigError> {
        let mut plan = SeedPlan {
            auto_promote_first_user: self.auto_promote_first_user,
            ..SeedPlan::default()
        };
        for (i, def) in self.define.iter().enumerate() {
            let key = format!("groups.define[{i}].name");
            check_name(&key, &def.name)?;
            if ["everyone", "administrators", "security-reviewers"].contains(&def.name.as_str()) {
                return Err(ConfigError::new(&key, "names a built-in group"));
            }
            if let Some(display) = &def.display_name {
                check_name(&format!("groups.define[{i}].display_name"), display)?;
            }
            // A second definition would be dropped without a word (its display name lost).
            if let Some(first) = plan.groups.iter().position(|g| g.name == def.name) {
                return Err(ConfigError::new(
                    &key,
                    format!(
                        "defines {:?} again (first in groups.define[{first}])",
                        def.name
                    ),
                ));
            }
            plan.groups.push(SeedGroup {
                name: def.name.clone(),
                display_name: def.display_name.clone(),
            });
        }
        let lists = [
            ("groups.members", &self.members, None),
            (
                "groups.administrators",
                &self.administrators,
                Some("administrators"),
            ),
            (
                "groups.security_reviewers",
                &self.security_reviewers,
                Some("security-reviewers"),
            ),
        ];
        for (list, specs, fixed) in lists {
            for (i, spec) in specs.iter().enumerate() {
                let at = |field: &str| format!("{list}[{i}].{field}");
                let group = match (fixed, &spec.group) {
                    (Some(name), None) => name.to_owned(),
                    (Some(_), Some(_)) => {
                        return Err(ConfigError::new(&at("group"), "is not allowed here"));
                    }
                    (None, Some(name)) => {
                        check_name(&at("group"), name)?;
                        if name == "everyone" {
                            return Err(ConfigError::new(&at("group"), "everyone is implicit"));
                        }
                        name.clone()
                    }
                    (None, None) => return Err(ConfigError::new(&at("group"), "is required")),
                };
                let member = match (
                    &spec.provider,
                    &spec.provider_user_id,
                    &spec.email,
                    &spec.member_group,
                    &spec.idp_group,
                ) {
                    (Some(provider), Some(subject), None, None, None) => {
                        check_provider(&at("provider"), provider)?;
                        check_name(&at("provider_user_id"), subject)?;
                        MemberRef::User(UserMatcher::Identity {
                            provider: provider.clone(),
                            provider_user_id: subject.clone(),
                        })
                    }
                    (None, None, Some(email), None, None) => {
                        if !crate::domain::user::is_plausible_email(email) {
                            return Err(ConfigError::new(&at("email"), "is not an e-mail address"));
                        }
                        MemberRef::User(UserMatcher::VerifiedEmail(email.clone()))
                    }
                    (None, None, None, Some(name), None) => {
                        check_name(&at("member_group"), name)?;
                        MemberRef::Group(name.clone())
                    }
                    (Some(provider), None, None, None, Some(name)) => {
                        check_provider(&at("provider"), provider)?;
                        check_name(&at("idp_group"), name)?;
                        MemberRef::IdpGroup {
                            provider: provider.clone(),
                            name: name.clone(),
                        }
                    }
                    _ => {
                        return Err(ConfigError::new(
                            &format!("{list}[{i}]"),
                            "needs exactly one of provider + provider_user_id, email, member_group, provider + idp_group",
                        ));
                    }
                };
                if spec
                    .notes
                    .as_ref()
                    .is_some_and(|n| n.chars().count() > 1000)
                {
                    return Err(ConfigError::new(
                        &at("notes"),
                        "must be at most 1000 characters",
                    ));
                }
                plan.rules.push(SeedRule {
                    group,
                    member,
                    notes: spec.notes.clone(),
                });
            }
        }
        Ok(plan)
    }
}

fn check_name(key: &str, value: &str) -> Result<(), ConfigError> {
    if !crate::domain::text::is_displayable(value, 256) {
        return Err(ConfigError::new(
            key,
            "must be 1-256 printable characters (no control or bidirectional control \
             characters, not only invisible ones)",
        ));
    }
    Ok(())
}

fn check_provider(key: &str, value: &str) -> Result<(), ConfigError> {
    if is_valid_provider_id(value) {
        Ok(())
    } else {
        Err(ConfigError::new(key, "is not a valid provider id"))
    }
}
