//! Adapters: one folder per technology, each implementing ports from [`crate::ports`].
//!
//! - `system`: the real clock and a CSPRNG-backed id generator.
//! - `memory`: in-memory implementations of every storage port (demo mode and tests).
//! - `builtin`: the built-in `tmi` identity provider (demo/dev only).
//! - `oidc`: upstream OpenID Connect and OAuth2 identity providers.
//! - `http`: the poem-openapi HTTP API.

pub mod builtin;
pub mod http;
pub mod memory;
pub mod observability;
pub mod oidc;
pub mod postgres;
pub mod redis;
pub mod saml;
pub mod system;
