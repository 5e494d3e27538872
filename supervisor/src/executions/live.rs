//! Live events of a running execution, for clients that follow it (the
//! WebSocket stream). Every event is sent after the change it reports was
//! committed to the store, and log lines are already masked.

use serde::Serialize;
use vwmp_protocol::LogStream;

use crate::engine::{ExecutionStatus, StepStatus};

/// Live events buffered per execution for slow subscribers. A subscriber
/// that falls further behind gets `RecvError::Lagged` and reads the missed
/// log lines from the store by their `seq`.
pub const LIVE_EVENT_BUFFER: usize = 1024;

/// A change of an execution, as sent to live subscribers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LiveEvent {
    /// The execution changed state; a final state is the last event.
    Execution { status: ExecutionStatus },
    /// A step changed state.
    Step {
        step_id: String,
        status: StepStatus,
        exit_code: Option<i32>,
        error: Option<String>,
    },
    /// A log line of a step. `seq` is the line's id in the store, the
    /// cursor of `GET /executions/{id}/logs`, so a client that read the
    /// stored lines first drops live lines with a `seq` it already has.
    Log {
        seq: i64,
        step_id: String,
        stream: &'static str,
        line: String,
        truncated: bool,
    },
}

impl LiveEvent {
    /// Returns true for the event that ends an execution's stream.
    pub fn is_final(&self) -> bool {
        matches!(self, LiveEvent::Execution { status } if !matches!(status, ExecutionStatus::Queued | ExecutionStatus::Running))
    }
}

/// Returns the lowercase name of a log stream, as the API shows it.
pub fn stream_name(stream: LogStream) -> &'static str {
    match stream {
        LogStream::Stdout => "stdout",
        LogStream::Stderr => "stderr",
        LogStream::Worker => "worker",
    }
}
