//! The domain: pure rules for users, login flows, PKCE, access tokens and refresh-token
//! families. It talks to the world only through the traits in [`crate::ports`] and imports no
//! infrastructure (no HTTP, SQL, Redis or upstream-protocol crates); a test guards that.

pub mod access;
pub mod credentials;
pub mod encoding;
pub mod groups;
pub mod login;
pub mod pkce;
pub mod providers;
pub mod rate;
pub mod text;
pub mod tokens;
pub mod user;
