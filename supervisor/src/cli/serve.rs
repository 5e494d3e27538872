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

    // Handlers go in before the server starts, so a SIGTERM right after the
    // readiness notification already shuts down gracefully.
    let mut signals = match Signals::install() {
        Ok(signals) => signals,
        Err(error) => {
            eprintln!("vwmp: failed to install signal handlers: {error}");
            return 1;
        }
    };

    let server = match crate::server::start(config, None).await {
        Ok(server) => server,
        Err(error) => {
            tracing::error!(%error, "failed to start the server");
            eprintln!("vwmp: {error}");
            return 1;
        }
    };
    println!("vwmp: listening on http://{}", server.local_addr());

    let signal = signals.wait(&server).await;
    tracing::info!(
        signal,
        "shutting down: no new connections, finishing requests in progress"
    );
    server.shutdown();
    server.wait().await;
    0
}

/// The signals that `vwmp serve` handles.
struct Signals {
    terminate: tokio::signal::unix::Signal,
    interrupt: tokio::signal::unix::Signal,
    hangup: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> std::io::Result<Signals> {
        use tokio::signal::unix::{signal, SignalKind};

        Ok(Signals {
            terminate: signal(SignalKind::terminate())?,
            interrupt: signal(SignalKind::interrupt())?,
            hangup: signal(SignalKind::hangup())?,
        })
    }

    /// Waits for SIGTERM or SIGINT and returns its name. SIGHUP meanwhile
    /// reopens the audit file, for log rotation.
    async fn wait(&mut self, server: &crate::server::ServerHandle) -> &'static str {
        loop {
            tokio::select! {
                _ = self.terminate.recv() => return "SIGTERM",
                _ = self.interrupt.recv() => return "SIGINT",
                _ = self.hangup.recv() => reopen_audit_file(server),
            }
        }
    }
}

/// Reopens the audit file after SIGHUP.
// NOTE: SIGHUP does not reload sandbox profiles yet; the server keeps the
// profiles it loaded at startup until it restarts.
fn reopen_audit_file(server: &crate::server::ServerHandle) {
    match server.state().audit.reopen_file() {
        Ok(()) => {
            tracing::info!("SIGHUP: reopened the audit file; profiles stay as loaded at startup")
        }
        Err(error) => tracing::error!(%error, "SIGHUP: failed to reopen the audit file"),
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
