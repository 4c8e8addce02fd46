//! Operator commands against the configured persistent storage: keys, groups, administrators
//! and client credentials. Each prints plain lines; an error is one line and a non-zero exit.

use std::sync::Arc;

use anyhow::{Context, anyhow, bail};
use clap::{Args, Subcommand};

use super::config::{Config, StorageKind};
use super::startup::connect_postgres;
use crate::adapters::postgres::{
    PostgresClientCredentialRepository, PostgresGroupRepository, PostgresKeyStore,
    PostgresUserRepository,
};
use crate::adapters::system::{RandomIds, SystemClock};
use crate::domain::groups::{ADMINISTRATORS, Group, GroupId, Member, Membership, TMI_PROVIDER};
use crate::domain::tokens::keys::{rotate_refresh_key, rotate_signing_key, stored_peppers};
use crate::domain::user::User;
use crate::ports::{
    ClientCredentialRepository, Clock, GroupRepository, IdGenerator, KeyStore, PortError,
    UserRepository,
};

/// `tmi-auth keys …`.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// List stored keys (never the secret material).
    List,
    /// Create a new signing key (with `--refresh`: refresh-token key); older ones keep
    /// verifying (opening) until their tokens expire.
    Rotate {
        /// Rotate the key that seals refresh tokens instead of the signing key.
        #[arg(long)]
        refresh: bool,
    },
}

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

/// `tmi-auth credentials …`.
#[derive(Debug, Subcommand)]
pub enum CredentialsCommand {
    /// List a user's client credentials.
    List {
        /// The user, as PROVIDER:PROVIDER_USER_ID.
        #[arg(long, value_name = "PROVIDER:SUBJECT")]
        user: String,
    },
    /// Delete a client credential by client id (its tokens stop working within their lifetime
    /// on replicas whose revocation list is shared; at once with `cache = "redis"`).
    Revoke {
        /// The client id (`tmi_cc_…`).
        client_id: String,
    },
    /// How many credentials each client-secret pepper keys, and whether this configuration
    /// has it: a previous pepper can be dropped once it keys none.
    Peppers,
}

struct Stores {
    users: Arc<dyn UserRepository>,
    keys: Arc<dyn KeyStore>,
    groups: Arc<dyn GroupRepository>,
    credentials: Arc<dyn ClientCredentialRepository>,
}

async fn stores(config: &Config) -> anyhow::Result<Stores> {
    if config.storage != StorageKind::Postgres {
        bail!("storage: management commands need storage = \"postgres\"");
    }
    let pool = connect_postgres(config, config.database.auto_migrate).await?;
    Ok(Stores {
        users: Arc::new(PostgresUserRepository::new(pool.clone())),
        keys: Arc::new(PostgresKeyStore::new(pool.clone())),
        groups: Arc::new(PostgresGroupRepository::new(pool.clone())),
        credentials: Arc::new(PostgresClientCredentialRepository::new(pool)),
    })
}

async fn user(stores: &Stores, spec: &str) -> anyhow::Result<User> {
    let (provider, subject) = spec
        .split_once(':')
        .ok_or_else(|| anyhow!("--user must look like PROVIDER:SUBJECT"))?;
    stores
        .users
        .find_by_identity(provider, subject)
        .await?
        .ok_or_else(|| anyhow!("no user {spec} (users exist after their first sign-in)"))
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
        match m.member {
            Member::User(id) => match stores.users.find_by_id(id).await? {
                Some(u) => println!(
                    "user\t{}:{}\t{}\t{}",
                    u.provider, u.provider_user_id, u.email, id
                ),
                None => println!("user\t(deleted)\t\t{id}"),
            },
            Member::Group(id) => {
                let name = stores
                    .groups
                    .get(id)
                    .await?
                    .map(|g| g.name)
                    .unwrap_or_default();
                println!("group\t{name}\t\t{id}");
            }
        }
    }
    eprintln!("{total} member(s)");
    Ok(())
}

/// `tmi-auth keys …`.
pub async fn keys(config: &Config, command: KeysCommand) -> anyhow::Result<()> {
    let stores = stores(config).await?;
    match command {
        KeysCommand::List => {
            for k in stores.keys.list().await? {
                let retired = k.retired_at.map_or_else(
                    || "active".to_owned(),
                    |at| format!("retired {}", at.to_rfc3339()),
                );
                println!(
                    "{}\t{}\t{}\t{}\t{}",
                    k.kid,
                    k.purpose.as_str(),
                    k.signing_alg().map_or("-", |alg| alg.as_str()),
                    k.created_at.to_rfc3339(),
                    retired
                );
            }
        }
        KeysCommand::Rotate { refresh: true } => {
            let key = rotate_refresh_key(stores.keys.as_ref(), &SystemClock, &RandomIds)
                .await
                .context("rotating the refresh-token key")?;
            audit("refresh_key_rotated", "keys", &key.kid);
            println!(
                "{}\tnew refresh-token key; replicas pick it up within a minute",
                key.kid
            );
        }
        KeysCommand::Rotate { refresh: false } => {
            let alg = config.tokens.signing_algorithm;
            anyhow::ensure!(
                alg.is_stored(),
                "tokens.signing_algorithm is HS256: its secret is tokens.hs256_secret_file; \
                 rotate it by changing that file on every replica"
            );
            let key = rotate_signing_key(stores.keys.as_ref(), &SystemClock, &RandomIds, alg)
                .await
                .context("rotating the signing key")?;
            audit("signing_key_rotated", "keys", &key.kid);
            println!(
                "{}\tnew signing key; replicas pick it up within a minute",
                key.kid
            );
        }
    }
    Ok(())
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
            if name.trim().is_empty()
                || name.chars().count() > 256
                || name.chars().any(char::is_control)
            {
                bail!("a group name is 1-256 printable characters");
            }
            if stores
                .groups
                .find_by_name(TMI_PROVIDER, &name)
                .await?
                .is_some()
            {
                bail!("a group named {name:?} exists");
            }
            let created = stores
                .groups
                .ensure_group(&Group {
                    id: GroupId(RandomIds.uuid()),
                    provider: TMI_PROVIDER.to_owned(),
                    name,
                    display_name,
                    created_at: SystemClock.now(),
                })
                .await?;
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
        }
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
        }
    }
    Ok(())
}

/// `tmi-auth credentials …`.
pub async fn credentials(config: &Config, command: CredentialsCommand) -> anyhow::Result<()> {
    let stores = stores(config).await?;
    match command {
        CredentialsCommand::List { user: spec } => {
            let owner = user(&stores, &spec).await?;
            let page = stores.credentials.list_by_owner(owner.id, 1000, 0).await?;
            for c in page.items {
                let expires = c.expires_at.map(|at| at.to_rfc3339()).unwrap_or_default();
                println!(
                    "{}\t{}\t{}\t{}",
                    c.client_id.as_str(),
                    c.name,
                    c.created_at.to_rfc3339(),
                    expires
                );
            }
            eprintln!("{} credential(s)", page.total);
        }
        CredentialsCommand::Revoke { client_id } => {
            let found = stores
                .credentials
                .find_by_client_id(&client_id)
                .await?
                .ok_or_else(|| anyhow!("no client credential {client_id}"))?;
            stores.credentials.delete(found.owner, found.id).await?;
            revoke_tokens(config, &client_id).await?;
            audit(
                "credential_deleted",
                &found.owner.to_string(),
                &found.id.to_string(),
            );
            println!("deleted {client_id}; its tokens are revoked");
        }
        CredentialsCommand::Peppers => {
            let stored = stored_peppers(&stores.keys.list().await?)?;
            let peppers = super::key_files::peppers(config, &stored)?;
            let counts = stores.credentials.count_by_pepper().await?;
            let count = |id: &str| {
                counts
                    .iter()
                    .find(|(pepper, _)| pepper == id)
                    .map_or(0, |(_, n)| *n)
            };
            let current = peppers.current().id();
            println!("{current}\tcurrent\t{}", count(current));
            for id in peppers.previous_ids() {
                println!("{id}\tprevious\t{}", count(id));
            }
            for (id, n) in counts.iter().filter(|(id, _)| peppers.find(id).is_none()) {
                println!("{id}\tnot configured\t{n}");
            }
        }
    }
    Ok(())
}

/// Puts the credential's revocation entry on the shared revocation list.
async fn revoke_tokens(config: &Config, client_id: &str) -> anyhow::Result<()> {
    use crate::ports::{RevocationEntry, RevocationList};
    let Some(url) = config
        .redis
        .url
        .clone()
        .filter(|_| config.cache == super::config::CacheKind::Redis)
    else {
        eprintln!("note: cache is not redis; tokens already issued stay valid until they expire");
        return Ok(());
    };
    let handle =
        crate::adapters::redis::RedisHandle::connect(&crate::adapters::redis::RedisSettings {
            url,
            key_prefix: config.redis.key_prefix.clone(),
            response_timeout: std::time::Duration::from_millis(config.redis.response_timeout_ms),
            connection_timeout: std::time::Duration::from_millis(
                config.redis.connection_timeout_ms,
            ),
        })
        .await
        .map_err(|e| anyhow!("redis.url: cannot reach Redis: {e}"))?;
    let ttl = chrono::Duration::seconds(
        i64::try_from(config.tokens.access_token_ttl_secs + config.tokens.leeway_secs)
            .unwrap_or(i64::MAX / 2),
    );
    crate::adapters::redis::RedisRevocationList::new(handle)
        .revoke(
            &RevocationEntry::Credential(client_id.to_owned()),
            SystemClock.now() + ttl,
        )
        .await?;
    Ok(())
}

/// One audit event for a change made from the command line.
fn audit(event: &str, target: &str, subject: &str) {
    tracing::info!(target: "audit", event, actor = "cli", group_or_owner = target, subject, outcome = "success");
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
