//! Response bodies of the API routes that the client's callers read. Each
//! type lists only the fields they use, and unknown fields are ignored, so
//! a server that adds fields stays compatible.

use serde::Deserialize;

/// Body of `POST /auth/login`.
#[derive(Clone, Deserialize)]
pub struct LoginResponse {
    pub access_token: String,
    /// Lifetime of the access token, in seconds.
    pub expires_in: u64,
}

impl std::fmt::Debug for LoginResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginResponse")
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}

/// Body of `GET /workflows/{id}` and `POST /workflows`.
#[derive(Debug, Clone, Deserialize)]
pub struct WorkflowRecord {
    pub id: String,
    pub revision: u64,
}

/// Body of `POST /workflows/{id}/executions`.
#[derive(Debug, Clone, Deserialize)]
pub struct ExecutionStarted {
    pub id: String,
    pub status: String,
}

/// Body of `GET /executions/{id}`.
#[derive(Debug, Clone, Deserialize)]
pub struct ExecutionDetail {
    pub id: String,
    pub status: String,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub steps: Vec<StepDetail>,
}

impl ExecutionDetail {
    /// Returns true once the execution can change no more: any status but
    /// `queued` and `running`.
    pub fn is_finished(&self) -> bool {
        !matches!(self.status.as_str(), "queued" | "running")
    }
}

/// One step of [`ExecutionDetail`].
#[derive(Debug, Clone, Deserialize)]
pub struct StepDetail {
    pub id: String,
    pub status: String,
    #[serde(default)]
    pub exit_code: Option<i32>,
    #[serde(default)]
    pub signal: Option<i32>,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub profile: Option<String>,
    /// The confinement that held, as the worker reported it.
    #[serde(default)]
    pub confinement: Option<serde_json::Value>,
    /// Start time (RFC 3339); `None` for a step that never started.
    #[serde(default)]
    pub started_at: Option<String>,
    /// End time (RFC 3339); `None` until the step ends.
    #[serde(default)]
    pub finished_at: Option<String>,
    #[serde(default)]
    pub duration_ms: Option<u64>,
}

/// Body of `GET /executions/{id}/logs`.
#[derive(Debug, Clone, Deserialize)]
pub struct LogPage {
    pub items: Vec<LogLine>,
    /// Sequence to pass as `after` for the next page; `None` when the
    /// server has no newer line yet.
    #[serde(default)]
    pub next_after: Option<u64>,
}

/// One log line of an execution.
#[derive(Debug, Clone, Deserialize)]
pub struct LogLine {
    pub seq: u64,
    #[serde(default)]
    pub step_id: Option<String>,
    #[serde(default)]
    pub stream: Option<String>,
    pub line: String,
    /// Time the supervisor received the line (RFC 3339).
    #[serde(default)]
    pub at: Option<String>,
}
