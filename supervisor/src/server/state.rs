//! The application state that every request handler shares.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use vwmp_protocol::RunAs;

use crate::audit::AuditLog;
use crate::auth::{JwtIssuer, LoginThrottle};
use crate::config::Config;
use crate::engine::{Engine, EngineSettings};
use crate::executions::{ExecutionService, ServiceSettings};
use crate::launcher::{Launcher, LauncherConfig};
use crate::metrics::Metrics;
use crate::plugins::Registry;
use crate::profiles::ProfileSet;
use crate::store::Store;

/// Everything a request handler needs, shared: a clone is one reference
/// count. Warp filters clone the state for every route they try, so a
/// struct of a dozen handles cost a dozen atomic operations per route and
/// request. Fields are reached through `Deref`, as `state.store`.
#[derive(Clone)]
pub struct AppState {
    services: Arc<AppServices>,
}

impl std::ops::Deref for AppState {
    type Target = AppServices;

    fn deref(&self) -> &AppServices {
        &self.services
    }
}

/// The services behind an [`AppState`]. New services join as new fields
/// here and in [`AppState::new`]; handlers reach them through the clone that
/// `api::with_state` passes.
pub struct AppServices {
    pub config: Arc<Config>,
    pub store: Store,
    pub audit: Arc<AuditLog>,
    pub metrics: Arc<Metrics>,
    pub jwt: Arc<JwtIssuer>,
    pub throttle: Arc<LoginThrottle>,
    pub plugins: Arc<Registry>,
    pub profiles: Arc<ProfileSet>,
    /// Runs, cancels and drains executions.
    pub executions: ExecutionService,
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
    pub executions: ExecutionParts,
}

/// Inputs of the execution service besides the plugins, profiles and
/// configuration.
pub struct ExecutionParts {
    /// Path of the `vwmp-worker` binary.
    pub worker_path: PathBuf,
    pub settings: ServiceSettings,
}

impl AppState {
    /// Creates the state from its parts, with a fresh login throttle and
    /// an execution service whose engine shares the plugins and profiles.
    /// Call it inside a Tokio runtime: the launcher starts its pool of idle
    /// workers at once.
    pub fn new(parts: StateParts) -> AppState {
        let audit = Arc::new(parts.audit);
        let plugins = Arc::new(parts.plugins);
        let profiles = Arc::new(parts.profiles);

        let engine_config = &parts.config.engine;
        // NOTE: `max_parallel_steps` bounds the steps of each execution, not
        // of all of them. The service also bounds the executions that run at
        // once, so up to `max_running` times as many steps can run in total.
        let max_parallel = engine_config.max_parallel_steps;
        let engine = Engine::new(
            Launcher::with_pool(
                LauncherConfig::new(parts.executions.worker_path),
                max_parallel,
            ),
            Arc::clone(&plugins),
            Arc::clone(&profiles),
            EngineSettings {
                max_parallel,
                workspace_root: engine_config.workspace_root.clone(),
                run_as: RunAs {
                    uid: engine_config.run_as_uid,
                    gid: engine_config.run_as_gid,
                },
            },
        );

        let executions = ExecutionService::new(
            engine,
            parts.store.clone(),
            Arc::clone(&parts.metrics),
            Some(Arc::clone(&audit)),
            parts.executions.settings,
        );

        let services = AppServices {
            config: Arc::new(parts.config),
            store: parts.store,
            audit,
            metrics: parts.metrics,
            jwt: Arc::new(parts.jwt),
            throttle: Arc::new(LoginThrottle::default()),
            plugins,
            profiles,
            executions,
            shutting_down: Arc::new(AtomicBool::new(false)),
        };
        AppState {
            services: Arc::new(services),
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
