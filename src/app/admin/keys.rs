//! `tmi-auth keys …`: list and rotate the stored keys.

use anyhow::Context;
use clap::Subcommand;

use super::{audit, stores};
use crate::adapters::system::{RandomIds, SystemClock};
use crate::app::config::Config;
use crate::domain::tokens::keys::{rotate_refresh_key, rotate_signing_key};

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
