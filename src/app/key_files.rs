//! Key material configured as files: signing and refresh-token keys installed into the key
//! store, the HS256 secret, and the client-secret peppers (which never enter the key store).

use std::path::Path;

use anyhow::Context;
use base64::Engine;
use ed25519_dalek::pkcs8::DecodePrivateKey;

use super::config::Config;
use crate::domain::credentials::{Pepper, Peppers};
use crate::domain::tokens::keys::{Installed, SharedSecret, StoredKey, install_key};
use crate::ports::{Clock, KeyStore};

/// The HS256 secret from `tokens.hs256_secret_file`: the file's bytes without a trailing line
/// break, as servers validating the original TMI's tokens use their configured secret.
pub(super) fn shared_secret(config: &Config) -> anyhow::Result<Option<SharedSecret>> {
    let Some(path) = &config.tokens.hs256_secret_file else {
        return Ok(None);
    };
    let bytes = std::fs::read(path)
        .with_context(|| format!("tokens.hs256_secret_file: cannot read {}", path.display()))?;
    let secret = bytes
        .strip_suffix(b"\r\n")
        .or_else(|| bytes.strip_suffix(b"\n"))
        .unwrap_or(&bytes);
    let secret = SharedSecret::new(secret).ok_or_else(|| {
        anyhow::anyhow!(
            "tokens.hs256_secret_file: {} must hold at least {} bytes (`openssl rand -base64 48`)",
            path.display(),
            SharedSecret::MIN_LEN
        )
    })?;
    Ok(Some(secret))
}

/// Puts keys configured as files into the key store, so they become the active keys.
pub(super) async fn install_configured_keys(
    config: &Config,
    store: &dyn KeyStore,
    clock: &dyn Clock,
) -> anyhow::Result<()> {
    if let Some(path) = &config.tokens.signing_key_file {
        let pem = std::fs::read_to_string(path)
            .with_context(|| format!("tokens.signing_key_file: cannot read {}", path.display()))?;
        let key = signing_key_from_pem(&pem, clock.now()).ok_or_else(|| {
            anyhow::anyhow!(
                "tokens.signing_key_file: {} is not an unencrypted PKCS#8 PEM key (\"BEGIN PRIVATE \
                 KEY\") of Ed25519, P-256 or RSA (2048 to 4096 bits); `openssl pkcs8 -topk8 \
                 -nocrypt` converts other forms",
                path.display()
            )
        })?;
        let alg = key.signing_alg().unwrap_or_default();
        anyhow::ensure!(
            alg == config.tokens.signing_algorithm,
            "tokens.signing_key_file: {} holds a key for {alg}, but tokens.signing_algorithm is {}",
            path.display(),
            config.tokens.signing_algorithm
        );
        report_installed(
            "tokens.signing_key_file",
            &key,
            install_key(store, &key).await?,
        );
    }
    if let Some(path) = &config.tokens.refresh_token_key_file {
        let bytes = read_key_file("tokens.refresh_token_key_file", path)?;
        let key = StoredKey::refresh(bytes, clock.now());
        report_installed(
            "tokens.refresh_token_key_file",
            &key,
            install_key(store, &key).await?,
        );
    }
    Ok(())
}

/// Logs what became of a configured key (only the unusual outcomes).
fn report_installed(setting: &str, key: &StoredKey, outcome: Installed) {
    match outcome {
        Installed::New | Installed::Active => {}
        Installed::Reactivated => {
            tracing::info!(kid = %key.kid, "{setting}: the configured key is active again");
        }
        Installed::Superseded => tracing::warn!(
            kid = %key.kid,
            "{setting}: the configured key is stored but a newer key is active (rotated since, \
             or another key was configured); it only verifies"
        ),
    }
}

/// A signing key from a PKCS#8 PEM document: Ed25519, P-256 or RSA.
fn signing_key_from_pem(pem: &str, now: chrono::DateTime<chrono::Utc>) -> Option<StoredKey> {
    if let Ok(key) = ed25519_dalek::SigningKey::from_pkcs8_pem(pem) {
        return Some(StoredKey::signing(key.to_bytes(), now));
    }
    let (label, document) = ed25519_dalek::pkcs8::SecretDocument::from_pem(pem).ok()?;
    if label != "PRIVATE KEY" {
        return None;
    }
    StoredKey::signing_pkcs8(document.as_bytes(), now)
}

/// 32 bytes, base64 (standard or URL-safe) in a file, surrounding whitespace ignored.
fn read_key_file(setting: &str, path: &Path) -> anyhow::Result<[u8; 32]> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{setting}: cannot read {}", path.display()))?;
    let text = text.trim();
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text))
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .ok_or_else(|| {
            anyhow::anyhow!(
                "{setting}: {} must hold 32 bytes, base64-encoded (`openssl rand -base64 32`)",
                path.display()
            )
        })
}

/// A pepper from a file; its id is derived from a digest of the key, like stored keys' ids.
fn pepper_file(setting: &str, path: &Path) -> anyhow::Result<Pepper> {
    let key = read_key_file(setting, path)?;
    let id = StoredKey::pepper(key, chrono::DateTime::UNIX_EPOCH).kid;
    Ok(Pepper::new(id, key))
}

/// The client-secret peppers: `credentials.pepper_file` is current when set (it is never
/// written to the key store), else the oldest stored pepper; every other stored pepper and
/// each of `credentials.previous_pepper_files` only verify.
pub(super) fn peppers(config: &Config, stored: &[Pepper]) -> anyhow::Result<Peppers> {
    let c = &config.credentials;
    let mut previous = Vec::new();
    for path in &c.previous_pepper_files {
        previous.push(pepper_file("credentials.previous_pepper_files", path)?);
    }
    let current = match &c.pepper_file {
        Some(path) => pepper_file("credentials.pepper_file", path)?,
        None => stored
            .first()
            .cloned()
            .ok_or_else(|| anyhow::anyhow!("the key store holds no pepper"))?,
    };
    let peppers = Peppers::new(current, stored.iter().cloned().chain(previous));
    tracing::debug!(
        current = %peppers.current().id(),
        previous = ?peppers.previous_ids().collect::<Vec<_>>(),
        "client-secret peppers"
    );
    Ok(peppers)
}
