//! `vwmp serve`: the shared application state, startup wiring, background
//! tasks and graceful shutdown.
//!
//! [`start`] runs the startup steps in order: state directory (0700),
//! database (0600), executions left running by a previous process marked
//! `interrupted`, signing key (0600, generated at first start), plugins and
//! profiles, audit log, retention task, listener. It returns a
//! [`ServerHandle`] once the listener is bound, so `vwmp serve` and
//! in-process callers such as tests share one code path.
//!
//! Layout:
//! - `state.rs`: [`AppState`], which every request handler shares.
//! - `audit_sink.rs`: stores audit events in the database.
//! - `state_dir.rs`: the state directory and its mode.
//! - `http.rs`: the accept loop that runs the API on each connection.
//! - `retention.rs`: the pruning task.
//! - `notify.rs`: systemd readiness, stopping and watchdog notifications.
//! - `error.rs`: [`ServeError`].

mod audit_sink;
mod error;
pub mod http;
pub mod notify;
mod retention;
mod state;
mod state_dir;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use audit_sink::{audit_entry, StoreAuditSink};
pub use error::ServeError;
pub use retention::cutoffs as retention_cutoffs;
pub use state::{AppState, ExecutionParts, StateParts};
pub use state_dir::{prepare_state_dir, STATE_DIR_MODE};

use crate::audit::AuditLog;
use crate::auth::{JwtIssuer, SigningKey};
use crate::config::Config;
use crate::executions::ServiceSettings;
use crate::metrics::Metrics;
use crate::plugins::Registry;
use crate::profiles::ProfileSet;
use crate::store::Store;

/// Time that requests in progress get to finish after shutdown starts;
/// connections still open after it are closed.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// Time that running executions get to finish after shutdown starts; the
/// ones still running after it are killed and recorded `interrupted`. It
/// runs alongside [`DRAIN_TIMEOUT`] and stays below systemd's default stop
/// timeout of 90 s.
pub const EXECUTION_GRACE: Duration = Duration::from_secs(30);

/// A running server.
#[derive(Debug)]
pub struct ServerHandle {
    address: SocketAddr,
    state: AppState,
    shutdown: watch::Sender<bool>,
    server: JoinHandle<()>,
    retention: JoinHandle<()>,
    watchdog: Option<JoinHandle<()>>,
}

impl ServerHandle {
    /// Returns the address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.address
    }

    /// Returns the shared state, for services that run beside the API.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Starts a graceful shutdown: stop accepting connections, let requests
    /// in progress finish, stop background tasks. Returns at once; await
    /// [`ServerHandle::wait`] for the end.
    pub fn shutdown(&self) {
        notify::notify("STOPPING=1");
        self.state.shutting_down.store(true, Ordering::Relaxed);
        self.shutdown.send_replace(true);
    }

    /// Waits until the server has stopped (after [`ServerHandle::shutdown`]
    /// or a fatal error), then drains the executions (see
    /// [`EXECUTION_GRACE`]) and closes the database.
    pub async fn wait(self) {
        let mut server = self.server;
        let drain_requests = async {
            if tokio::time::timeout(DRAIN_TIMEOUT, &mut server)
                .await
                .is_err()
            {
                tracing::warn!(
                    timeout_secs = DRAIN_TIMEOUT.as_secs(),
                    "requests did not finish in time after shutdown; closing their connections"
                );
                server.abort();
            }
        };
        let drain_executions = async {
            // The HTTP server ends only after a shutdown request or a fatal
            // error; executions stop in both cases.
            let mut stop = self.shutdown.subscribe();
            let _ = stop.wait_for(|stop| *stop).await;
            let report = self.state.executions.shutdown(EXECUTION_GRACE).await;
            if !report.interrupted.is_empty() {
                tracing::warn!(
                    count = report.interrupted.len(),
                    "executions still running at shutdown were recorded interrupted"
                );
            }
        };
        let server_ended = async {
            drain_requests.await;
            self.shutdown.send_replace(true);
        };
        tokio::join!(server_ended, drain_executions);
        self.shutdown.send_replace(true);
        if let Err(error) = self.retention.await {
            tracing::error!(%error, "the retention task failed");
        }
        if let Some(watchdog) = self.watchdog {
            let _ = watchdog.await;
        }
        if let Err(error) = self.state.store.close().await {
            tracing::error!(%error, "failed to close the database cleanly");
        }
        tracing::info!("server stopped");
    }
}

/// Starts the server for `config` on `listener`, or on a new listener
/// bound to `config.server.listen` when `listener` is `None`.
pub async fn start(
    config: Config,
    listener: Option<TcpListener>,
) -> Result<ServerHandle, ServeError> {
    let state = build_state(config).await?;

    let listener = match listener {
        Some(listener) => listener,
        None => {
            let address = state.config.server.listen;
            TcpListener::bind(address)
                .await
                .map_err(|source| ServeError::Bind { address, source })?
        }
    };
    let address = listener.local_addr().map_err(ServeError::LocalAddress)?;

    let (shutdown, shutdown_rx) = watch::channel(false);
    let retention = tokio::spawn(retention::run(
        state.store.clone(),
        state.config.retention.clone(),
        shutdown_rx.clone(),
    ));

    let routes = crate::api::routes(&state);
    let server = tokio::spawn(http::serve(
        listener,
        routes,
        http::HttpLimits::default(),
        shutdown_rx,
    ));
    tracing::info!(%address, "listening for HTTP requests");

    let watchdog = notify::watchdog_interval()
        .map(|interval| tokio::spawn(notify::run_watchdog(interval, shutdown.subscribe())));
    notify::notify(&format!("READY=1\nSTATUS=listening on {address}"));

    Ok(ServerHandle {
        address,
        state,
        shutdown,
        server,
        retention,
        watchdog,
    })
}

/// Runs the startup steps before the listener and returns the state.
pub(crate) async fn build_state(config: Config) -> Result<AppState, ServeError> {
    prepare_state_dir(&config.storage.state_dir)?;
    let store = Store::open(&config.storage.database).await?;

    let interrupted = store.mark_interrupted(crate::api::now_millis()).await?;
    if !interrupted.is_empty() {
        tracing::warn!(
            count = interrupted.len(),
            "marked executions left running by the previous server process as interrupted"
        );
    }

    let key = SigningKey::load_or_create(&config.auth.signing_key_file)?;
    let jwt = JwtIssuer::new(key, &config.auth.issuer, &config.auth.audience)
        .with_lifetime(config.auth.access_token_ttl);

    let worker_path = match &config.engine.worker_path {
        Some(path) => path.clone(),
        None => crate::launcher::find_worker_binary().unwrap_or_else(|| {
            // The API still serves everything else; each step then fails
            // with the launcher's error, which names the path and the fix.
            let expected = std::env::current_exe()
                .ok()
                .and_then(|exe| exe.parent().map(|dir| dir.join("vwmp-worker")))
                .unwrap_or_else(|| PathBuf::from("vwmp-worker"));
            tracing::error!(
                path = %expected.display(),
                "vwmp-worker was not found next to vwmp; executions will fail until it is \
                 installed there or engine.worker_path is set"
            );
            expected
        }),
    };
    crate::executions::check_workspace_root(
        &config.engine.workspace_root,
        config.engine.run_as_uid,
    );

    let plugins = Registry::load_dir(&config.engine.plugins_dir)?;
    let profiles = ProfileSet::load(&config.engine.profiles_dir)?;
    tracing::info!(
        plugins = plugins.plugins().count(),
        plugins_dir = %config.engine.plugins_dir.display(),
        profiles = profiles.names().len(),
        profiles_dir = %config.engine.profiles_dir.display(),
        "loaded plugins and sandbox profiles"
    );

    let mut audit = AuditLog::new().with_store(Arc::new(StoreAuditSink::new(store.clone())));
    if let Some(path) = &config.logging.audit_file {
        audit = audit.with_file(path)?;
    }

    Ok(AppState::new(StateParts {
        config,
        store,
        audit,
        metrics: Arc::new(Metrics::new()),
        jwt,
        plugins,
        profiles,
        executions: ExecutionParts {
            worker_path,
            settings: ServiceSettings::default(),
        },
    }))
}
