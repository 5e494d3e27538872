//! Executions: `POST /api/v1/workflows/{id}/executions` starts one, and
//! `/api/v1/executions` lists, reads, pages the logs of and cancels them.
//!
//! Every read comes from the store, which the execution service writes
//! before it reports a change anywhere else, so a client never reads a state
//! that a crash could lose. Secret parameter values are masked in the store.

use serde::Deserialize;
use serde_json::{json, Map, Value};
use warp::http::header::LOCATION;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

use super::body::json_body;
use super::principal::{authorized, Caller};
use super::problem::{FieldError, Problem, ProblemCode};
use super::query::{page, query};
use super::workflows::{holding_role, load_workflow};
use super::{finish, format_millis, one_of, with_state, Route, API_BASE};
use crate::audit::{AuditEvent, AuditEventType, AuditOutcome};
use crate::auth::rbac::Action;
use crate::engine::ExecutionStatus;
use crate::executions::{stream_name, CancelError, StartError, StartRequest};
use crate::model::{ExecutionId, WorkflowId};
use crate::server::AppState;
use crate::store::{
    ExecutionDetail, ExecutionFilter, ExecutionRecord, StepRecord, DEFAULT_LOG_PAGE, MAX_LOG_PAGE,
};

/// Seconds a client is asked to wait before retrying when the execution
/// queue is full or the server is shutting down.
const RETRY_AFTER_SECONDS: u64 = 5;

/// Every execution status, for parsing the `status` filter.
const STATUSES: [ExecutionStatus; 7] = [
    ExecutionStatus::Queued,
    ExecutionStatus::Running,
    ExecutionStatus::Succeeded,
    ExecutionStatus::Failed,
    ExecutionStatus::Cancelled,
    ExecutionStatus::TimedOut,
    ExecutionStatus::Interrupted,
];

/// Body of `POST /workflows/{id}/executions`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExecuteBody {
    #[serde(default)]
    parameters: Map<String, Value>,
}

/// Query of `GET /executions`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    limit: Option<u32>,
    offset: Option<u64>,
    status: Option<String>,
    workflow_id: Option<String>,
}

/// Query of `GET /executions/{id}/logs`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LogsQuery {
    after: Option<i64>,
    limit: Option<u32>,
}

/// Routes of this file.
pub fn routes(state: &AppState) -> Route {
    let limit = state.max_body_bytes();

    let execute = warp::path!("api" / "v1" / "workflows" / String / "executions")
        .and(warp::post())
        .and(authorized(state, Action::ExecuteWorkflow))
        .and(with_state(state))
        .and(json_body::<ExecuteBody>(limit))
        .and_then(execute_workflow);

    let list = warp::path!("api" / "v1" / "executions")
        .and(warp::get())
        .and(authorized(state, Action::ListExecutions))
        .and(with_state(state))
        .and(query::<ListQuery>())
        .and_then(list_executions);

    let get = warp::path!("api" / "v1" / "executions" / String)
        .and(warp::get())
        .and(authorized(state, Action::GetExecution))
        .and(with_state(state))
        .and_then(get_execution);

    let logs = warp::path!("api" / "v1" / "executions" / String / "logs")
        .and(warp::get())
        .and(authorized(state, Action::GetExecutionLogs))
        .and(with_state(state))
        .and(query::<LogsQuery>())
        .and_then(execution_logs);

    let cancel = warp::path!("api" / "v1" / "executions" / String / "cancel")
        .and(warp::post())
        .and(holding_role(state, Action::CancelExecution))
        .and(with_state(state))
        .and_then(cancel_execution);

    one_of(vec![
        finish(state, "/api/v1/workflows/{id}/executions", execute),
        finish(state, "/api/v1/executions", list),
        finish(state, "/api/v1/executions/{id}", get),
        finish(state, "/api/v1/executions/{id}/logs", logs),
        finish(state, "/api/v1/executions/{id}/cancel", cancel),
    ])
}

async fn execute_workflow(
    workflow_id: String,
    caller: Caller,
    state: AppState,
    body: ExecuteBody,
) -> Result<Response, Rejection> {
    let workflow = load_workflow(&state, &workflow_id).await?;
    let started = state
        .executions
        .start(StartRequest {
            workflow: &workflow,
            user_id: caller.user_id(),
            parameters: &body.parameters,
        })
        .await
        .map_err(start_problem)?;

    let event = caller
        .client
        .annotate(AuditEvent::builder(
            AuditEventType::ExecutionStarted,
            AuditOutcome::Success,
        ))
        .user(caller.user_id().clone())
        .workflow(started.workflow_id.clone())
        .execution(started.id.clone())
        .detail("revision", started.workflow_version)
        .build();
    state.audit.record(event).await;

    let location = format!("{API_BASE}/executions/{}", started.id);
    let body = json!({"id": started.id, "status": started.status});
    let reply = warp::reply::with_status(warp::reply::json(&body), StatusCode::ACCEPTED);
    Ok(warp::reply::with_header(reply, LOCATION, location).into_response())
}

/// Maps a start error to a problem; the parameter errors keep their paths.
fn start_problem(error: StartError) -> Problem {
    match error {
        StartError::InvalidParameters(errors) => {
            let fields: Vec<FieldError> = errors
                .0
                .into_iter()
                .map(|error| FieldError {
                    field: error.path,
                    detail: error.message,
                })
                .collect();
            let detail = match fields.as_slice() {
                [only] => format!("invalid parameter `{}`: {}", only.field, only.detail),
                _ => format!("{} parameters are invalid: see `errors`", fields.len()),
            };
            Problem::new(ProblemCode::ValidationFailed, detail).with_errors(fields)
        }
        StartError::InvalidWorkflow { errors, .. } => {
            let fields = errors
                .0
                .into_iter()
                .map(|error| FieldError {
                    field: error.path,
                    detail: error.message,
                })
                .collect();
            Problem::new(
                ProblemCode::Conflict,
                "the workflow no longer validates against the installed plugins: update it with \
                 PUT /api/v1/workflows/{id}",
            )
            .with_errors(fields)
        }
        StartError::ShuttingDown => Problem::new(
            ProblemCode::NotReady,
            "the server is shutting down and starts no new executions: retry after it restarts",
        )
        .with_retry_after(RETRY_AFTER_SECONDS),
        StartError::QueueFull { limit } => Problem::new(
            ProblemCode::NotReady,
            format!(
                "{limit} executions are already running or queued: retry when some have finished"
            ),
        )
        .with_retry_after(RETRY_AFTER_SECONDS),
        StartError::Store(error) => Problem::from_store(error, "create execution"),
        other => {
            tracing::error!(error = %other, "failed to start an execution");
            Problem::internal()
        }
    }
}

async fn list_executions(
    _caller: Caller,
    state: AppState,
    query: ListQuery,
) -> Result<Response, Rejection> {
    let page = page(query.limit, query.offset)?;
    let status = match &query.status {
        Some(text) => Some(parse_status(text)?),
        None => None,
    };
    let workflow_id = match &query.workflow_id {
        Some(text) => Some(WorkflowId::parse(text).map_err(|err| {
            Problem::invalid_field("workflow_id", format!("{err}: pass a workflow's id"))
        })?),
        None => None,
    };
    let filter = ExecutionFilter {
        workflow_id,
        user_id: None,
        status,
    };
    let listed = state
        .store
        .list_executions(filter, page)
        .await
        .map_err(|err| Problem::from_store(err, "list executions"))?;
    let items: Vec<Value> = listed.items.iter().map(summary_json).collect();
    Ok(
        warp::reply::json(&json!({"items": items, "next_offset": listed.next_offset}))
            .into_response(),
    )
}

fn parse_status(text: &str) -> Result<ExecutionStatus, Problem> {
    STATUSES
        .into_iter()
        .find(|status| status.as_str() == text)
        .ok_or_else(|| {
            let names: Vec<&str> = STATUSES.iter().map(|status| status.as_str()).collect();
            Problem::invalid_field(
                "status",
                format!(
                    "unknown status `{}`: use one of {}",
                    text.chars().take(32).collect::<String>(),
                    names.join(", ")
                ),
            )
        })
}

async fn get_execution(
    id: String,
    _caller: Caller,
    state: AppState,
) -> Result<Response, Rejection> {
    let detail = load_execution(&state, &id).await?;
    Ok(warp::reply::json(&detail_json(&detail)).into_response())
}

async fn execution_logs(
    id: String,
    _caller: Caller,
    state: AppState,
    query: LogsQuery,
) -> Result<Response, Rejection> {
    let limit = match query.limit {
        None => DEFAULT_LOG_PAGE,
        Some(limit) if (1..=MAX_LOG_PAGE).contains(&limit) => limit,
        Some(limit) => {
            return Err(Problem::invalid_field(
                "limit",
                format!("limit {limit} is out of range: use 1 to {MAX_LOG_PAGE}"),
            )
            .into())
        }
    };
    let after = match query.after {
        Some(after) if after < 0 => {
            return Err(Problem::invalid_field(
                "after",
                "after must be 0 or a `seq` from an earlier page",
            )
            .into())
        }
        other => other,
    };
    let detail = load_execution(&state, &id).await?;
    let execution_id = detail.execution.id;
    let lines = state
        .store
        .logs(&execution_id, after, limit)
        .await
        .map_err(|err| Problem::from_store(err, "read logs"))?;

    // More lines may follow while the execution runs, or when the page is
    // full; a finished execution's short page is the end.
    let finished = crate::executions::is_final(detail.execution.status);
    let full = lines.len() == limit as usize;
    let next_after = match lines.last() {
        Some(last) if full || !finished => Some(last.id),
        Some(_) => None,
        None if finished => None,
        None => Some(after.unwrap_or(0)),
    };
    let items: Vec<Value> = lines
        .iter()
        .map(|line| {
            json!({
                "seq": line.id,
                "step_id": line.step_id,
                "stream": stream_name(line.stream),
                "line": line.line,
                "at": format_millis(line.created_at),
            })
        })
        .collect();
    Ok(warp::reply::json(&json!({"items": items, "next_after": next_after})).into_response())
}

async fn cancel_execution(
    id: String,
    caller: Caller,
    state: AppState,
) -> Result<Response, Rejection> {
    let detail = load_execution(&state, &id).await?;
    let execution = &detail.execution;
    caller
        .authorize(&state, Action::CancelExecution, Some(&execution.user_id))
        .await?;
    let status = state
        .executions
        .cancel(&execution.id, caller.user_id())
        .await
        .map_err(|error| match error {
            CancelError::NotFound { .. } => Problem::not_found("execution"),
            CancelError::AlreadyFinished { status, .. } => Problem::new(
                ProblemCode::Conflict,
                format!(
                    "the execution already ended {}: only queued or running executions can be \
                     cancelled",
                    status.as_str()
                ),
            ),
            other => {
                tracing::error!(execution_id = %execution.id, error = %other, "failed to cancel an execution");
                Problem::internal()
            }
        })?;

    let event = caller
        .client
        .annotate(AuditEvent::builder(
            AuditEventType::ExecutionCancelled,
            AuditOutcome::Success,
        ))
        .user(caller.user_id().clone())
        .workflow(execution.workflow_id.clone())
        .execution(execution.id.clone())
        .build();
    state.audit.record(event).await;

    let body = json!({"id": execution.id, "status": status});
    Ok(warp::reply::with_status(warp::reply::json(&body), StatusCode::ACCEPTED).into_response())
}

/// Returns execution `id` with its steps; a malformed or unknown id is 404.
async fn load_execution(state: &AppState, id: &str) -> Result<ExecutionDetail, Problem> {
    let not_found = || Problem::not_found("execution");
    let id = ExecutionId::parse(id).map_err(|_| not_found())?;
    state
        .store
        .get_execution(&id)
        .await
        .map_err(|err| Problem::from_store(err, "get execution"))?
        .ok_or_else(not_found)
}

fn optional_time(millis: Option<i64>) -> Value {
    millis.map_or(Value::Null, |millis| Value::String(format_millis(millis)))
}

/// Returns the summary fields of an execution.
fn summary_json(execution: &ExecutionRecord) -> Value {
    json!({
        "id": execution.id,
        "workflow_id": execution.workflow_id,
        "workflow_revision": execution.workflow_version,
        "status": execution.status,
        "created_by": execution.user_id,
        "created_at": format_millis(execution.created_at),
        "started_at": optional_time(execution.started_at),
        "finished_at": optional_time(execution.finished_at),
    })
}

fn step_json(step: &StepRecord) -> Value {
    json!({
        "id": step.step_id,
        "status": step.status,
        "exit_code": step.exit_code,
        "signal": step.signal,
        "outputs": step.outputs,
        "error": step.error,
        "profile": step.profile,
        "profile_hash": step.profile_hash,
        "confinement": step.confinement,
        "usage": step.usage,
        "started_at": optional_time(step.started_at),
        "finished_at": optional_time(step.finished_at),
        "duration_ms": step.duration_ms,
    })
}

/// Returns an execution with its error, masked parameters and steps.
fn detail_json(detail: &ExecutionDetail) -> Value {
    let mut body = summary_json(&detail.execution);
    if let Value::Object(fields) = &mut body {
        fields.insert("error".to_string(), json!(detail.execution.error));
        fields.insert(
            "parameters".to_string(),
            detail.execution.parameters.clone(),
        );
        let steps: Vec<Value> = detail.steps.iter().map(step_json).collect();
        fields.insert("steps".to_string(), Value::Array(steps));
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_filter_parsed() {
        for status in STATUSES {
            assert_eq!(parse_status(status.as_str()).unwrap(), status);
        }
        let problem = parse_status("done").unwrap_err();
        assert_eq!(problem.field.as_deref(), Some("status"));
    }

    #[test]
    fn parameter_errors_keep_paths() {
        let mut errors = crate::workflow::ValidationErrors::default();
        errors.0.push(crate::workflow::FieldError {
            path: "parameters.count".to_string(),
            message: "missing value for a required parameter; pass one".to_string(),
        });
        let problem = start_problem(StartError::InvalidParameters(errors));
        assert_eq!(problem.code, ProblemCode::ValidationFailed);
        assert_eq!(problem.field.as_deref(), Some("parameters.count"));
    }

    #[test]
    fn full_queue_asks_for_retry() {
        let problem = start_problem(StartError::QueueFull { limit: 3 });
        assert_eq!(problem.code, ProblemCode::NotReady);
        assert_eq!(problem.retry_after, Some(RETRY_AFTER_SECONDS));
    }
}
