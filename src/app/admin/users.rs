//! `tmi-auth users …`: end a user's sessions.

use std::sync::Arc;

use clap::Subcommand;

use super::{audit, revocation_deadline, revocation_list, stores, user};
use crate::adapters::memory::MemoryRevocationList;
use crate::adapters::system::SystemClock;
use crate::app::config::Config;
use crate::domain::tokens::service::end_all_sessions;
use crate::ports::{Clock, RevocationList};

/// `tmi-auth users …`.
#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// End every session of a user, through every provider: their refresh tokens stop
    /// working, and with `cache = "redis"` their access tokens too (otherwise those expire
    /// within their lifetime). They can sign in again: disable them at their identity provider
    /// first. Their client credentials are not touched (see `tmi-auth credentials`).
    SignOut {
        /// The user, as PROVIDER:PROVIDER_USER_ID.
        #[arg(long, value_name = "PROVIDER:SUBJECT")]
        user: String,
    },
}

/// `tmi-auth users …`.
pub async fn users(config: &Config, command: UsersCommand) -> anyhow::Result<()> {
    let stores = stores(config).await?;
    match command {
        UsersCommand::SignOut { user: spec } => {
            let found = user(&stores, &spec).await?;
            let shared = revocation_list(config).await?;
            if shared.is_none() {
                eprintln!(
                    "note: cache is not redis; access tokens already issued stay valid until \
                     they expire"
                );
            }
            let list: Arc<dyn RevocationList> = match shared {
                Some(list) => Arc::new(list),
                // Nothing shares it: the entries go nowhere, the families are still marked.
                None => Arc::new(MemoryRevocationList::new(Arc::new(SystemClock))),
            };
            let ended = end_all_sessions(
                stores.families.as_ref(),
                list.as_ref(),
                revocation_deadline(config),
                found.id,
            )
            .await?;
            audit("sessions_revoked", &found.id.to_string(), &spec);
            println!("signed out {spec}: {ended} session(s) ended");
            let now = SystemClock.now();
            let live = stores
                .credentials
                .list_by_owner(found.id, 1000, 0)
                .await?
                .items
                .iter()
                .filter(|c| c.expires_at.is_none_or(|at| at > now))
                .count();
            if live > 0 {
                eprintln!(
                    "note: {live} unexpired client credential(s) of this user still work; see \
                     `tmi-auth credentials list --user {spec}`"
                );
            }
        }
    }
    Ok(())
}
