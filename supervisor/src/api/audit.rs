//! `GET /audit` (admin): stored audit events, newest first, with filters.

use serde::{Deserialize, Serialize};
use warp::reply::Response;
use warp::{Filter, Reply};

use super::principal::{authorized, Caller};
use super::problem::Problem;
use super::query::{page, query};
use super::{finish, format_millis, one_of, with_state, Route};
use crate::audit::{parse_timestamp, AuditEventType};
use crate::auth::rbac::Action;
use crate::model::{ExecutionId, UserId, WorkflowId};
use crate::server::AppState;
use crate::store::{AuditFilter, AuditRecord, UnixMillis};

/// Route template of this file.
pub const AUDIT: &str = "/api/v1/audit";

/// Query of `GET /audit`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuditQuery {
    /// Earliest time, inclusive (RFC 3339).
    from: Option<String>,
    /// Latest time, exclusive (RFC 3339).
    to: Option<String>,
    user_id: Option<String>,
    event_type: Option<String>,
    limit: Option<u32>,
    offset: Option<u64>,
}

/// An audit event as the API shows it.
#[derive(Debug, Serialize)]
struct AuditView {
    id: i64,
    timestamp: String,
    level: String,
    event_type: String,
    user_id: Option<UserId>,
    workflow_id: Option<WorkflowId>,
    execution_id: Option<ExecutionId>,
    ip_address: Option<String>,
    user_agent: Option<String>,
    outcome: String,
    details: serde_json::Value,
}

impl From<AuditRecord> for AuditView {
    fn from(record: AuditRecord) -> Self {
        let entry = record.entry;
        AuditView {
            id: record.id,
            timestamp: format_millis(entry.ts),
            level: entry.level,
            event_type: entry.event_type,
            user_id: entry.user_id,
            workflow_id: entry.workflow_id,
            execution_id: entry.execution_id,
            ip_address: entry.ip_address,
            user_agent: entry.user_agent,
            outcome: entry.outcome,
            details: entry.details,
        }
    }
}

/// Routes of this file.
pub fn routes(state: &AppState) -> Route {
    let list = warp::path!("api" / "v1" / "audit")
        .and(warp::get())
        .and(with_state(state))
        .and(authorized(state, Action::ListAudit))
        .and(query::<AuditQuery>())
        .and_then(
            |state: AppState, _caller: Caller, query: AuditQuery| async move {
                list_audit(&state, query)
                    .await
                    .map_err(warp::reject::custom)
            },
        );
    one_of(vec![finish(state, AUDIT, list)])
}

async fn list_audit(state: &AppState, query: AuditQuery) -> Result<Response, Problem> {
    let page = page(query.limit, query.offset)?;
    let filter = AuditFilter {
        since: query
            .from
            .as_deref()
            .map(|text| parse_time("from", text))
            .transpose()?,
        until: query
            .to
            .as_deref()
            .map(|text| parse_time("to", text))
            .transpose()?,
        user_id: query
            .user_id
            .as_deref()
            .map(|text| {
                UserId::parse(text)
                    .map_err(|error| Problem::invalid_field("user_id", error.to_string()))
            })
            .transpose()?,
        event_type: query
            .event_type
            .as_deref()
            .map(|text| {
                AuditEventType::parse(text)
                    .map(|event_type| event_type.as_str().to_string())
                    .ok_or_else(|| {
                        Problem::invalid_field(
                            "event_type",
                            "unknown event_type: use a snake_case event name such as login_failed",
                        )
                    })
            })
            .transpose()?,
    };
    let events = state
        .store
        .list_audit(filter, page)
        .await
        .map_err(|error| Problem::from_store(error, "list audit events"))?;
    let body = serde_json::json!({
        "items": events.items.into_iter().map(AuditView::from).collect::<Vec<_>>(),
        "next_offset": events.next_offset,
    });
    Ok(warp::reply::json(&body).into_response())
}

/// Parses an RFC 3339 filter time into unix milliseconds.
fn parse_time(field: &'static str, text: &str) -> Result<UnixMillis, Problem> {
    let time = parse_timestamp(text).map_err(|_| {
        Problem::invalid_field(
            field,
            format!("{field} is not an RFC 3339 time: use a form such as 2026-01-31T12:00:00Z"),
        )
    })?;
    i64::try_from(time.unix_timestamp_nanos() / 1_000_000)
        .map_err(|_| Problem::invalid_field(field, format!("{field} is out of range")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_time_parsed() {
        assert_eq!(parse_time("from", "1970-01-01T00:00:01Z").unwrap(), 1000);
        assert_eq!(
            parse_time("from", "1970-01-01T01:00:01+01:00").unwrap(),
            1000
        );
        let problem = parse_time("to", "yesterday").unwrap_err();
        assert_eq!(problem.field.as_deref(), Some("to"));
    }
}
