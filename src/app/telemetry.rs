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

/// A filter directive with each comma-separated part trimmed and empty parts dropped
/// (`info, sqlx=warn` is what people write; tracing's parser would refuse the space).
pub fn normalize_level(level: &str) -> String {
    level
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .collect::<Vec<_>>()
        .join(",")
}

/// Checks a `log.level` value: a level (`trace` … `error`, `off`) or comma-separated
/// `target=level` directives. A bare word that is not a level would be read as a target name
/// and switch every other log line off, audit events included.
pub fn check_level(level: &str) -> Result<(), String> {
    const HELP: &str = "expected a level (trace, debug, info, warn, error, off) or \
                        comma-separated target=level directives";
    let level = normalize_level(level);
    if level.is_empty() {
        return Err(HELP.to_owned());
    }
    if level.parse::<LevelFilter>().is_ok() {
        return Ok(());
    }
    let each_directive_has_a_level = level.split(',').all(|d| {
        d.parse::<LevelFilter>().is_ok()
            || d.rsplit_once('=').is_some_and(|(target, lvl)| {
                !target.is_empty() && !lvl.is_empty() && lvl.parse::<LevelFilter>().is_ok()
            })
    });
    if each_directive_has_a_level && EnvFilter::try_new(&level).is_ok() {
        Ok(())
    } else {
        Err(HELP.to_owned())
    }
}

/// Whether a (checked) `log.level` sets an overall level: `tmi_auth=debug` alone leaves every
/// other target, audit events included, switched off.
pub fn has_overall_level(level: &str) -> bool {
    normalize_level(level)
        .split(',')
        .any(|d| d.parse::<LevelFilter>().is_ok())
}

/// Installs the global subscriber. Calling it twice is harmless.
pub fn init(format: LogFormat, level: &str) {
    let directive = std::env::var("RUST_LOG")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| level.to_owned());
    let directive = normalize_level(&directive);
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

#[cfg(test)]
mod tests {
    use super::{check_level, has_overall_level};

    #[test]
    fn log_levels_are_a_level_or_target_level_directives() {
        for ok in [
            "info",
            "WARN",
            "off",
            "tmi_auth=debug,poem=warn",
            "warn,audit=info",
            "info, sqlx=warn",
            "tmi_auth::adapters=debug",
            "debug,h2=off",
        ] {
            assert_eq!(check_level(ok), Ok(()), "{ok}");
        }
        // `loud` would be read as a target name and silence everything else.
        for bad in [
            "loud",
            "x=verbose",
            "bad[[",
            "",
            ",",
            "info,loud",
            "=info",
            "tmi_auth=",
        ] {
            assert!(check_level(bad).is_err(), "{bad:?}");
        }
        assert!(has_overall_level("info, tmi_auth=debug"));
        assert!(!has_overall_level("tmi_auth=debug,poem=warn"));
    }
}
