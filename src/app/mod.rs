//! The application shell: configuration, wiring, telemetry and the command line. `anyhow` is
//! allowed here and nowhere else.

pub mod admin;
mod backends;
pub mod banner;
pub mod cli;
pub mod config;
mod key_files;
pub mod providers;
pub mod startup;
pub mod telemetry;

pub use config::{Config, ConfigError, Mode};
pub use startup::{Application, Overrides};
