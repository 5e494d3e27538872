//! `/api/v1/workflows`: list, read, create, update and delete workflows.
//!
//! Every update stores a new revision; executions keep running the revision
//! they started with. A body is checked in two passes: the workflow format
//! (unknown fields are `unknown_field` with their path), then the rules of
//! [`crate::workflow::validate`] against the loaded plugins, each failed
//! field listed in the problem's `errors`.

use serde_json::{json, Value};
use warp::http::header::LOCATION;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

use super::body::json_body;
use super::principal::{authenticated, authorized, Caller};
use super::problem::{FieldError, Problem, ProblemCode};
use super::query::{query, PageQuery};
use super::{finish, format_millis, one_of, with_state, Route, API_BASE};
use crate::audit::{AuditEvent, AuditEventType, AuditOutcome};
use crate::auth::rbac::{required_role, Action};
use crate::model::WorkflowId;
use crate::plugins::RegistryCatalog;
use crate::server::AppState;
use crate::store::WorkflowRecord;
use crate::workflow::{self, Workflow, WorkflowError};

/// Routes of this file.
pub fn routes(state: &AppState) -> Route {
    let limit = state.max_body_bytes();

    let list = warp::path!("api" / "v1" / "workflows")
        .and(warp::get())
        .and(authorized(state, Action::ListWorkflows))
        .and(with_state(state))
        .and(query::<PageQuery>())
        .and_then(list_workflows);

    let get = warp::path!("api" / "v1" / "workflows" / String)
        .and(warp::get())
        .and(authorized(state, Action::GetWorkflow))
        .and(with_state(state))
        .and_then(get_workflow);

    let create = warp::path!("api" / "v1" / "workflows")
        .and(warp::post())
        .and(authorized(state, Action::CreateWorkflow))
        .and(with_state(state))
        .and(json_body::<Value>(limit))
        .and_then(create_workflow);

    let update = warp::path!("api" / "v1" / "workflows" / String)
        .and(warp::put())
        .and(holding_role(state, Action::UpdateWorkflow))
        .and(with_state(state))
        .and(json_body::<Value>(limit))
        .and_then(update_workflow);

    let delete = warp::path!("api" / "v1" / "workflows" / String)
        .and(warp::delete())
        .and(holding_role(state, Action::DeleteWorkflow))
        .and(with_state(state))
        .and_then(delete_workflow);

    one_of(vec![
        finish(state, "/api/v1/workflows", list),
        finish(state, "/api/v1/workflows", create),
        finish(state, "/api/v1/workflows/{id}", get),
        finish(state, "/api/v1/workflows/{id}", update),
        finish(state, "/api/v1/workflows/{id}", delete),
    ])
}

async fn list_workflows(
    _caller: Caller,
    state: AppState,
    query: PageQuery,
) -> Result<Response, Rejection> {
    let page = query.page()?;
    let listed = state
        .store
        .list_workflow_records(page)
        .await
        .map_err(|err| Problem::from_store(err, "list workflows"))?;
    let items: Vec<Value> = listed.items.iter().map(summary_json).collect();
    Ok(
        warp::reply::json(&json!({"items": items, "next_offset": listed.next_offset}))
            .into_response(),
    )
}

async fn get_workflow(id: String, _caller: Caller, state: AppState) -> Result<Response, Rejection> {
    let record = load_workflow(&state, &id).await?;
    Ok(warp::reply::json(&detail_json(&record)).into_response())
}

async fn create_workflow(
    caller: Caller,
    state: AppState,
    body: Value,
) -> Result<Response, Rejection> {
    let (workflow, definition) = check_definition(&state, &body)?;
    let record = state
        .store
        .create_workflow(caller.user_id(), &workflow.name, definition)
        .await
        .map_err(|err| Problem::from_store(err, "create workflow"))?;
    audit(&state, &caller, AuditEventType::WorkflowCreated, &record).await;
    tracing::info!(workflow_id = %record.summary.id, user_id = %caller.user_id(), "workflow created");

    let location = format!("{API_BASE}/workflows/{}", record.summary.id);
    let reply = warp::reply::with_status(
        warp::reply::json(&detail_json(&record)),
        StatusCode::CREATED,
    );
    Ok(warp::reply::with_header(reply, LOCATION, location).into_response())
}

async fn update_workflow(
    id: String,
    caller: Caller,
    state: AppState,
    body: Value,
) -> Result<Response, Rejection> {
    let current = load_workflow(&state, &id).await?;
    caller
        .authorize(
            &state,
            Action::UpdateWorkflow,
            Some(&current.summary.owner_id),
        )
        .await?;
    let (workflow, definition) = check_definition(&state, &body)?;
    let record = state
        .store
        .update_workflow(
            &current.summary.id,
            &workflow.name,
            definition,
            caller.user_id(),
        )
        .await
        .map_err(|err| Problem::from_store(err, "update workflow"))?;
    audit(&state, &caller, AuditEventType::WorkflowUpdated, &record).await;
    tracing::info!(
        workflow_id = %record.summary.id,
        revision = record.version,
        user_id = %caller.user_id(),
        "workflow updated"
    );
    Ok(warp::reply::json(&detail_json(&record)).into_response())
}

async fn delete_workflow(
    id: String,
    caller: Caller,
    state: AppState,
) -> Result<Response, Rejection> {
    let current = load_workflow(&state, &id).await?;
    caller
        .authorize(
            &state,
            Action::DeleteWorkflow,
            Some(&current.summary.owner_id),
        )
        .await?;
    state
        .store
        .delete_workflow(&current.summary.id)
        .await
        .map_err(|err| Problem::from_store(err, "delete workflow"))?;
    audit(&state, &caller, AuditEventType::WorkflowDeleted, &current).await;
    tracing::info!(workflow_id = %current.summary.id, user_id = %caller.user_id(), "workflow deleted");
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Returns a filter that authenticates the request and checks that the
/// caller has the role `action` needs, before any body is read. The
/// ownership part of `action` is checked by the handler, once it has loaded
/// the resource. A denial is a 403 with an audit event naming `action`.
pub(super) fn holding_role(
    state: &AppState,
    action: Action,
) -> impl Filter<Extract = (Caller,), Error = Rejection> + Clone {
    with_state(state).and(authenticated(state)).and_then(
        move |state: AppState, caller: Caller| async move {
            if !caller.principal.has_role(required_role(action)) {
                // The role check fails first, so this reports the missing
                // role and audits the denial.
                caller
                    .authorize(&state, action, None)
                    .await
                    .map_err(warp::reject::custom)?;
            }
            Ok::<_, Rejection>(caller)
        },
    )
}

/// Returns the current revision of workflow `id`; a malformed, unknown or
/// deleted id is 404.
pub(super) async fn load_workflow(state: &AppState, id: &str) -> Result<WorkflowRecord, Problem> {
    let not_found = || Problem::not_found("workflow");
    let id = WorkflowId::parse(id).map_err(|_| not_found())?;
    state
        .store
        .get_workflow(&id)
        .await
        .map_err(|err| Problem::from_store(err, "get workflow"))?
        .ok_or_else(not_found)
}

/// Checks a workflow document against the format and the validation rules,
/// and returns it with the JSON text to store.
fn check_definition(state: &AppState, body: &Value) -> Result<(Workflow, String), Problem> {
    // The body filter parsed the JSON; the workflow parser adds the nesting
    // cap and reports fields by path.
    let bytes = serde_json::to_vec(body).map_err(|err| {
        tracing::error!(error = %err, "failed to encode a parsed request body");
        Problem::internal()
    })?;
    let workflow = Workflow::from_json(&bytes).map_err(format_problem)?;

    let catalog = RegistryCatalog(&state.plugins);
    workflow::validate(&workflow, &catalog).map_err(|errors| {
        let count = errors.0.len();
        let fields = errors
            .0
            .into_iter()
            .map(|error| FieldError {
                field: error.path,
                detail: error.message,
            })
            .collect();
        let detail = if count == 1 {
            "the workflow is invalid: see `field` and `errors`".to_string()
        } else {
            format!("the workflow has {count} problems: see `errors`")
        };
        Problem::new(ProblemCode::ValidationFailed, detail).with_errors(fields)
    })?;

    let definition = workflow.to_json().map_err(|err| {
        tracing::error!(error = %err, "failed to encode a validated workflow");
        Problem::internal()
    })?;
    Ok((workflow, definition))
}

/// Maps an error of the workflow format to a problem with its field path.
fn format_problem(error: WorkflowError) -> Problem {
    match error {
        WorkflowError::TooLarge { limit, .. } => Problem::new(
            ProblemCode::BodyTooLarge,
            format!("the workflow exceeds {limit} bytes: shorten it or split it"),
        ),
        WorkflowError::TooDeep { path, limit } => Problem::invalid_field(
            path.clone(),
            format!("`{path}` is nested deeper than {limit} levels: flatten it"),
        ),
        WorkflowError::Decode { path, reason, .. } => {
            if let Some(name) = unknown_field_name(&reason) {
                let field = if path.is_empty() {
                    name.to_string()
                } else {
                    path
                };
                return Problem::new(
                    ProblemCode::UnknownField,
                    format!("unknown field `{field}`: remove it or check its spelling ({reason})"),
                )
                .with_field(field);
            }
            if path.is_empty() {
                Problem::new(
                    ProblemCode::InvalidBody,
                    format!("the workflow has the wrong shape: {reason}"),
                )
            } else {
                Problem::new(
                    ProblemCode::InvalidBody,
                    format!("invalid value for `{path}`: {reason}"),
                )
                .with_field(path)
            }
        }
        other => Problem::new(ProblemCode::InvalidBody, other.to_string()),
    }
}

/// Extracts `name` from serde's "unknown field `name`, expected ..." text.
fn unknown_field_name(reason: &str) -> Option<&str> {
    let rest = reason.strip_prefix("unknown field `")?;
    let end = rest.find('`')?;
    Some(&rest[..end])
}

/// Returns a list entry: the summary with the definition's metadata.
fn summary_json(record: &WorkflowRecord) -> Value {
    let definition: Value = serde_json::from_str(&record.definition).unwrap_or(Value::Null);
    json!({
        "id": record.summary.id,
        "name": record.summary.name,
        "version": definition.get("version"),
        "type": definition.get("type"),
        "description": definition.get("description"),
        "owner_id": record.summary.owner_id,
        "revision": record.version,
        "created_at": format_millis(record.summary.created_at),
        "updated_at": format_millis(record.summary.updated_at),
    })
}

/// Returns a workflow with its definition.
fn detail_json(record: &WorkflowRecord) -> Value {
    let definition: Value = serde_json::from_str(&record.definition).unwrap_or(Value::Null);
    json!({
        "id": record.summary.id,
        "owner_id": record.summary.owner_id,
        "revision": record.version,
        "created_at": format_millis(record.summary.created_at),
        "updated_at": format_millis(record.summary.updated_at),
        "definition": definition,
    })
}

async fn audit(state: &AppState, caller: &Caller, kind: AuditEventType, record: &WorkflowRecord) {
    let event = caller
        .client
        .annotate(AuditEvent::builder(kind, AuditOutcome::Success))
        .user(caller.user_id().clone())
        .workflow(record.summary.id.clone())
        .detail("revision", record.version)
        .build();
    state.audit.record(event).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem_for(document: Value) -> Problem {
        let bytes = serde_json::to_vec(&document).unwrap();
        format_problem(Workflow::from_json(&bytes).unwrap_err())
    }

    #[test]
    fn unknown_field_named_with_path() {
        let problem = problem_for(json!({
            "name": "x", "version": "1.0.0", "type": "t",
            "steps": [{"id": "a", "handler": "p.h", "retries": 3}]
        }));
        assert_eq!(problem.code, ProblemCode::UnknownField);
        assert_eq!(problem.field.as_deref(), Some("steps[0].retries"));
    }

    #[test]
    fn unknown_top_level_field_named() {
        let problem = problem_for(json!({
            "name": "x", "version": "1.0.0", "type": "t", "steps": [], "owner": "me"
        }));
        assert_eq!(problem.code, ProblemCode::UnknownField);
        assert_eq!(problem.field.as_deref(), Some("owner"));
    }

    #[test]
    fn wrong_type_names_field() {
        let problem = problem_for(json!({
            "name": "x", "version": "1.0.0", "type": "t",
            "steps": [{"id": "a", "handler": "p.h", "timeout_seconds": "soon"}]
        }));
        assert_eq!(problem.code, ProblemCode::InvalidBody);
        assert_eq!(problem.field.as_deref(), Some("steps[0].timeout_seconds"));
    }
}
