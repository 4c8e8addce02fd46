//! The command line: `tmi-auth [serve] [--listen ADDR] [--config FILE]`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use super::admin::{
    self, AdminsCommand, CredentialsCommand, GroupsCommand, KeysCommand, UsersCommand,
};
use super::config::{Config, ConfigError};
use super::{banner, telemetry};
use crate::app::startup::{Application, connect_postgres};

/// Exit code for configuration errors.
pub const EXIT_CONFIG: u8 = 2;

/// tmi-auth: an authentication broker implementing the TMI Authentication API.
#[derive(Debug, Parser)]
#[command(name = "tmi-auth", version, about)]
pub struct Cli {
    /// Address to listen on (overrides `server.listen`), e.g. 127.0.0.1:0. Only for serving:
    /// the management commands do not take it.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// TOML configuration file.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// What to do (default: serve).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP service (the default).
    Serve {
        /// Address to listen on (overrides `server.listen`), e.g. 127.0.0.1:0.
        #[arg(long, value_name = "ADDR")]
        listen: Option<String>,
    },
    /// Apply the database migrations to `database.url` and exit.
    Migrate,
    /// Signing keys in the configured storage.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// TMI-managed groups in the configured storage.
    #[command(subcommand)]
    Groups(GroupsCommand),
    /// Administrators in the configured storage.
    #[command(subcommand)]
    Admins(AdminsCommand),
    /// Client credentials in the configured storage.
    #[command(subcommand)]
    Credentials(CredentialsCommand),
    /// Users in the configured storage.
    #[command(subcommand)]
    Users(UsersCommand),
}

/// Parses the command line and runs; the process exit code.
pub async fn run() -> ExitCode {
    let cli = Cli::parse();
    if cli.listen.is_some() && !matches!(cli.command, None | Some(Command::Serve { .. })) {
        eprintln!("tmi-auth: --listen is only for serving; the management commands do not listen");
        return ExitCode::from(EXIT_CONFIG);
    }
    match cli.command.unwrap_or(Command::Serve { listen: None }) {
        Command::Serve { listen } => serve(cli.config, listen.or(cli.listen)).await,
        Command::Migrate => migrate(cli.config).await,
        Command::Keys(c) => {
            manage(cli.config, |config| {
                Box::pin(async move { admin::keys(&config, c).await })
            })
            .await
        }
        Command::Groups(c) => {
            manage(cli.config, |config| {
                Box::pin(async move { admin::groups(&config, c).await })
            })
            .await
        }
        Command::Admins(c) => {
            manage(cli.config, |config| {
                Box::pin(async move { admin::admins(&config, c).await })
            })
            .await
        }
        Command::Credentials(c) => {
            manage(cli.config, |config| {
                Box::pin(async move { admin::credentials(&config, c).await })
            })
            .await
        }
        Command::Users(c) => {
            manage(cli.config, |config| {
                Box::pin(async move { admin::users(&config, c).await })
            })
            .await
        }
    }
}

type Job = std::pin::Pin<Box<dyn std::future::Future<Output = anyhow::Result<()>>>>;

/// Runs a management command: configuration errors exit 2, failures 1, each as one line.
async fn manage(config_file: Option<PathBuf>, job: impl FnOnce(Config) -> Job) -> ExitCode {
    let config = match Config::load(config_file.as_deref()) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("tmi-auth: {err}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    match config.resolve() {
        // Management commands log only audit events (and warnings).
        Ok(resolved) => telemetry::init(resolved.log_format, "warn,audit=info"),
        Err(err) => {
            eprintln!("tmi-auth: {err}");
            return ExitCode::from(EXIT_CONFIG);
        }
    }
    match job(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let line = format!("{err:#}").replace('\n', " ");
            eprintln!("tmi-auth: {line}");
            ExitCode::FAILURE
        }
    }
}

async fn migrate(config_file: Option<PathBuf>) -> ExitCode {
    let config = match Config::load(config_file.as_deref()) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("tmi-auth: {err}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    if let Err(err) = config.database.check() {
        eprintln!("tmi-auth: {err}");
        return ExitCode::from(EXIT_CONFIG);
    }
    match connect_postgres(&config, true).await {
        Ok(pool) => {
            pool.close().await;
            println!("tmi-auth: migrations applied");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("tmi-auth: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config_file: Option<PathBuf>, listen: Option<String>) -> ExitCode {
    let config = match load(config_file, listen) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("tmi-auth: {err}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let resolved = match config.resolve() {
        Ok(resolved) => resolved,
        Err(err) => {
            eprintln!("tmi-auth: {err}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    telemetry::init(resolved.log_format, &config.log.level);
    let key_from_file =
        config.tokens.signing_key_file.is_some() || config.tokens.hs256_secret_file.is_some();
    let app = match Application::build(config).await {
        Ok(app) => app,
        Err(err) => {
            eprintln!("tmi-auth: cannot start: {err:#}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    // A closed stdout must not stop the service: ignore write errors.
    let banner = banner::render(
        app.local_addr(),
        app.public_url(),
        app.mode(),
        key_from_file,
    );
    let _ = writeln!(std::io::stdout(), "{banner}");
    match app.run_until_stopped().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("tmi-auth: server error: {err}");
            ExitCode::FAILURE
        }
    }
}

fn load(config_file: Option<PathBuf>, listen: Option<String>) -> Result<Config, ConfigError> {
    let mut config = Config::load(config_file.as_deref())?;
    if let Some(listen) = listen {
        if listen.parse::<std::net::SocketAddr>().is_err() {
            return Err(ConfigError {
                key: "--listen".into(),
                message: "expected an address like 127.0.0.1:8080".into(),
            });
        }
        config.server.listen = listen;
    }
    Ok(config)
}
