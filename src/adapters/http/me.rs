//! `/me` and `/oauth2/userinfo`: the authenticated user's profile.

use poem_openapi::auth::Bearer;
use poem_openapi::payload::Json;
use poem_openapi::{OpenApi, SecurityScheme};

use super::HttpState;
use super::dto::{MeDto, UserInfoDto};
use super::error::{ApiError, group_error};
use super::groups::membership_dtos;
use crate::domain::user::is_plausible_email;
use crate::ports::PortError;

/// JWT bearer authentication (RFC 6750).
#[derive(SecurityScheme)]
#[oai(ty = "bearer", bearer_format = "JWT", rename = "bearerAuth")]
pub struct BearerAuth(pub Bearer);

/// The profile endpoints.
pub struct MeApi {
    state: HttpState,
}

impl MeApi {
    /// Wires the API.
    pub fn new(state: HttpState) -> Self {
        Self { state }
    }
}

#[OpenApi]
impl MeApi {
    /// Current user profile.
    #[oai(path = "/me", method = "get", operation_id = "getCurrentUserProfile")]
    async fn me(&self, auth: BearerAuth) -> Result<Json<MeDto>, ApiError> {
        let (claims, user) = self.state.tokens.authenticate_user(&auth.0.token).await?;
        let map = |e: PortError| group_error(e.into());
        let entitlements = self
            .state
            .groups
            .entitlements(user.id, &claims.idp, &claims.groups)
            .await
            .map_err(map)?;
        let groups = self.state.groups.my_groups(user.id).await.map_err(map)?;
        // A service token speaks for its owner, but never with the owner's roles: its claims
        // say `tmi_is_administrator: false` (a leaked pipeline secret is no administrator), and
        // /me must not tell a resource server otherwise.
        let service = claims.client_id.is_some();
        Ok(Json(MeDto {
            principal_type: "user".to_owned(),
            provider: user.provider,
            provider_id: contract_provider_id(&user.provider_user_id),
            display_name: user.name,
            email: user.email,
            is_admin: entitlements.is_admin && !service,
            is_security_reviewer: entitlements.is_security_reviewer && !service,
            groups: membership_dtos(groups),
        }))
    }

    /// Current user information (OIDC userinfo).
    #[oai(
        path = "/oauth2/userinfo",
        method = "get",
        operation_id = "getCurrentUser"
    )]
    async fn userinfo(&self, auth: BearerAuth) -> Result<Json<UserInfoDto>, ApiError> {
        let (claims, user) = self.state.tokens.authenticate_user(&auth.0.token).await?;
        Ok(Json(UserInfoDto {
            sub: claims.sub,
            email: Some(user.email).filter(|e| is_plausible_email(e)),
            name: Some(user.name),
            idp: Some(user.provider),
            groups: claims.groups,
        }))
    }
}

/// The contract's `Principal.provider_id` may hold none of `<>"'&` (pattern `^[^<>"'&]*$`,
/// at most 500 characters), but a provider's subject may (an OIDC `sub` is any string, a SAML
/// NameID any text). Those characters and `%` are percent-encoded, so distinct subjects stay
/// distinct; the stored subject is unchanged. Only a subject made mostly of them is cut short.
fn contract_provider_id(subject: &str) -> String {
    const MAX_CHARS: usize = 500;
    let mut out = String::with_capacity(subject.len());
    let mut chars = 0;
    for c in subject.chars() {
        let escaped = match c {
            '%' => "%25",
            '<' => "%3C",
            '>' => "%3E",
            '"' => "%22",
            '\'' => "%27",
            '&' => "%26",
            _ => {
                if chars == MAX_CHARS {
                    break;
                }
                out.push(c);
                chars += 1;
                continue;
            }
        };
        if chars + escaped.len() > MAX_CHARS {
            break;
        }
        out.push_str(escaped);
        chars += escaped.len();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::contract_provider_id;

    #[test]
    fn provider_ids_are_escaped_to_the_contracts_pattern() {
        assert_eq!(
            contract_provider_id("alice@example.com"),
            "alice@example.com"
        );
        assert_eq!(
            contract_provider_id(r#"o'brien&co <"x"> 100%"#),
            "o%27brien%26co %3C%22x%22%3E 100%25"
        );
        // Escaping keeps distinct subjects distinct.
        assert_ne!(contract_provider_id("a&b"), contract_provider_id("a%26b"));
        let long = contract_provider_id(&"&".repeat(256));
        assert_eq!(long.len(), 498, "whole escapes only, within 500");
        assert!(long.chars().all(|c| !"<>\"'&".contains(c)));
        // The limit counts characters, not bytes.
        let wide = "\u{6f22}".repeat(256);
        assert_eq!(contract_provider_id(&wide), wide);
    }
}
