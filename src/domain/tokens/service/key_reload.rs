//! Keys at run time: reloading the ring from the key store, and scheduled rotation of the
//! signing and refresh-token keys.

use super::*;

impl TokenService {
    /// Reloads the keys from the key store (new keys rotated in by another replica or the CLI
    /// start verifying here, and the newest becomes the signing key).
    pub async fn reload_keys(&self) -> Result<(), KeyError> {
        let now = self.clock.now();
        let retention = self.settings.retention();
        let ring = KeyRing::from_keys_at_with(
            &self.keys.list().await?,
            now,
            retention,
            self.settings.shared_secret.as_ref(),
        )?;
        *self.ring.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(ring);
        *self
            .last_reload
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(now);
        Ok(())
    }

    /// Rotates the signing key when the active one is older than `period` (safe when several
    /// replicas do it at once: the newest key stays active), then reloads. Whether it rotated.
    pub async fn rotate_if_due(&self, period: Duration) -> Result<bool, KeyError> {
        if !self.settings.signing_alg.is_stored()
            || !self.due(KeyPurpose::AccessTokenSigning, period).await?
        {
            return Ok(false);
        }
        crate::domain::tokens::keys::rotate_signing_key(
            self.keys.as_ref(),
            self.clock.as_ref(),
            self.ids.as_ref(),
            self.settings.signing_alg,
        )
        .await?;
        self.reload_keys().await?;
        tracing::info!("signing key rotated on schedule");
        Ok(true)
    }

    /// Rotates the refresh-token key when the active one is older than `period`, then reloads
    /// (like [`TokenService::rotate_if_due`]). Whether it rotated.
    pub async fn rotate_refresh_if_due(&self, period: Duration) -> Result<bool, KeyError> {
        if !self.due(KeyPurpose::RefreshTokenEncryption, period).await? {
            return Ok(false);
        }
        crate::domain::tokens::keys::rotate_refresh_key(
            self.keys.as_ref(),
            self.clock.as_ref(),
            self.ids.as_ref(),
        )
        .await?;
        self.reload_keys().await?;
        tracing::info!("refresh-token key rotated on schedule");
        Ok(true)
    }

    /// Whether the newest active key of `purpose` is at least `period` old (or missing).
    async fn due(&self, purpose: KeyPurpose, period: Duration) -> Result<bool, KeyError> {
        let now = self.clock.now();
        let newest = self
            .keys
            .list()
            .await?
            .iter()
            .filter(|k| k.purpose == purpose && k.retired_at.is_none())
            .map(|k| k.created_at)
            .max();
        Ok(newest.is_none_or(|at| now - at >= period))
    }

    /// Reloads the keys unless that happened in the last few seconds; whether it reloaded.
    pub(super) async fn reload_if_due(&self) -> bool {
        let now = self.clock.now();
        let due = self
            .last_reload
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_none_or(|at| now - at >= Duration::seconds(KEY_RELOAD_MIN_SECS));
        if !due {
            return false;
        }
        match self.reload_keys().await {
            Ok(()) => true,
            Err(err) => {
                tracing::warn!(error = %err, "could not reload keys");
                false
            }
        }
    }
}
