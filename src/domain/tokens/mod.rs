//! Our own tokens: JWT access tokens signed with keys from the key store, PASETO v4.local
//! refresh tokens bound to server-side families, and the service that issues, rotates,
//! validates and revokes them.

pub mod claims;
pub mod error;
pub mod family;
pub mod jwt;
pub mod keys;
pub mod refresh;
pub mod ring;
pub mod service;
pub mod signer;

pub use error::{AuthError, GrantError};
pub use service::{LoginSession, TokenPair, TokenService, TokenSettings};
