//! The application state that every request handler shares.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::audit::AuditLog;
use crate::auth::{JwtIssuer, LoginThrottle};
use crate::config::Config;
use crate::metrics::Metrics;
use crate::plugins::Registry;
use crate::profiles::ProfileSet;
use crate::store::Store;

/// Everything a request handler needs. Cloning is cheap: every field is a
/// handle or an `Arc`.
///
/// New services join as new fields here and in [`AppState::new`]'s callers;
/// handlers reach them through the clone that `api::with_state` passes.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Store,
    pub audit: Arc<AuditLog>,
    pub metrics: Arc<Metrics>,
    pub jwt: Arc<JwtIssuer>,
    pub throttle: Arc<LoginThrottle>,
    pub plugins: Arc<Registry>,
    pub profiles: Arc<ProfileSet>,
    /// Set when shutdown starts, so `GET /readyz` returns 503 while
    /// requests in progress drain.
    pub shutting_down: Arc<AtomicBool>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("store", &self.store)
            .field("plugins", &self.plugins.dir())
            .field("profiles", &self.profiles.dir())
            .finish_non_exhaustive()
    }
}

/// The parts of an [`AppState`] that `server::start` builds at startup.
pub struct StateParts {
    pub config: Config,
    pub store: Store,
    pub audit: AuditLog,
    pub metrics: Arc<Metrics>,
    pub jwt: JwtIssuer,
    pub plugins: Registry,
    pub profiles: ProfileSet,
}

impl AppState {
    /// Creates the state from its parts, with a fresh login throttle.
    pub fn new(parts: StateParts) -> AppState {
        AppState {
            config: Arc::new(parts.config),
            store: parts.store,
            audit: Arc::new(parts.audit),
            metrics: parts.metrics,
            jwt: Arc::new(parts.jwt),
            throttle: Arc::new(LoginThrottle::default()),
            plugins: Arc::new(parts.plugins),
            profiles: Arc::new(parts.profiles),
            shutting_down: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Returns true once shutdown has started.
    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Relaxed)
    }

    /// Returns the request body limit in bytes.
    pub fn max_body_bytes(&self) -> u64 {
        self.config.server.max_body_bytes
    }
}
