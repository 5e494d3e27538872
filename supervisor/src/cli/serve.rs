//! `vwmp serve`, `vwmp config check` and their logging setup.

use std::path::PathBuf;

use clap::Args;

use crate::config::{process_env, Config, LogFormat};

/// Arguments of `vwmp serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Configuration file (TOML); `VWMP_*` environment variables override it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// Loads the configuration from `path` and the environment, printing the
/// error on failure.
pub fn load_config(path: Option<&PathBuf>) -> Result<Config, i32> {
    Config::load(path.map(PathBuf::as_path), &process_env).map_err(|error| {
        eprintln!("vwmp: {error}");
        1
    })
}

/// Runs `vwmp serve` until SIGTERM or SIGINT.
pub async fn run(args: ServeArgs) -> i32 {
    let config = match load_config(args.config.as_ref()) {
        Ok(config) => config,
        Err(code) => return code,
    };
    init_tracing(&config);
    for warning in config.warnings() {
        tracing::warn!("{warning}");
    }

    let server = match crate::server::start(config, None).await {
        Ok(server) => server,
        Err(error) => {
            tracing::error!(%error, "failed to start the server");
            eprintln!("vwmp: {error}");
            return 1;
        }
    };
    println!("vwmp: listening on http://{}", server.local_addr());

    let signal = wait_for_signal().await;
    tracing::info!(
        signal,
        "shutting down: no new connections, finishing requests in progress"
    );
    server.shutdown();
    server.wait().await;
    0
}

/// Waits for SIGTERM or SIGINT and returns its name.
async fn wait_for_signal() -> &'static str {
    use tokio::signal::unix::{signal, SignalKind};

    let terminate = signal(SignalKind::terminate());
    let interrupt = signal(SignalKind::interrupt());
    match (terminate, interrupt) {
        (Ok(mut terminate), Ok(mut interrupt)) => tokio::select! {
            _ = terminate.recv() => "SIGTERM",
            _ = interrupt.recv() => "SIGINT",
        },
        _ => {
            tracing::warn!("failed to install signal handlers; waiting for Ctrl-C only");
            let _ = tokio::signal::ctrl_c().await;
            "SIGINT"
        }
    }
}

/// Sets up `tracing` from the configuration. `VWMP_LOG` overrides
/// `logging.level`. Under systemd (`JOURNAL_STREAM` set) lines carry no
/// timestamp because the journal adds its own.
fn init_tracing(config: &Config) {
    use tracing_subscriber::EnvFilter;

    let filter = EnvFilter::try_from_env("VWMP_LOG")
        .or_else(|_| EnvFilter::try_new(&config.logging.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let under_journal = std::env::var_os("JOURNAL_STREAM").is_some();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let result = match (config.logging.format, under_journal) {
        (LogFormat::Json, true) => builder.json().without_time().try_init(),
        (LogFormat::Json, false) => builder.json().try_init(),
        (LogFormat::Human, true) => builder.without_time().try_init(),
        (LogFormat::Human, false) => builder.try_init(),
    };
    if result.is_err() {
        eprintln!("vwmp: tracing was already set up; keeping the earlier log settings");
    }
}

/// Runs `vwmp config check FILE`: prints the resolved configuration with
/// secrets masked and its warnings, or the error.
pub fn check(file: &std::path::Path) -> i32 {
    let config = match Config::check_file(file) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("vwmp: {error}");
            return 1;
        }
    };
    match config.to_toml_redacted() {
        Ok(text) => print!("{text}"),
        Err(error) => {
            eprintln!("vwmp: {error}");
            return 1;
        }
    }
    for warning in config.warnings() {
        eprintln!("vwmp: warning: {warning}");
    }
    0
}
