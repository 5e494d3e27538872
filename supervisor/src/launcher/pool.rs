//! A small pool of started, not yet confined workers that wait for a step.
//!
//! Spawning `vwmp-worker` and reading its `Hello` is the largest part of a
//! step's start-up; with a pool it happens ahead of time, so a step's
//! critical path is the request, confinement, and the plugin's fork and exec.
//! A pooled worker runs exactly one step and is never reused. Idle workers
//! have not confined themselves yet, but they run no plugin code until they
//! receive a request, and they die with the supervisor (`PR_SET_PDEATHSIG`
//! and kill-on-drop).

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{mpsc, watch, Mutex};
use vwmp_protocol::StepRequest;

use super::{
    run_on, start_worker, LaunchEvent, LaunchResult, LauncherConfig, ReadyWorker, StepEnd,
};

/// Largest pool size accepted; each idle worker is a process.
pub const MAX_POOL_SIZE: usize = 64;

/// Launches steps, on pooled workers when a pool is configured.
#[derive(Clone)]
pub struct Launcher {
    config: Arc<LauncherConfig>,
    pool: Option<Arc<Pool>>,
}

struct Pool {
    size: usize,
    idle: Mutex<Vec<ReadyWorker>>,
}

impl Launcher {
    /// Creates a launcher that spawns a fresh worker for every step.
    pub fn new(config: LauncherConfig) -> Self {
        Self {
            config: Arc::new(config),
            pool: None,
        }
    }

    /// Creates a launcher that keeps `size` idle workers ready; must be
    /// called inside a tokio runtime. A size of 0 disables the pool.
    pub fn with_pool(config: LauncherConfig, size: usize) -> Self {
        let size = size.min(MAX_POOL_SIZE);
        let launcher = Self {
            config: Arc::new(config),
            pool: (size > 0).then(|| {
                Arc::new(Pool {
                    size,
                    idle: Mutex::new(Vec::with_capacity(size)),
                })
            }),
        };
        for _ in 0..size {
            launcher.refill();
        }
        launcher
    }

    /// Returns the launcher's configuration.
    pub fn config(&self) -> &LauncherConfig {
        &self.config
    }

    /// Returns how many started workers wait in the pool (0 without one).
    pub async fn idle_workers(&self) -> usize {
        match &self.pool {
            Some(pool) => pool.idle.lock().await.len(),
            None => 0,
        }
    }

    /// Runs `request` in a worker and returns how it ended; see
    /// [`super::launch`].
    pub async fn launch(
        &self,
        request: StepRequest,
        events: mpsc::Sender<LaunchEvent>,
        cancel: watch::Receiver<bool>,
    ) -> LaunchResult {
        let started = Instant::now();
        let pooled = match &self.pool {
            Some(pool) => pool.idle.lock().await.pop(),
            None => None,
        };
        if pooled.is_some() {
            self.refill();
        }
        let ready = match pooled {
            Some(ready) => ready,
            None => match start_worker(&self.config).await {
                Ok(ready) => ready,
                Err(reason) => {
                    return LaunchResult {
                        confinement: None,
                        end: StepEnd::Failed(reason),
                        duration: started.elapsed(),
                    }
                }
            },
        };
        run_on(&self.config, ready, started, request, events, cancel).await
    }

    /// Starts one worker in the background and adds it to the pool.
    fn refill(&self) {
        let Some(pool) = self.pool.clone() else {
            return;
        };
        let config = Arc::clone(&self.config);
        tokio::spawn(async move {
            match start_worker(&config).await {
                Ok(ready) => {
                    let mut idle = pool.idle.lock().await;
                    // Extra workers (after a burst) are dropped and killed.
                    if idle.len() < pool.size {
                        idle.push(ready);
                    }
                }
                Err(reason) => {
                    tracing::warn!(error = %reason, "failed to start a pooled worker");
                }
            }
        });
    }
}
