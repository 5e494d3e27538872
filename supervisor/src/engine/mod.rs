//! The engine: runs a validated workflow's steps as a DAG, each in its own
//! confined worker, and reports every state change through an [`EventSink`].
//!
//! The command line (`vwmp run`) and the HTTP server use the same engine; only
//! the sink differs (printing or committing to the store).

pub mod events;
pub mod redact;
mod scheduler;
mod step;

pub use step::{running_as_root, SANDBOX_FAILED_ERROR};

use std::path::PathBuf;
use std::sync::Arc;

use vwmp_protocol::RunAs;

pub use events::{
    Event, EventSink, ExecutionStatus, RecordFuture, SinkError, StepReport, StepStatus,
};
pub use scheduler::{ExecutionPlan, ExecutionReport};

use crate::launcher::Launcher;
use crate::plugins::Registry;
use crate::profiles::ProfileSet;

/// Default number of steps of one execution that run at the same time.
pub const DEFAULT_MAX_PARALLEL: usize = 4;

/// Upper bound on `max_parallel`; each running step is a process tree.
pub const MAX_PARALLEL_LIMIT: usize = 256;

/// Settings shared by every execution of an engine.
#[derive(Debug, Clone)]
pub struct EngineSettings {
    pub max_parallel: usize,
    /// Directory under which each execution gets its workspace.
    pub workspace_root: PathBuf,
    /// Identity a root-started worker switches to.
    pub run_as: RunAs,
}

/// Runs workflows; cheap to clone and share between tasks.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<EngineInner>,
}

struct EngineInner {
    launcher: Launcher,
    plugins: Arc<Registry>,
    profiles: Arc<ProfileSet>,
    settings: EngineSettings,
}

impl Engine {
    /// Creates an engine over a plugin registry and a profile set.
    pub fn new(
        launcher: Launcher,
        plugins: Arc<Registry>,
        profiles: Arc<ProfileSet>,
        settings: EngineSettings,
    ) -> Self {
        Self {
            inner: Arc::new(EngineInner {
                launcher,
                plugins,
                profiles,
                settings,
            }),
        }
    }

    /// Returns the plugin registry.
    pub fn plugins(&self) -> &Registry {
        &self.inner.plugins
    }

    /// Returns the profile set.
    pub fn profiles(&self) -> &ProfileSet {
        &self.inner.profiles
    }

    /// Returns the settings.
    pub fn settings(&self) -> &EngineSettings {
        &self.inner.settings
    }

    /// Returns the launcher.
    pub fn launcher(&self) -> &Launcher {
        &self.inner.launcher
    }
}
