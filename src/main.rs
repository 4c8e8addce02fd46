//! The `tmi-auth` binary: a shim over [`tmi_auth::app::cli`].

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    tmi_auth::app::cli::run().await
}
