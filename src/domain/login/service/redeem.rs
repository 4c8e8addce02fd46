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
        if code.len() > MAX_CODE_LEN {
            return Err(GrantError::InvalidGrant(BAD_CODE));
        }
        let key = digest_key(code);
        let Some(issued) = self.take::<IssuedCode>(FlowKind::Code, &key).await? else {
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
        if let (Some(given), Some(expected)) = (redirect_uri, issued.client_callback.as_deref()) {
            let same = Url::parse(given.trim()).is_ok_and(|u| u.as_str() == expected);
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
            .issue_for_login(LoginSession {
                user,
                idp: issued.idp,
                scope: issued.scope,
                auth_time: from_unix(issued.auth_time),
                groups: issued.groups,
            })
            .await?;
        self.events.record(AuditEvent::TokenIssued {
            grant: "authorization_code",
            subject: issued.user_id.to_string(),
        });
        let marker = RedeemedCode {
            family: pair.family.as_str().to_owned(),
        };
        match self
            .put(
                FlowKind::RedeemedCode,
                &key,
                &marker,
                self.settings.flow_ttl,
            )
            .await
        {
            Ok(()) => {}
            Err(err) => tracing::warn!(error = %err, "could not record the redeemed code"),
        }
        Ok(pair)
    }
}
