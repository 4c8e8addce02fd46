//! Logging setup: pretty logs in demo mode, JSON lines in production, filter from config or
//! `RUST_LOG`. Logs go to stderr; the start-up banner goes to stdout.

use tracing_subscriber::EnvFilter;

use super::config::LogFormat;

/// Installs the global subscriber. Calling it twice is harmless.
pub fn init(format: LogFormat, level: &str) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().with_current_span(true).try_init(),
        LogFormat::Pretty => builder.compact().try_init(),
    };
}
