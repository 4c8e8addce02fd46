//! A JSON response payload serialized straight from the DTO with serde.
//!
//! poem-openapi's `Json<T>` turns the DTO into a `serde_json::Value` tree first and serializes
//! that, which allocates a map and a copy of every string. The token and introspection
//! responses are on the hot path of the `client_credentials` grant and of resource servers,
//! so they use this payload instead. It documents exactly like `Json<T>` (same content type
//! and schema); DTOs using it derive `serde::Serialize` with the same field names and
//! omissions as their `Object` derive, which the tests below check.

use poem::{IntoResponse, Response};
use poem_openapi::ApiResponse;
use poem_openapi::payload::Payload;
use poem_openapi::registry::{MetaMediaType, MetaResponse, MetaResponses, MetaSchemaRef, Registry};
use poem_openapi::types::Type;
use serde::Serialize;

const CONTENT_TYPE: &str = "application/json; charset=utf-8";

/// A `200 application/json` response body serialized directly with serde.
#[derive(Debug, Clone)]
pub struct SerdeJson<T>(pub T);

impl<T: Type> Payload for SerdeJson<T> {
    const CONTENT_TYPE: &'static str = CONTENT_TYPE;

    fn check_content_type(content_type: &str) -> bool {
        content_type.starts_with("application/json")
    }

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

impl<T: Serialize + Send> IntoResponse for SerdeJson<T> {
    fn into_response(self) -> Response {
        match serde_json::to_vec(&self.0) {
            Ok(body) => Response::builder().content_type(CONTENT_TYPE).body(body),
            Err(err) => {
                super::ApiError::internal(&format!("response serialization: {err}")).into_response()
            }
        }
    }
}

impl<T: Type + Serialize + Send> ApiResponse for SerdeJson<T> {
    fn meta() -> MetaResponses {
        MetaResponses {
            responses: vec![MetaResponse {
                description: "",
                status: Some(200),
                status_range: None,
                content: vec![MetaMediaType {
                    content_type: <Self as Payload>::CONTENT_TYPE,
                    schema: <Self as Payload>::schema_ref(),
                }],
                headers: vec![],
            }],
        }
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

#[cfg(test)]
mod tests {
    use poem_openapi::types::ToJSON;

    use super::super::dto::{IntrospectionDto, TokenResponseDto};
    use super::*;

    /// The serde body equals what poem-openapi's `Json<T>` would send.
    fn same_as_openapi_json<T: ToJSON + Serialize + Send>(dto: T) {
        let expected = dto.to_json().expect("a JSON value");
        let body = SerdeJson(dto).into_response().into_body();
        let bytes = futures_lite_block_on(body.into_bytes()).expect("body");
        let actual: serde_json::Value = serde_json::from_slice(&bytes).expect("JSON");
        assert_eq!(actual, expected);
    }

    fn futures_lite_block_on<F: std::future::Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
            .block_on(future)
    }

    #[test]
    fn token_response_matches_the_openapi_serialization() {
        same_as_openapi_json(TokenResponseDto {
            access_token: "a.b.c".into(),
            refresh_token: String::new(),
            token_type: "Bearer".into(),
            expires_in: 900,
        });
    }

    #[test]
    fn introspection_matches_the_openapi_serialization() {
        same_as_openapi_json(IntrospectionDto::default());
        same_as_openapi_json(IntrospectionDto {
            active: true,
            sub: Some("sa:1:2".into()),
            email: Some("a@b.c".into()),
            name: Some("\"quoted\" \u{1F600}".into()),
            exp: Some(2),
            iat: Some(1),
            iss: Some("https://auth.example".into()),
            token_type: Some("Bearer".into()),
            scope: None,
        });
    }

    #[test]
    fn content_type_is_json() {
        let resp = SerdeJson(IntrospectionDto::default()).into_response();
        assert_eq!(resp.content_type(), Some("application/json; charset=utf-8"));
    }
}
