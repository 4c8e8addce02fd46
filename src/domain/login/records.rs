//! What the flow store keeps between the steps of a login (serialised as JSON).

use serde::{Deserialize, Serialize};

/// A pending `/oauth2/authorize` flow, keyed by a digest of our upstream `state`.
#[derive(Clone, Serialize, Deserialize)]
pub struct PendingLogin {
    /// Provider id.
    pub idp: String,
    /// Where the client wants our code delivered (already allow-listed).
    pub client_callback: Option<String>,
    /// The client's own state, echoed back.
    pub client_state: Option<String>,
    /// The client's S256 challenge.
    pub code_challenge: String,
    /// Granted scopes.
    pub scope: String,
    /// Normalised login hint.
    pub login_hint: Option<String>,
    /// Our nonce towards the provider.
    pub nonce: String,
    /// Our PKCE verifier towards the provider (secret).
    pub upstream_verifier: String,
}

/// One of our authorization codes, keyed by a digest of the code.
#[derive(Clone, Serialize, Deserialize)]
pub struct IssuedCode {
    /// The user the code was issued to (internal UUID).
    pub user_id: uuid::Uuid,
    /// Provider that authenticated the user.
    pub idp: String,
    /// Granted scopes.
    pub scope: String,
    /// Groups asserted by the provider.
    pub groups: Vec<String>,
    /// The client's S256 challenge.
    pub code_challenge: String,
    /// The callback the code was delivered to.
    pub client_callback: Option<String>,
    /// When the user authenticated (seconds since the epoch).
    pub auth_time: i64,
    /// When the code stops being redeemable (seconds since the epoch).
    pub expires_at: i64,
}

/// A pending SAML AuthnRequest, keyed by a digest of its RelayState.
#[derive(Clone, Serialize, Deserialize)]
pub struct PendingSaml {
    /// Provider id.
    pub idp: String,
    /// The AuthnRequest ID the response must answer.
    pub request_id: String,
    /// Where the client wants our code delivered (already allow-listed).
    pub client_callback: Option<String>,
    /// The client's own state, echoed back.
    pub client_state: Option<String>,
    /// The client's S256 challenge (empty without a client callback).
    pub code_challenge: String,
}

/// Marker left behind by a redeemed code, naming the family its tokens belong to.
#[derive(Clone, Serialize, Deserialize)]
pub struct RedeemedCode {
    /// Family id.
    pub family: String,
}
