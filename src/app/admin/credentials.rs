//! `tmi-auth credentials …`: list and delete users' client credentials, and see which pepper
//! keys their secrets.

use anyhow::anyhow;
use clap::Subcommand;

use super::{audit, revocation_deadline, revocation_list, stores, user};
use crate::app::config::Config;
use crate::domain::tokens::keys::stored_peppers;

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
            // Tokens first: if Redis cannot be reached nothing has changed, and the command
            // can be run again (the other way round, the credential was gone and its tokens
            // stayed valid with no way to retry).
            revoke_tokens(config, &client_id).await?;
            stores.credentials.delete(found.owner, found.id).await?;
            audit(
                "credential_deleted",
                &found.owner.to_string(),
                &found.id.to_string(),
            );
            println!("deleted {client_id}; its tokens are revoked");
        }
        CredentialsCommand::Peppers => {
            let stored = stored_peppers(&stores.keys.list().await?)?;
            let peppers = crate::app::key_files::peppers(config, &stored)?;
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
    let Some(list) = revocation_list(config).await? else {
        eprintln!("note: cache is not redis; tokens already issued stay valid until they expire");
        return Ok(());
    };
    list.revoke(
        &RevocationEntry::Credential(client_id.to_owned()),
        revocation_deadline(config),
    )
    .await?;
    Ok(())
}
