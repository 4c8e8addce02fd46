//! Machine-to-machine client credentials (DECISIONS.md, "Client credentials"): creation with
//! validation and a per-user quota, the `client_credentials` grant with constant-time secret
//! checks and per-client backoff, and deletion that revokes every token issued from the
//! credential.

pub mod error;
pub mod model;
pub mod pepper;
pub mod service;

pub use error::CredentialError;
pub use model::{ClientCredential, ClientId, CredentialName, NewCredential};
pub use pepper::{Pepper, Peppers};
pub use service::{CredentialService, CredentialSettings, IssuedCredential};
