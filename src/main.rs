//! The `tmi-auth` binary: a shim over [`tmi_auth::app::cli`].

use std::process::ExitCode;

/// mimalloc: the request paths allocate many small, short-lived buffers across two worker
/// threads, which glibc's allocator serves markedly slower (see bench/).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    tmi_auth::app::cli::run().await
}
