//! Stored audit events and their filtered listing.

use rusqlite::types::Value;
use rusqlite::{params, params_from_iter};
use serde::Serialize;

use super::codec::{db_error, json_column, to_json};
use super::{Page, Paged, Store, StoreError, UnixMillis};
use crate::model::{ExecutionId, UserId, WorkflowId};

/// Maximum size of an event's `details` as JSON, in bytes. Details are a
/// few fields; the bound keeps one event from filling the database.
pub const MAX_AUDIT_DETAILS_BYTES: usize = 16 * 1024;

/// Maximum stored length of a user agent in characters; longer ones are
/// cut, because an audit event must not be lost to a long header.
pub const MAX_USER_AGENT_CHARS: usize = 512;

/// Maximum length of the short text fields (level, event type, outcome,
/// IP address) in characters.
const MAX_LABEL_CHARS: usize = 64;

/// One audit event, as the audit module builds it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEntry {
    pub ts: UnixMillis,
    /// Severity, such as `info` or `warn`.
    pub level: String,
    /// What happened, such as `login_failure` or `workflow_updated`.
    pub event_type: String,
    pub user_id: Option<UserId>,
    pub workflow_id: Option<WorkflowId>,
    pub execution_id: Option<ExecutionId>,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    /// Result, such as `success`, `failure` or `denied`.
    pub outcome: String,
    /// Further fields as a JSON value, with secrets already redacted.
    pub details: serde_json::Value,
}

/// A stored audit event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditRecord {
    pub id: i64,
    #[serde(flatten)]
    pub entry: AuditEntry,
}

/// Conditions on listed audit events; `None` fields match everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Earliest time, inclusive.
    pub since: Option<UnixMillis>,
    /// Latest time, exclusive.
    pub until: Option<UnixMillis>,
    pub user_id: Option<UserId>,
    pub event_type: Option<String>,
}

fn validate_label(field: &'static str, value: &str) -> Result<(), StoreError> {
    let chars = value.chars().count();
    if chars == 0 || chars > MAX_LABEL_CHARS || value.chars().any(char::is_control) {
        return Err(StoreError::invalid(
            field,
            format!("use 1 to {MAX_LABEL_CHARS} characters without control characters"),
        ));
    }
    Ok(())
}

/// Checks the fields of `entry` and cuts its user agent to
/// [`MAX_USER_AGENT_CHARS`].
fn prepare(mut entry: AuditEntry) -> Result<(AuditEntry, String), StoreError> {
    validate_label("audit level", &entry.level)?;
    validate_label("audit event type", &entry.event_type)?;
    validate_label("audit outcome", &entry.outcome)?;
    if let Some(ip) = &entry.ip_address {
        validate_label("audit IP address", ip)?;
    }
    if let Some(agent) = &mut entry.user_agent {
        if let Some((cut, _)) = agent.char_indices().nth(MAX_USER_AGENT_CHARS) {
            agent.truncate(cut);
        }
    }
    let details = to_json("audit details", &entry.details)?;
    if details.len() > MAX_AUDIT_DETAILS_BYTES {
        return Err(StoreError::invalid(
            "audit details",
            format!(
                "are {} bytes as JSON; the maximum is {MAX_AUDIT_DETAILS_BYTES}",
                details.len()
            ),
        ));
    }
    Ok((entry, details))
}

fn read_audit(row: &rusqlite::Row<'_>) -> rusqlite::Result<AuditRecord> {
    Ok(AuditRecord {
        id: row.get(0)?,
        entry: AuditEntry {
            ts: row.get(1)?,
            level: row.get(2)?,
            event_type: row.get(3)?,
            user_id: row.get(4)?,
            workflow_id: row.get(5)?,
            execution_id: row.get(6)?,
            ip_address: row.get(7)?,
            user_agent: row.get(8)?,
            outcome: row.get(9)?,
            details: json_column(row, 10)?,
        },
    })
}

fn filter_clause(filter: &AuditFilter) -> (String, Vec<Value>) {
    let mut conditions = Vec::new();
    let mut values = Vec::new();
    if let Some(since) = filter.since {
        conditions.push("ts >= ?");
        values.push(Value::Integer(since));
    }
    if let Some(until) = filter.until {
        conditions.push("ts < ?");
        values.push(Value::Integer(until));
    }
    if let Some(user_id) = &filter.user_id {
        conditions.push("user_id = ?");
        values.push(Value::Text(user_id.to_string()));
    }
    if let Some(event_type) = &filter.event_type {
        conditions.push("event_type = ?");
        values.push(Value::Text(event_type.clone()));
    }
    if conditions.is_empty() {
        (String::new(), values)
    } else {
        (format!("WHERE {}", conditions.join(" AND ")), values)
    }
}

impl Store {
    /// Stores an audit event and returns its id. A user agent longer than
    /// [`MAX_USER_AGENT_CHARS`] is cut; other fields out of bounds are
    /// rejected with [`StoreError::Invalid`].
    pub async fn insert_audit(&self, entry: AuditEntry) -> Result<i64, StoreError> {
        let (entry, details) = prepare(entry)?;
        self.write("store audit event", move |conn| {
            conn.prepare_cached(
                "INSERT INTO audit_events (ts, level, event_type, user_id, workflow_id, execution_id,
                     ip_address, user_agent, outcome, details)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )
            .and_then(|mut insert| {
                insert.insert(params![
                    entry.ts,
                    entry.level,
                    entry.event_type,
                    entry.user_id,
                    entry.workflow_id,
                    entry.execution_id,
                    entry.ip_address,
                    entry.user_agent,
                    entry.outcome,
                    details
                ])
            })
            .map_err(db_error("store audit event"))
        })
        .await
    }

    /// Lists audit events matching `filter`, newest first.
    pub async fn list_audit(
        &self,
        filter: AuditFilter,
        page: Page,
    ) -> Result<Paged<AuditRecord>, StoreError> {
        self.read("list audit events", move |conn| {
            let (clause, mut values) = filter_clause(&filter);
            let sql = format!(
                "SELECT id, ts, level, event_type, user_id, workflow_id, execution_id, ip_address,
                        user_agent, outcome, details
                 FROM audit_events {clause} ORDER BY ts DESC, id DESC LIMIT ? OFFSET ?"
            );
            values.push(Value::Integer(page.query_limit()));
            values.push(Value::Integer(page.query_offset()));
            let rows = conn
                .prepare_cached(&sql)
                .and_then(|mut query| {
                    query
                        .query_map(params_from_iter(values), read_audit)?
                        .collect::<rusqlite::Result<Vec<_>>>()
                })
                .map_err(db_error("list audit events"))?;
            Ok(page.finish(rows))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_support::open_store;

    fn entry(ts: UnixMillis, event_type: &str, user_id: Option<&UserId>) -> AuditEntry {
        AuditEntry {
            ts,
            level: "info".to_string(),
            event_type: event_type.to_string(),
            user_id: user_id.cloned(),
            workflow_id: None,
            execution_id: None,
            ip_address: Some("192.0.2.7".to_string()),
            user_agent: Some("curl/8.5".to_string()),
            outcome: "success".to_string(),
            details: serde_json::json!({ "reason": "test" }),
        }
    }

    #[tokio::test]
    async fn insert_and_list() {
        let (_dir, store) = open_store().await;
        let user = UserId::generate();
        let stored = entry(1_000, "login_success", Some(&user));
        let id = store.insert_audit(stored.clone()).await.unwrap();
        let listed = store
            .list_audit(AuditFilter::default(), Page::default())
            .await
            .unwrap();
        assert_eq!(listed.items, vec![AuditRecord { id, entry: stored }]);
    }

    #[tokio::test]
    async fn filters_apply() {
        let (_dir, store) = open_store().await;
        let alice = UserId::generate();
        let bob = UserId::generate();
        for (ts, kind, user) in [
            (1_000, "login_success", &alice),
            (2_000, "login_failure", &alice),
            (3_000, "login_success", &bob),
            (4_000, "login_success", &alice),
        ] {
            store
                .insert_audit(entry(ts, kind, Some(user)))
                .await
                .unwrap();
        }
        let filter = AuditFilter {
            since: Some(1_000),
            until: Some(4_000),
            user_id: Some(alice.clone()),
            event_type: Some("login_success".to_string()),
        };
        let listed = store.list_audit(filter, Page::default()).await.unwrap();
        let times: Vec<_> = listed.items.iter().map(|r| r.entry.ts).collect();
        assert_eq!(times, [1_000]);

        let all_alice = AuditFilter {
            user_id: Some(alice),
            ..Default::default()
        };
        let listed = store.list_audit(all_alice, Page::default()).await.unwrap();
        let times: Vec<_> = listed.items.iter().map(|r| r.entry.ts).collect();
        assert_eq!(times, [4_000, 2_000, 1_000]);
    }

    #[tokio::test]
    async fn long_user_agent_cut() {
        let (_dir, store) = open_store().await;
        let mut long = entry(1, "login_success", None);
        long.user_agent = Some("é".repeat(MAX_USER_AGENT_CHARS + 10));
        store.insert_audit(long).await.unwrap();
        let listed = store
            .list_audit(AuditFilter::default(), Page::default())
            .await
            .unwrap();
        let agent = listed.items[0].entry.user_agent.clone().unwrap_or_default();
        assert_eq!(agent.chars().count(), MAX_USER_AGENT_CHARS);
    }

    #[tokio::test]
    async fn oversized_details_rejected() {
        let (_dir, store) = open_store().await;
        let mut big = entry(1, "login_success", None);
        big.details = serde_json::json!({ "blob": "x".repeat(MAX_AUDIT_DETAILS_BYTES) });
        let result = store.insert_audit(big).await;
        assert!(matches!(
            result,
            Err(StoreError::Invalid {
                field: "audit details",
                ..
            })
        ));
    }

    #[tokio::test]
    async fn empty_event_type_rejected() {
        let (_dir, store) = open_store().await;
        let result = store.insert_audit(entry(1, "", None)).await;
        assert!(matches!(result, Err(StoreError::Invalid { .. })));
    }
}
