//! `/me/client_credentials`: create, list and delete the caller's client credentials.

use chrono::{DateTime, SecondsFormat, Utc};
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi};
use secrecy::ExposeSecret;

use super::HttpState;
use super::dto::{
    ClientCredentialInfoDto, ClientCredentialResponseDto, CreateCredentialDto, ListCredentialsDto,
};
use super::error::{ApiError, credential_error};
use super::me::BearerAuth;
use crate::domain::user::User;

fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The client-credential endpoints.
pub struct CredentialsApi {
    state: HttpState,
}

impl CredentialsApi {
    /// Wires the API.
    pub fn new(state: HttpState) -> Self {
        Self { state }
    }

    /// The calling user. Client-credential tokens may not manage credentials: 403 where the
    /// contract documents it (create), 401 elsewhere (list and delete document no 403).
    async fn user(&self, auth: &BearerAuth, forbidden_documented: bool) -> Result<User, ApiError> {
        let (claims, user) = self.state.tokens.authenticate_user(&auth.0.token).await?;
        if claims.client_id.is_some() {
            const WHY: &str = "client-credential tokens cannot manage client credentials";
            return Err(if forbidden_documented {
                ApiError::forbidden("forbidden", WHY)
            } else {
                ApiError::invalid_token(WHY)
            });
        }
        Ok(user)
    }
}

/// 201.
#[derive(ApiResponse)]
pub enum Created {
    /// Created; the secret is shown only here.
    #[oai(status = 201)]
    Created(Json<ClientCredentialResponseDto>),
}

/// 204.
#[derive(ApiResponse)]
pub enum Deleted {
    /// Deleted.
    #[oai(status = 204)]
    NoContent,
}

#[OpenApi]
impl CredentialsApi {
    /// Create a client credential (the secret is returned once).
    #[oai(
        path = "/me/client_credentials",
        method = "post",
        operation_id = "createCurrentUserClientCredential"
    )]
    async fn create(
        &self,
        auth: BearerAuth,
        body: Json<CreateCredentialDto>,
    ) -> Result<Created, ApiError> {
        let user = self.user(&auth, true).await?;
        let body = body.0;
        let issued = self
            .state
            .credentials
            .create(
                user.id,
                body.name.as_str(),
                body.description.as_deref(),
                body.expires_at.as_deref(),
            )
            .await
            .map_err(|e| credential_error(e, false))?;
        let c = issued.credential;
        Ok(Created::Created(Json(ClientCredentialResponseDto {
            id: c.id.hyphenated().to_string(),
            client_id: c.client_id.as_str().to_owned(),
            client_secret: issued.secret.expose_secret().to_owned(),
            name: c.name,
            description: c.description,
            created_at: rfc3339(c.created_at),
            expires_at: c.expires_at.map(rfc3339),
        })))
    }

    /// List the caller's client credentials, newest first (never a secret).
    #[oai(
        path = "/me/client_credentials",
        method = "get",
        operation_id = "listCurrentUserClientCredentials"
    )]
    async fn list(
        &self,
        auth: BearerAuth,
        limit: Query<Option<i64>>,
        offset: Query<Option<i64>>,
    ) -> Result<Json<ListCredentialsDto>, ApiError> {
        let user = self.user(&auth, false).await?;
        let page = self
            .state
            .credentials
            .list(user.id, limit.0, offset.0)
            .await
            .map_err(|e| credential_error(e, false))?;
        let credentials = page
            .items
            .into_iter()
            .map(|listed| (listed.credential, listed.active))
            .map(|(c, active)| ClientCredentialInfoDto {
                is_active: active,
                id: c.id.hyphenated().to_string(),
                client_id: c.client_id.as_str().to_owned(),
                name: c.name,
                description: c.description,
                last_used_at: c.last_used_at.map(rfc3339),
                created_at: rfc3339(c.created_at),
                modified_at: rfc3339(c.modified_at),
                expires_at: c.expires_at.map(rfc3339),
            })
            .collect();
        Ok(Json(ListCredentialsDto {
            credentials,
            total: i64::try_from(page.total).unwrap_or(i64::MAX),
            limit: page.limit,
            offset: page.offset,
        }))
    }

    /// Delete one of the caller's client credentials; its tokens stop working at once.
    #[oai(
        path = "/me/client_credentials/:id",
        method = "delete",
        operation_id = "deleteCurrentUserClientCredential"
    )]
    async fn delete(&self, auth: BearerAuth, id: Path<String>) -> Result<Deleted, ApiError> {
        let user = self.user(&auth, false).await?;
        self.state
            .credentials
            .delete(user.id, &id.0)
            .await
            .map_err(|e| credential_error(e, false))?;
        Ok(Deleted::NoContent)
    }
}
