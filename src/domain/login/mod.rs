//! The login flow (DECISIONS.md, "The flow"): `/oauth2/authorize` validates and stores a
//! pending flow, `/oauth2/callback` consumes it exactly once and mints our own single-use
//! authorization code, and the `authorization_code` grant redeems that code with PKCE.

pub mod callback_url;
pub mod error;
pub mod params;
pub mod records;
pub mod service;

pub use callback_url::CallbackAllowList;
pub use error::LoginError;
pub use params::{AuthorizeParams, LoginHint, Scope};
pub use service::{CallbackOutcome, LoginService, LoginSettings, SamlLoginParams, SloOutcome};
