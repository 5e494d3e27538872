//! The `vwmp` command line.
//!
//! Exit codes of `vwmp run`: 0 when the execution succeeded, 1 when it ended
//! in any other state, 2 for invalid arguments or an invalid workflow.
//! `vwmp profile run` exits with the command's own code, 128+N when a signal
//! N killed it, 124 on timeout and 125 when the sandbox or worker failed.
//! `vwmp demo` exits 0 when the example execution succeeded, 1 otherwise,
//! 2 for invalid arguments.

mod defaults;
mod demo;
mod profile;
mod run;
mod serve;
mod user;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Exit code for invalid arguments or input files.
pub const EXIT_USAGE: i32 = 2;

/// Runs untrusted plugins in confined workers.
#[derive(Debug, Parser)]
#[command(name = "vwmp", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start a temporary server, execute an example workflow through its API
    /// and show each step's confinement; the first command to try.
    Demo(demo::DemoArgs),
    /// Execute a workflow file on this machine, each step in a confined worker.
    Run(run::RunArgs),
    /// Check, show and try sandbox profiles.
    #[command(subcommand)]
    Profile(profile::ProfileCommand),
    /// Tools for plugin authors.
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// Serve the HTTP API until SIGTERM or SIGINT.
    Serve(serve::ServeArgs),
    /// Check configuration files.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Manage user accounts in the configured database.
    #[command(subcommand)]
    User(UserCommand),
}

/// `vwmp config` subcommands.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the resolved configuration of FILE with secrets masked, or the error (exit 1).
    Check {
        /// Configuration file (TOML).
        file: PathBuf,
    },
}

/// `vwmp user` subcommands.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user with a password and roles.
    Add(user::UserAddArgs),
}

/// `vwmp plugin` subcommands.
#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Check a plugin directory: manifest, digests and handlers.
    Check {
        /// Plugin directory containing plugin.toml.
        dir: PathBuf,
    },
    /// Print the `[files]` table with the SHA-256 of every file in DIR.
    Digests {
        /// Plugin directory.
        dir: PathBuf,
    },
}

/// Parses the arguments, runs the command and returns the exit code.
pub fn main() -> i32 {
    let cli = Cli::parse();
    // `vwmp serve` sets up tracing from its configuration file.
    if !matches!(cli.command, Command::Serve(_)) {
        init_tracing();
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("vwmp: failed to start the async runtime: {err}");
            return 1;
        }
    };
    runtime.block_on(async move {
        match cli.command {
            Command::Demo(args) => demo::run(args).await,
            Command::Run(args) => run::run(args).await,
            Command::Profile(command) => profile::run(command).await,
            Command::Plugin(command) => plugin_command(command),
            Command::Serve(args) => serve::run(args).await,
            Command::Config(ConfigCommand::Check { file }) => serve::check(&file),
            Command::User(UserCommand::Add(args)) => user::add(args).await,
        }
    })
}

fn plugin_command(command: PluginCommand) -> i32 {
    match command {
        PluginCommand::Check { dir } => match crate::plugins::Plugin::load(&dir) {
            Ok(plugin) => {
                println!(
                    "{}: plugin {} {} is valid ({} handlers, profile {})",
                    dir.display(),
                    plugin.manifest.name,
                    plugin.manifest.version,
                    plugin.manifest.handlers.len(),
                    plugin.manifest.profile
                );
                0
            }
            Err(err) => {
                eprintln!("vwmp: {err}");
                1
            }
        },
        PluginCommand::Digests { dir } => match crate::plugins::digest_table(&dir) {
            Ok(table) => {
                print!("{table}");
                0
            }
            Err(err) => {
                eprintln!("vwmp: {err}");
                1
            }
        },
    }
}

fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("VWMP_LOG").unwrap_or_else(|_| EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
