//! States and events of executions and steps, and the sink that records them.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use serde::Serialize;
use vwmp_protocol::{Confinement, LogStream, ResourceUsage};

/// State of an execution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExecutionStatus {
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
    TimedOut,
    Interrupted,
}

/// State of a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Pending,
    Running,
    Succeeded,
    Failed,
    Skipped,
    Cancelled,
    TimedOut,
    Interrupted,
}

impl StepStatus {
    /// Returns true for states a step never leaves.
    pub fn is_final(self) -> bool {
        !matches!(self, StepStatus::Pending | StepStatus::Running)
    }

    /// Returns the lowercase name used in output and storage.
    pub fn as_str(self) -> &'static str {
        match self {
            StepStatus::Pending => "pending",
            StepStatus::Running => "running",
            StepStatus::Succeeded => "succeeded",
            StepStatus::Failed => "failed",
            StepStatus::Skipped => "skipped",
            StepStatus::Cancelled => "cancelled",
            StepStatus::TimedOut => "timed_out",
            StepStatus::Interrupted => "interrupted",
        }
    }
}

impl ExecutionStatus {
    /// Returns the lowercase name used in output and storage.
    pub fn as_str(self) -> &'static str {
        match self {
            ExecutionStatus::Queued => "queued",
            ExecutionStatus::Running => "running",
            ExecutionStatus::Succeeded => "succeeded",
            ExecutionStatus::Failed => "failed",
            ExecutionStatus::Cancelled => "cancelled",
            ExecutionStatus::TimedOut => "timed_out",
            ExecutionStatus::Interrupted => "interrupted",
        }
    }
}

/// Final report of one step.
#[derive(Debug, Clone, Serialize)]
pub struct StepReport {
    pub id: String,
    pub status: StepStatus,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub outputs: serde_json::Value,
    /// Why the step did not succeed, in plain words.
    pub error: Option<String>,
    #[serde(serialize_with = "serialize_millis", rename = "duration_ms")]
    pub duration: Duration,
    pub profile: Option<String>,
    pub profile_hash: Option<String>,
    pub confinement: Option<Confinement>,
    pub usage: Option<ResourceUsage>,
    pub denial_hints: Vec<String>,
    pub log_truncated: bool,
}

fn serialize_millis<S: serde::Serializer>(
    value: &Duration,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_u64(value.as_millis() as u64)
}

impl StepReport {
    /// Creates a report for a step that ended without running.
    pub fn not_run(id: &str, status: StepStatus, error: Option<String>) -> Self {
        Self {
            id: id.to_string(),
            status,
            exit_code: None,
            signal: None,
            outputs: serde_json::Value::Object(Default::default()),
            error,
            duration: Duration::ZERO,
            profile: None,
            profile_hash: None,
            confinement: None,
            usage: None,
            denial_hints: Vec::new(),
            log_truncated: false,
        }
    }
}

/// A change of state, reported in order through an [`EventSink`].
#[derive(Debug, Clone)]
pub enum Event {
    ExecutionStarted {
        execution_id: String,
    },
    StepStarted {
        step_id: String,
        profile: String,
        profile_hash: String,
    },
    StepConfined {
        step_id: String,
        confinement: Confinement,
    },
    StepLog {
        step_id: String,
        stream: LogStream,
        line: String,
        truncated: bool,
    },
    StepFinished {
        report: StepReport,
    },
    ExecutionFinished {
        execution_id: String,
        status: ExecutionStatus,
    },
}

/// Errors a sink returns; the engine stops the execution on one, because a
/// state change that cannot be recorded must not be reported as done.
#[derive(Debug, thiserror::Error)]
#[error("failed to record an event: {0}")]
pub struct SinkError(pub String);

/// Future returned by [`EventSink::record`].
pub type RecordFuture<'a> = Pin<Box<dyn Future<Output = Result<(), SinkError>> + Send + 'a>>;

/// Receives every state change of an execution, in order. A store commits
/// each event before the call returns; the command line prints it.
pub trait EventSink: Send + Sync {
    /// Records one event.
    fn record<'a>(&'a self, event: &'a Event) -> RecordFuture<'a>;
}
