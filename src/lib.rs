//! tmi-auth: an authentication broker implementing the TMI Authentication API.
//!
//! Layout (ports and adapters):
//! - [`domain`]: pure rules — users, login flows, PKCE, JWT access tokens, refresh families.
//! - [`ports`]: the traits the domain needs (storage, clock, ids, keys, identity providers).
//! - [`adapters`]: implementations — memory, system, built-in provider, HTTP (poem-openapi).
//! - [`app`]: configuration, wiring ([`app::Application`]), telemetry and the CLI.

pub mod adapters;
pub mod app;
pub mod domain;
pub mod ports;
