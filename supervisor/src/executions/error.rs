//! Errors of starting and cancelling executions.

use crate::engine::ExecutionStatus;
use crate::model::{ExecutionId, WorkflowId};
use crate::store::StoreError;
use crate::workflow::ValidationErrors;

/// Error of starting an execution.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The service is draining for shutdown.
    #[error("the server is shutting down and starts no new executions; retry after it restarts")]
    ShuttingDown,

    /// Too many executions are running or queued.
    #[error(
        "{limit} executions are already running or queued, the server's limit; retry when some have finished"
    )]
    QueueFull { limit: usize },

    /// The stored definition no longer parses (written by another version).
    #[error("workflow `{workflow_id}` revision {revision} cannot be read: {reason}; save the workflow again")]
    UnreadableDefinition {
        workflow_id: WorkflowId,
        revision: u32,
        reason: String,
    },

    /// The stored definition no longer validates, for example because a
    /// plugin it uses was removed since it was saved.
    #[error("workflow `{workflow_id}` revision {revision} is no longer valid; update the workflow:\n{errors}")]
    InvalidWorkflow {
        workflow_id: WorkflowId,
        revision: u32,
        errors: ValidationErrors,
    },

    /// The parameter values do not match the workflow's parameter schema.
    /// Each error's path is `parameters.<name>` (or `parameters` for an
    /// unknown name); messages never contain a secret value.
    #[error("invalid parameters:\n{0}")]
    InvalidParameters(ValidationErrors),

    /// The execution could not be recorded.
    #[error("failed to record the execution: {0}")]
    Store(#[from] StoreError),
}

/// Error of cancelling an execution.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CancelError {
    /// No execution has this id.
    #[error("execution `{id}` was not found")]
    NotFound { id: ExecutionId },

    /// The execution had already ended; its outcome is kept.
    #[error("execution `{id}` already ended {}; only queued or running executions can be cancelled", status.as_str())]
    AlreadyFinished {
        id: ExecutionId,
        status: ExecutionStatus,
    },

    /// The store could not be read or written.
    #[error("failed to cancel the execution: {0}")]
    Store(#[from] StoreError),
}
