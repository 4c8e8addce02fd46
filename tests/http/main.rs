//! Black-box HTTP scenarios: a real server on a loopback socket, built by the same
//! `Application::build_with` as `main`. Every response body is validated against the
//! contract in `../shared/contract/`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod algorithms;
mod ambiguous;
mod bodies;
mod cli;
mod cli_storage;
mod credentials;
mod discovery;
mod errors;
mod flow;
mod groups;
mod hygiene;
mod limits;
mod outage;
mod refresh;
mod replicas;
mod revocation;
mod saml;
mod support;
mod tokens;
pub mod upstream;
