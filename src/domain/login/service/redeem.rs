//! The `authorization_code` grant: redeeming our own codes.

use super::*;

impl LoginService {
    /// The `authorization_code` grant: PKCE in constant time, single use, and a replayed code
    /// revokes the tokens issued from it (RFC 6749 §4.1.2).
    #[tracing::instrument(skip_all)]
    pub async fn redeem_code(
        &self,
        code: Option<&str>,
        code_verifier: Option<&str>,
        redirect_uri: Option<&str>,
    ) -> Result<TokenPair, GrantError> {
        const BAD_CODE: &str = "the authorization code is invalid, expired or already used";
        let code = match code {
            Some(c) if !c.is_empty() => c,
            _ => return Err(GrantError::InvalidRequest("code is required".into())),
        };
        let verifier = match code_verifier {
            Some(v) if !v.is_empty() => CodeVerifier::parse(v).map_err(|_| {
                GrantError::InvalidRequest(
                    "code_verifier must be 43-128 characters of [A-Za-z0-9-._~]".into(),
                )
            })?,
            _ => {
                return Err(GrantError::InvalidRequest(
                    "code_verifier is required (PKCE)".into(),
                ));
            }
        };
        // Required, as the contract and RFC 6749 §4.1.3 say (every code of ours was issued to
        // a client_callback); checked before the code is spent.
        let redirect_uri = match redirect_uri.map(str::trim) {
            Some(uri) if !uri.is_empty() => uri,
            _ => {
                return Err(GrantError::InvalidRequest(
                    "redirect_uri is required: the client_callback of the authorization request"
                        .into(),
                ));
            }
        };
        if code.len() > MAX_CODE_LEN {
            return Err(GrantError::InvalidGrant(BAD_CODE));
        }
        let key = digest_key(code);
        // The redeemed marker goes in before the code is taken, naming the family this
        // redemption will create. Any other redemption of the code, even one racing this one,
        // finds the marker and revokes that family, and this one checks for that below once
        // the family exists (RFC 6749 §4.1.2: a code used twice revokes its tokens).
        let family = self.tokens.new_family_id()?;
        let marker = serde_json::to_vec(&RedeemedCode {
            family: family.as_str().to_owned(),
        })
        .map_err(|e| GrantError::Unexpected(e.to_string()))?;
        let ttl = self
            .settings
            .flow_ttl
            .to_std()
            .map_err(|e| GrantError::Unexpected(e.to_string()))?;
        match self
            .flows
            .put(FlowKind::RedeemedCode, &key, marker, ttl)
            .await
        {
            Ok(()) => {}
            Err(PortError::AlreadyExists) => {
                let redeemed = self
                    .get::<RedeemedCode>(FlowKind::RedeemedCode, &key)
                    .await?;
                if let Some(family) = redeemed.and_then(|r| FamilyId::parse(&r.family)) {
                    tracing::warn!(
                        family = family.as_str(),
                        "authorization code replayed; revoking its tokens"
                    );
                    self.tokens.revoke_family(&family).await?;
                }
                return Err(GrantError::InvalidGrant(BAD_CODE));
            }
            Err(other) => return Err(other.into()),
        }
        // Not a code of ours (or expired), or the store failed before the code was consumed
        // (the client may retry): the marker guards nothing, so it goes.
        let forget_marker = async {
            if let Err(err) = self.flows.take(FlowKind::RedeemedCode, &key).await {
                tracing::warn!(error = %err, "could not remove a redeemed-code marker");
            }
        };
        let issued = match self.take::<IssuedCode>(FlowKind::Code, &key).await {
            Ok(Some(issued)) => issued,
            Ok(None) => {
                forget_marker.await;
                return Err(GrantError::InvalidGrant(BAD_CODE));
            }
            Err(err) => {
                forget_marker.await;
                return Err(err.into());
            }
        };
        let now = self.clock.now();
        if now.timestamp() >= issued.expires_at {
            return Err(GrantError::InvalidGrant(BAD_CODE));
        }
        let challenge = CodeChallenge::parse(&issued.code_challenge)
            .map_err(|_| GrantError::Unexpected("stored challenge is malformed".into()))?;
        if !challenge.is_satisfied_by(&verifier) {
            return Err(GrantError::InvalidGrant(
                "code_verifier does not match the code_challenge",
            ));
        }
        if let Some(expected) = issued.client_callback.as_deref() {
            let same = Url::parse(redirect_uri).is_ok_and(|u| u.as_str() == expected);
            if !same {
                return Err(GrantError::InvalidGrant(
                    "redirect_uri does not match the authorization request",
                ));
            }
        }
        let user = self
            .users
            .find_by_id(UserId::from_uuid(issued.user_id))
            .await?
            .ok_or(GrantError::InvalidGrant(BAD_CODE))?;
        let pair = self
            .tokens
            .issue_for_login(
                LoginSession {
                    user,
                    idp: issued.idp,
                    scope: issued.scope,
                    auth_time: from_unix(issued.auth_time),
                    groups: issued.groups,
                },
                family.clone(),
            )
            .await?;
        // A replay that raced this redemption revoked the family, maybe before it existed.
        if self.tokens.family_revoked(&family).await? {
            tracing::warn!(
                family = family.as_str(),
                "authorization code replayed during its redemption; revoking its tokens"
            );
            self.tokens.revoke_family(&family).await?;
            return Err(GrantError::InvalidGrant(BAD_CODE));
        }
        self.events.record(AuditEvent::TokenIssued {
            grant: "authorization_code",
            subject: issued.user_id.to_string(),
        });
        Ok(pair)
    }
}
