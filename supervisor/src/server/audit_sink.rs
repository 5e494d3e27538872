//! Stores audit events in the database: the [`AuditStore`] of the server's
//! audit log.

use crate::audit::{AuditEvent, AuditStore, BoxFuture};
use crate::store::{AuditEntry, Store};

/// Persists audit events through [`Store::insert_audit`].
#[derive(Debug, Clone)]
pub struct StoreAuditSink {
    store: Store,
}

impl StoreAuditSink {
    /// Creates a sink that writes to `store`.
    pub fn new(store: Store) -> Self {
        Self { store }
    }
}

/// Converts an event (already redacted by the audit log) to a store row.
pub fn audit_entry(event: &AuditEvent) -> AuditEntry {
    let nanos = event.timestamp.unix_timestamp_nanos();
    AuditEntry {
        ts: i64::try_from(nanos / 1_000_000).unwrap_or(i64::MAX),
        level: level_name(event),
        event_type: event.event_type.as_str().to_string(),
        user_id: event.user_id.clone(),
        workflow_id: event.workflow_id.clone(),
        execution_id: event.execution_id.clone(),
        ip_address: event.ip_address.map(|ip| ip.to_string()),
        user_agent: event.user_agent.clone(),
        outcome: outcome_name(event),
        details: event.details.clone(),
    }
}

/// Returns the serde name of the level (`info`, `warn`, `error`).
fn level_name(event: &AuditEvent) -> String {
    serde_json::to_value(event.level)
        .ok()
        .and_then(|value| value.as_str().map(str::to_string))
        .unwrap_or_else(|| "info".to_string())
}

/// Returns the serde name of the outcome (`success`, `failure`, `denied`).
fn outcome_name(event: &AuditEvent) -> String {
    serde_json::to_value(event.outcome)
        .ok()
        .and_then(|value| value.as_str().map(str::to_string))
        .unwrap_or_else(|| "failure".to_string())
}

impl AuditStore for StoreAuditSink {
    fn persist<'a>(&'a self, event: &'a AuditEvent) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            self.store
                .insert_audit(audit_entry(event))
                .await
                .map(|_| ())
                .map_err(|error| error.to_string())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{AuditEventType, AuditOutcome};
    use crate::model::UserId;

    #[test]
    fn entry_uses_serde_names() {
        let user = UserId::generate();
        let event = AuditEvent::builder(AuditEventType::PermissionDenied, AuditOutcome::Denied)
            .user(user.clone())
            .ip_address("127.0.0.1".parse().unwrap())
            .detail("action", "list_users")
            .build();
        let entry = audit_entry(&event);
        assert_eq!(entry.level, "warn");
        assert_eq!(entry.outcome, "denied");
        assert_eq!(entry.event_type, "permission_denied");
        assert_eq!(entry.user_id, Some(user));
        assert_eq!(entry.ip_address.as_deref(), Some("127.0.0.1"));
        assert_eq!(entry.details["action"], "list_users");
    }

    #[tokio::test]
    async fn sink_stores_event() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("vwmp.db")).await.unwrap();
        let sink = StoreAuditSink::new(store.clone());
        let event = AuditEvent::builder(AuditEventType::Logout, AuditOutcome::Success).build();
        sink.persist(&event).await.unwrap();
        let page = store
            .list_audit(Default::default(), Default::default())
            .await
            .unwrap();
        assert_eq!(page.items.len(), 1);
        assert_eq!(page.items[0].entry.event_type, "logout");
    }
}
