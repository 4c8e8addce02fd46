//! The rule no membership may break: the everyone group never holds a privileged role
//! (administrators, security reviewers), directly or through other groups. One command or
//! configuration line would otherwise make every user an administrator.

use std::collections::HashSet;

use super::model::{ADMINISTRATORS, EVERYONE, GroupId, Member, SECURITY_REVIEWERS};
use crate::ports::{GroupRepository, PortError};

/// The privileged groups, with the role each grants.
const ROLES: [(&str, GroupId); 2] = [
    ("an administrator", ADMINISTRATORS),
    ("a security reviewer", SECURITY_REVIEWERS),
];

/// Whether `inner` is `outer` or (transitively) a member group of it.
pub async fn contains(
    repo: &dyn GroupRepository,
    outer: GroupId,
    inner: GroupId,
) -> Result<bool, PortError> {
    let mut seen = HashSet::from([outer]);
    let mut pending = vec![outer];
    while let Some(next) = pending.pop() {
        if next == inner {
            return Ok(true);
        }
        let mut offset = 0;
        loop {
            let (page, total) = repo.members(next, 1000, offset).await?;
            offset += page.len() as u64;
            for membership in &page {
                if let Member::Group(group) = membership.member
                    && seen.insert(group)
                {
                    pending.push(group);
                }
            }
            if page.is_empty() || offset >= total {
                break;
            }
        }
    }
    Ok(false)
}

/// The role that adding `member` to `target` would give every user, if any: when `member`
/// is or holds the everyone group and `target` is or sits in a privileged group.
pub async fn role_for_everyone_if_added(
    repo: &dyn GroupRepository,
    target: GroupId,
    member: Member,
) -> Result<Option<&'static str>, PortError> {
    let Member::Group(group) = member else {
        return Ok(None);
    };
    if !contains(repo, group, EVERYONE).await? {
        return Ok(None);
    }
    for (role, privileged) in ROLES {
        if contains(repo, privileged, target).await? {
            return Ok(Some(role));
        }
    }
    Ok(None)
}

/// The role every user holds through the stored memberships, if any.
pub async fn role_held_by_everyone(
    repo: &dyn GroupRepository,
) -> Result<Option<&'static str>, PortError> {
    for (role, privileged) in ROLES {
        if contains(repo, privileged, EVERYONE).await? {
            return Ok(Some(role));
        }
    }
    Ok(None)
}
