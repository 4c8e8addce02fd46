//! Logging setup: pretty logs in demo mode, JSON lines in production, filter from `RUST_LOG`
//! or the configuration. Logs go to stderr; the start-up banner goes to stdout.
//!
//! A plain level (`info`, `warn`, ...) is applied as a level filter; only richer directives
//! (`tmi_auth=debug,poem=warn`) build an `EnvFilter`, whose directive parser compiles regexes —
//! memory an idle server need not hold.

use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::prelude::*;
use tracing_subscriber::{EnvFilter, fmt};

use super::config::LogFormat;

/// Installs the global subscriber. Calling it twice is harmless.
pub fn init(format: LogFormat, level: &str) {
    let directive = std::env::var("RUST_LOG")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| level.to_owned());
    let (simple, rich) = match directive.trim().parse::<LevelFilter>() {
        Ok(max) => (Some(max), None),
        Err(_) => (
            None,
            Some(EnvFilter::try_new(&directive).unwrap_or_else(|_| EnvFilter::new("info"))),
        ),
    };
    let output = match format {
        LogFormat::Json => fmt::layer()
            .json()
            .with_current_span(true)
            .with_writer(std::io::stderr)
            .boxed(),
        LogFormat::Pretty => fmt::layer().compact().with_writer(std::io::stderr).boxed(),
    };
    let _ = tracing_subscriber::registry()
        .with(output)
        .with(simple)
        .with(rich)
        .try_init();
}
