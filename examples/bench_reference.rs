//! The reference for `bench/run.sh`: a bare poem server whose handlers only parse the same
//! form bodies as `/oauth2/token` and `/oauth2/introspect` and answer with JSON of the same
//! shape, with no authentication, storage or crypto. The benchmark reports tmi-auth's
//! throughput as a ratio of this one, measured in the same run.

use std::collections::HashMap;

use poem::listener::TcpListener;
use poem::web::{Form, Json};
use poem::{Route, Server, handler, post};
use serde_json::{Value, json};

#[handler]
fn token(Form(form): Form<HashMap<String, String>>) -> Json<Value> {
    Json(json!({
        "access_token": form.get("client_id").cloned().unwrap_or_default(),
        "refresh_token": "",
        "token_type": "Bearer",
        "expires_in": 900,
    }))
}

#[handler]
fn introspect(Form(form): Form<HashMap<String, String>>) -> Json<Value> {
    Json(json!({ "active": form.contains_key("token") }))
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:18090".to_owned());
    let app = Route::new()
        .at("/oauth2/token", post(token))
        .at("/oauth2/introspect", post(introspect));
    Server::new(TcpListener::bind(addr)).run(app).await
}
