//! Groups (DECISIONS.md, "Users, groups, admins"): TMI-managed groups containing users and
//! other groups, groups asserted by identity providers, transitive and cycle-safe effective
//! membership, and the built-in everyone / security-reviewers / administrators groups.

pub mod graph;
pub mod model;
pub mod privilege;
pub mod seed;
pub mod service;

pub use model::{
    ADMINISTRATORS, EVERYONE, Group, GroupId, Member, Membership, SECURITY_REVIEWERS, TMI_PROVIDER,
};
pub use seed::{MemberRef, SeedPlan, SeedRule, UserMatcher};
pub use service::{Entitlements, GroupError, GroupService};
