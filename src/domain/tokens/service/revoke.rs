//! Revocation: refresh families, SAML sessions, whole credentials, and single tokens
//! (RFC 7009) owned by the caller.

use super::*;

impl TokenService {
    /// Revokes a family: no refresh token of it works any more, and access tokens issued
    /// from it stop validating at once.
    ///
    /// The revocation list entry goes first: a family revoked before it exists (a replayed
    /// authorization code racing its first redemption) is then caught by
    /// [`Self::family_revoked`], which that redemption checks after creating the family.
    pub async fn revoke_family(&self, id: &FamilyId) -> Result<(), PortError> {
        self.revoke_listed(id).await?;
        match self.families.revoke(id).await {
            Ok(()) | Err(PortError::NotFound) => Ok(()),
            Err(other) => Err(other),
        }
    }

    /// Revokes a family known to exist, store first: if the revocation list cannot be
    /// written, no refresh token of the family works any more all the same (refreshing
    /// needs only the store), and presenting one of them again completes the revocation.
    pub(super) async fn revoke_existing_family(&self, id: &FamilyId) -> Result<(), PortError> {
        match self.families.revoke(id).await {
            Ok(()) | Err(PortError::NotFound) => {}
            Err(other) => return Err(other),
        }
        self.revoke_listed(id).await
    }

    /// Puts the family on the revocation list, so its access tokens stop validating.
    pub(super) async fn revoke_listed(&self, id: &FamilyId) -> Result<(), PortError> {
        let until = self.clock.now() + self.settings.access_ttl + self.settings.leeway;
        self.revocations
            .revoke(&RevocationEntry::Family(id.as_str().to_owned()), until)
            .await
    }

    /// Whether the family `id` was revoked within the last access-token lifetime (it is on
    /// the revocation list), even if that happened before the family existed.
    pub async fn family_revoked(&self, id: &FamilyId) -> Result<bool, PortError> {
        self.revocations
            .any_revoked(&[RevocationEntry::Family(id.as_str().to_owned())])
            .await
    }

    /// Ends every session `user` opened through `idp` (SAML single logout): their refresh
    /// tokens stop working and the access tokens issued from them stop validating at once.
    /// The access tokens are listed before the families are marked: when listing fails,
    /// nothing is marked, and the IdP's retry finds the same sessions to end (marked first,
    /// a retry would find none and their access tokens would stay valid).
    pub async fn revoke_sessions(&self, user: UserId, idp: &str) -> Result<usize, PortError> {
        let until = self.clock.now() + self.settings.access_ttl + self.settings.leeway;
        end_sessions(
            self.families.as_ref(),
            self.revocations.as_ref(),
            until,
            user,
            idp,
        )
        .await
    }

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

/// Ends every session `user` opened through `idp`, as [`TokenService::revoke_sessions`] does
/// (the access tokens listed first, then the families marked); revocation-list entries last
/// until `until`. The number of sessions ended.
pub async fn end_sessions(
    families: &dyn RefreshFamilyStore,
    revocations: &dyn RevocationList,
    until: DateTime<Utc>,
    user: UserId,
    idp: &str,
) -> Result<usize, PortError> {
    let entry = |id: &FamilyId| RevocationEntry::Family(id.as_str().to_owned());
    let live = families.live_for(user, idp).await?;
    for id in &live {
        revocations.revoke(&entry(id), until).await?;
    }
    let ids = families.revoke_all_for(user, idp).await?;
    // A session that began in between is listed too.
    for id in ids.iter().filter(|id| !live.contains(id)) {
        revocations.revoke(&entry(id), until).await?;
    }
    Ok(ids.len())
}

/// Ends every session of `user`, through every provider (an operator signing someone out).
/// A run that failed half-way leaves the rest for the next, except a session that began
/// during it and was marked before its list entry could be written.
pub async fn end_all_sessions(
    families: &dyn RefreshFamilyStore,
    revocations: &dyn RevocationList,
    until: DateTime<Utc>,
    user: UserId,
) -> Result<usize, PortError> {
    let mut ended = 0;
    for idp in families.live_idps_for(user).await? {
        ended += end_sessions(families, revocations, until, user, &idp).await?;
    }
    Ok(ended)
}
