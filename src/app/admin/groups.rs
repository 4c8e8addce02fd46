//! `tmi-auth groups …` and `tmi-auth admins …`: TMI-managed groups and their members.

use anyhow::{anyhow, bail};
use clap::{Args, Subcommand};

use super::{Stores, audit, stores, user};
use crate::adapters::system::{RandomIds, SystemClock};
use crate::app::config::Config;
use crate::domain::groups::{
    ADMINISTRATORS, Group, GroupId, Member, Membership, TMI_PROVIDER, privilege,
};
use crate::domain::user::User;
use crate::ports::{Clock, IdGenerator, PortError};

/// Who a membership command is about.
#[derive(Debug, Args)]
pub struct MemberArgs {
    /// A user, as PROVIDER:PROVIDER_USER_ID (the user must have signed in once).
    #[arg(long, value_name = "PROVIDER:SUBJECT", conflicts_with_all = ["group", "email"])]
    pub user: Option<String>,
    /// The one user whose verified e-mail address this is (ignoring case; the user must have
    /// signed in once).
    #[arg(long, value_name = "ADDRESS", conflicts_with = "group")]
    pub email: Option<String>,
    /// A TMI-managed group, by name.
    #[arg(long, value_name = "NAME")]
    pub group: Option<String>,
}

/// `tmi-auth groups …`.
#[derive(Debug, Subcommand)]
pub enum GroupsCommand {
    /// List TMI-managed groups.
    List,
    /// Create a TMI-managed group.
    Create {
        /// Group name.
        name: String,
        /// Display name.
        #[arg(long)]
        display_name: Option<String>,
    },
    /// List a group's direct members.
    Members {
        /// Group name.
        name: String,
    },
    /// Add a member to a group.
    AddMember {
        /// Group name.
        name: String,
        /// The member.
        #[command(flatten)]
        member: MemberArgs,
        /// Notes kept on the membership.
        #[arg(long)]
        notes: Option<String>,
    },
    /// Remove a member from a group.
    RemoveMember {
        /// Group name.
        name: String,
        /// The member.
        #[command(flatten)]
        member: MemberArgs,
    },
}

/// `tmi-auth admins …`.
#[derive(Debug, Subcommand)]
pub enum AdminsCommand {
    /// List the direct members of administrators.
    List,
    /// Make a user or group an administrator.
    Add(MemberArgs),
    /// Remove a user or group from administrators.
    Remove(MemberArgs),
}

/// `tmi-auth groups …`.
pub async fn groups(config: &Config, command: GroupsCommand) -> anyhow::Result<()> {
    let stores = stores(config).await?;
    match command {
        GroupsCommand::List => {
            for g in stores.groups.list_by_provider(TMI_PROVIDER).await? {
                println!(
                    "{}\t{}\t{}",
                    g.id,
                    g.name,
                    g.display_name.unwrap_or_default()
                );
            }
        }
        GroupsCommand::Create { name, display_name } => {
            if !crate::domain::text::is_displayable(&name, 256) {
                bail!(
                    "a group name is 1-256 printable characters (no control or bidirectional \
                     control characters, not only invisible ones)"
                );
            }
            if stores
                .groups
                .find_by_name(TMI_PROVIDER, &name)
                .await?
                .is_some()
            {
                bail!("a group named {name:?} exists");
            }
            let id = GroupId(RandomIds.uuid());
            let created = stores
                .groups
                .ensure_group(&Group {
                    id,
                    provider: TMI_PROVIDER.to_owned(),
                    name,
                    display_name,
                    created_at: SystemClock.now(),
                })
                .await?;
            // `ensure_group` returns the existing group when a concurrent command created it
            // first: that run made the change, this one did not.
            if created.id != id {
                bail!("a group named {:?} exists", created.name);
            }
            audit("group_created", &created.id.to_string(), &created.name);
            println!("{}\t{}", created.id, created.name);
        }
        GroupsCommand::Members { name } => {
            let target = group(&stores, &name).await?;
            print_members(&stores, target.id).await?;
        }
        GroupsCommand::AddMember {
            name,
            member: who,
            notes,
        } => {
            let target = group(&stores, &name).await?;
            let m = member(&stores, &who).await?;
            add(&stores, target.id, m, notes).await?;
            println!("added");
        }
        GroupsCommand::RemoveMember { name, member: who } => {
            let target = group(&stores, &name).await?;
            let m = member(&stores, &who).await?;
            remove(&stores, target.id, m).await?;
            println!("removed");
            if target.id == ADMINISTRATORS {
                warn_if_armed(config, &stores).await?;
            }
        }
    }
    Ok(())
}

/// With `groups.auto_promote_first_user`, an empty administrators group makes the next user
/// to sign in (anyone) an administrator: say so when a removal leaves it empty.
async fn warn_if_armed(config: &Config, stores: &Stores) -> anyhow::Result<()> {
    if !config.groups.auto_promote_first_user {
        return Ok(());
    }
    let (_, total) = stores.groups.members(ADMINISTRATORS, 1, 0).await?;
    if total == 0 {
        eprintln!(
            "warning: administrators is now empty and groups.auto_promote_first_user is on: \
             the next user to sign in will become administrator (add one with \
             `tmi-auth admins add`, or turn the setting off)"
        );
    }
    Ok(())
}

/// `tmi-auth admins …`.
pub async fn admins(config: &Config, command: AdminsCommand) -> anyhow::Result<()> {
    let stores = stores(config).await?;
    ensure_builtins(&stores).await?;
    match command {
        AdminsCommand::List => print_members(&stores, ADMINISTRATORS).await?,
        AdminsCommand::Add(who) => {
            let m = member(&stores, &who).await?;
            add(&stores, ADMINISTRATORS, m, None).await?;
            println!("added");
        }
        AdminsCommand::Remove(who) => {
            let m = member(&stores, &who).await?;
            remove(&stores, ADMINISTRATORS, m).await?;
            println!("removed");
            warn_if_armed(config, &stores).await?;
        }
    }
    Ok(())
}

async fn group(stores: &Stores, name: &str) -> anyhow::Result<Group> {
    stores
        .groups
        .find_by_name(TMI_PROVIDER, name)
        .await?
        .ok_or_else(|| anyhow!("no group named {name:?}"))
}

async fn member(stores: &Stores, args: &MemberArgs) -> anyhow::Result<Member> {
    match (&args.user, &args.email, &args.group) {
        (Some(spec), None, None) => Ok(Member::User(user(stores, spec).await?.id)),
        (None, Some(address), None) => Ok(Member::User(user_by_email(stores, address).await?.id)),
        (None, None, Some(name)) => Ok(Member::Group(group(stores, name).await?.id)),
        _ => bail!("give exactly one of --user, --email or --group"),
    }
}

/// The one account with this verified e-mail address. Several accounts (signed in through
/// different providers) or an unverified address are refused: name the user with --user.
async fn user_by_email(stores: &Stores, address: &str) -> anyhow::Result<User> {
    let address = address.trim();
    if !crate::domain::user::is_plausible_email(address) {
        bail!("--email {address:?} is not an e-mail address");
    }
    let mut found = stores.users.find_by_email(address, 2).await?;
    match found.len() {
        0 => bail!("no user with e-mail {address} (users exist after their first sign-in)"),
        1 => {
            let user = found.remove(0);
            if !user.email_verified {
                bail!(
                    "the e-mail of {}:{} is not verified by its provider; name the user with --user",
                    user.provider,
                    user.provider_user_id
                );
            }
            Ok(user)
        }
        _ => bail!("several users have e-mail {address}; name one with --user PROVIDER:SUBJECT"),
    }
}

async fn add(
    stores: &Stores,
    target: GroupId,
    member: Member,
    notes: Option<String>,
) -> anyhow::Result<()> {
    // The everyone group (or a group holding it) in administrators would make every user an
    // administrator, which no operator means to do with one command.
    if let Some(role) =
        privilege::role_for_everyone_if_added(&*stores.groups, target, member).await?
    {
        bail!("that would make every user {role}; add users or groups one by one");
    }
    let clock = SystemClock;
    let membership = Membership {
        id: RandomIds.uuid(),
        group: target,
        member,
        added_at: clock.now(),
        added_by: None,
        notes,
    };
    match stores.groups.add_member(&membership).await {
        Ok(()) => {
            audit(
                "membership_added",
                &target.to_string(),
                &member_text(member),
            );
            Ok(())
        }
        Err(PortError::AlreadyExists) => bail!("already a member"),
        Err(PortError::Conflict) => bail!("that membership would create a cycle"),
        Err(PortError::NotFound) => bail!("no such group or member"),
        Err(other) => Err(other.into()),
    }
}

async fn remove(stores: &Stores, target: GroupId, member: Member) -> anyhow::Result<()> {
    match stores.groups.remove_member(target, member).await {
        Ok(()) => {
            audit(
                "membership_removed",
                &target.to_string(),
                &member_text(member),
            );
            Ok(())
        }
        Err(PortError::NotFound) => bail!("not a direct member"),
        Err(other) => Err(other.into()),
    }
}

async fn print_members(stores: &Stores, target: GroupId) -> anyhow::Result<()> {
    let (members, total) = stores.groups.members(target, 1000, 0).await?;
    for m in members {
        // The notes last, on one line: tabs and line breaks in them become spaces.
        let notes: String = m
            .notes
            .unwrap_or_default()
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        match m.member {
            Member::User(id) => match stores.users.find_by_id(id).await? {
                Some(u) => println!(
                    "user\t{}:{}\t{}\t{}\t{notes}",
                    u.provider, u.provider_user_id, u.email, id
                ),
                None => println!("user\t(deleted)\t\t{id}\t{notes}"),
            },
            Member::Group(id) => {
                let name = stores
                    .groups
                    .get(id)
                    .await?
                    .map(|g| g.name)
                    .unwrap_or_default();
                println!("group\t{name}\t\t{id}\t{notes}");
            }
        }
    }
    eprintln!("{total} member(s)");
    Ok(())
}

fn member_text(member: Member) -> String {
    match member {
        Member::User(id) => format!("user:{id}"),
        Member::Group(id) => format!("group:{id}"),
    }
}

async fn ensure_builtins(stores: &Stores) -> anyhow::Result<()> {
    for g in Group::builtins(SystemClock.now()) {
        stores.groups.ensure_group(&g).await?;
    }
    Ok(())
}
