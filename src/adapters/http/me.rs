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
        Ok(Json(MeDto {
            principal_type: "user".to_owned(),
            provider: user.provider,
            provider_id: user.provider_user_id,
            display_name: user.name,
            email: user.email,
            is_admin: entitlements.is_admin,
            is_security_reviewer: entitlements.is_security_reviewer,
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
