//! `/me/groups`, `/me/groups/{internal_uuid}/members` and `/oauth2/providers/{idp}/groups`.

use chrono::SecondsFormat;
use poem_openapi::OpenApi;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;

use super::HttpState;
use super::dto::{
    GroupMemberDto, GroupMembersDto, GroupMembershipDto, MyGroupsDto, ProviderGroupDto,
    ProviderGroupsDto,
};
use super::error::{ApiError, group_error};
use super::me::BearerAuth;
use crate::domain::groups::{Group, Member};
use crate::domain::login::params::is_valid_provider_id;
use crate::domain::user::is_plausible_email;

/// The contract's limit on `groups` in `/me` and `/me/groups`.
pub const MAX_MY_GROUPS: usize = 100;

/// Groups as the contract's `UserGroupMembership`.
pub fn membership_dtos(groups: Vec<Group>) -> Vec<GroupMembershipDto> {
    groups
        .into_iter()
        .take(MAX_MY_GROUPS)
        .map(|g| GroupMembershipDto {
            internal_uuid: g.id.to_string(),
            group_name: g.name,
            name: g.display_name,
        })
        .collect()
}

/// The group endpoints.
pub struct GroupsApi {
    state: HttpState,
}

impl GroupsApi {
    /// Wires the API.
    pub fn new(state: HttpState) -> Self {
        Self { state }
    }
}

#[OpenApi]
impl GroupsApi {
    /// The TMI-managed groups the caller is a direct member of.
    #[oai(path = "/me/groups", method = "get", operation_id = "listMyGroups")]
    async fn my_groups(&self, auth: BearerAuth) -> Result<Json<MyGroupsDto>, ApiError> {
        let (_, user) = self.state.tokens.authenticate_user(&auth.0.token).await?;
        let groups = self
            .state
            .groups
            .my_groups(user.id)
            .await
            .map_err(|e| group_error(e.into()))?;
        let total = i64::try_from(groups.len()).unwrap_or(i64::MAX);
        Ok(Json(MyGroupsDto {
            groups: membership_dtos(groups),
            total,
        }))
    }

    /// Members of a group the caller effectively belongs to (audit fields redacted).
    #[oai(
        path = "/me/groups/:internal_uuid/members",
        method = "get",
        operation_id = "listMyGroupMembers"
    )]
    async fn members(
        &self,
        auth: BearerAuth,
        internal_uuid: Path<String>,
        limit: Query<Option<i64>>,
        offset: Query<Option<i64>>,
    ) -> Result<Json<GroupMembersDto>, ApiError> {
        let (claims, user) = self.state.tokens.authenticate_user(&auth.0.token).await?;
        let page = self
            .state
            .groups
            .members(
                user.id,
                &claims.idp,
                &claims.groups,
                &internal_uuid.0,
                limit.0,
                offset.0,
            )
            .await
            .map_err(group_error)?;
        let group = page.group.to_string();
        let members = page
            .members
            .into_iter()
            .map(|view| {
                let m = view.membership;
                let user = view.user;
                let is_user = matches!(m.member, Member::User(_));
                GroupMemberDto {
                    id: m.id.hyphenated().to_string(),
                    group_internal_uuid: group.clone(),
                    subject_type: if is_user { "user" } else { "group" }.to_owned(),
                    user_internal_uuid: match m.member {
                        Member::User(id) => Some(id.to_string()),
                        Member::Group(_) => None,
                    },
                    user_email: user
                        .as_ref()
                        .map(|u| u.email.clone())
                        .filter(|e| is_plausible_email(e)),
                    user_name: user.as_ref().map(|u| u.name.clone()),
                    user_provider: user.as_ref().map(|u| u.provider.clone()),
                    user_provider_user_id: user.as_ref().map(|u| u.provider_user_id.clone()),
                    member_group_internal_uuid: match m.member {
                        Member::Group(id) => Some(id.to_string()),
                        Member::User(_) => None,
                    },
                    member_group_name: view.group.map(|g| g.display_name.unwrap_or(g.name)),
                    added_at: m.added_at.to_rfc3339_opts(SecondsFormat::Secs, true),
                    added_by_internal_uuid: None,
                    added_by_email: None,
                    notes: None,
                }
            })
            .collect();
        Ok(Json(GroupMembersDto {
            members,
            total: i64::try_from(page.total).unwrap_or(i64::MAX),
            limit: page.limit,
            offset: page.offset,
        }))
    }

    /// Groups an identity provider has asserted at login, for autocomplete.
    #[oai(
        path = "/oauth2/providers/:idp/groups",
        method = "get",
        operation_id = "getProviderGroups"
    )]
    async fn provider_groups(
        &self,
        auth: BearerAuth,
        idp: Path<String>,
    ) -> Result<Json<ProviderGroupsDto>, ApiError> {
        self.state.tokens.authenticate_user(&auth.0.token).await?;
        if !is_valid_provider_id(&idp.0) {
            return Err(ApiError::bad_request("invalid_request", "idp is malformed"));
        }
        if self.state.login.providers().get(&idp.0).is_none()
            && self.state.login.saml_providers().get(&idp.0).is_none()
        {
            return Err(ApiError::not_found("unknown identity provider"));
        }
        let groups = self
            .state
            .groups
            .provider_groups(&idp.0)
            .await
            .map_err(|e| group_error(e.into()))?
            .into_iter()
            .take(1000)
            .map(|g| ProviderGroupDto {
                display_name: Some(g.display_name.unwrap_or_else(|| g.name.clone())),
                name: g.name,
                used_in_authorizations: false,
            })
            .collect();
        Ok(Json(ProviderGroupsDto { idp: idp.0, groups }))
    }
}
