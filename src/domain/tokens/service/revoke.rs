//! Revocation: whole credentials, and single tokens (RFC 7009) owned by the caller.

use super::*;

impl TokenService {
    /// Revokes every access token issued to a client credential, on every replica.
    pub async fn revoke_credential(&self, client_id: &str) -> Result<(), PortError> {
        let until = self.clock.now() + self.settings.access_ttl + self.settings.leeway;
        self.revocations
            .revoke(&RevocationEntry::Credential(client_id.to_owned()), until)
            .await
    }

    /// RFC 7009 for a token of unknown kind: tries the hinted kind first. Only tokens owned by
    /// `caller` (the same user) are revoked; anything else is silently ignored. Returns whether
    /// something was revoked (for logs; the client always sees success).
    pub async fn revoke_owned(
        &self,
        token: &str,
        hint_refresh: bool,
        caller: UserId,
    ) -> Result<bool, PortError> {
        let refresh_first = [true, false];
        let access_first = [false, true];
        for is_refresh in if hint_refresh {
            refresh_first
        } else {
            access_first
        } {
            let revoked = if is_refresh {
                self.revoke_refresh(token, caller).await?
            } else {
                self.revoke_access(token, caller).await?
            };
            if revoked {
                return Ok(true);
            }
        }
        Ok(false)
    }

    async fn revoke_access(&self, token: &str, caller: UserId) -> Result<bool, PortError> {
        let now = self.clock.now();
        let Ok(claims) = jwt::verify(
            &self.ring(),
            token,
            &self.settings.issuer,
            &self.settings.audience,
            now,
            self.settings.leeway.num_seconds(),
        ) else {
            return Ok(false);
        };
        if owner_of(&claims) != Some(caller) {
            return Ok(false);
        }
        let until =
            DateTime::<Utc>::from_timestamp(claims.exp, 0).unwrap_or(now) + self.settings.leeway;
        self.revocations
            .revoke(&RevocationEntry::TokenId(claims.jti), until)
            .await?;
        Ok(true)
    }

    async fn revoke_refresh(&self, token: &str, caller: UserId) -> Result<bool, PortError> {
        let Some((family_id, _)) = refresh::open(&self.ring(), token) else {
            return Ok(false);
        };
        match self.families.get(&family_id).await? {
            Some(family) if family.user_id == caller => {
                self.revoke_family(&family_id).await?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}
