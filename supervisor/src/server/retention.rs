//! The background task that prunes old executions, audit events and
//! expired refresh token families.

use std::time::Duration;

use tokio::sync::watch;

use crate::api::now_millis;
use crate::config::RetentionConfig;
use crate::store::{PruneCutoffs, Store, UnixMillis};

/// Computes the cutoffs at `now` for `retention`.
pub fn cutoffs(retention: &RetentionConfig, now: UnixMillis) -> PruneCutoffs {
    let before =
        |age: Duration| now.saturating_sub(i64::try_from(age.as_millis()).unwrap_or(i64::MAX));
    PruneCutoffs {
        executions_before: before(retention.executions),
        audit_before: before(retention.audit),
        // A family whose every token expired can no longer rotate.
        refresh_tokens_before: now,
    }
}

/// Prunes once every `retention.prune_interval`, starting right away, until
/// `shutdown` turns true.
pub async fn run(store: Store, retention: RetentionConfig, mut shutdown: watch::Receiver<bool>) {
    let mut interval = tokio::time::interval(retention.prune_interval);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
        match store.prune(cutoffs(&retention, now_millis())).await {
            Ok(counts) => {
                if counts.executions + counts.audit_events + counts.refresh_tokens > 0 {
                    tracing::info!(
                        executions = counts.executions,
                        audit_events = counts.audit_events,
                        refresh_tokens = counts.refresh_tokens,
                        "pruned history older than the retention period"
                    );
                }
            }
            Err(error) => {
                tracing::error!(%error, "failed to prune old history; retrying at the next interval")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::AuditEntry;

    fn audit_entry(ts: UnixMillis) -> AuditEntry {
        AuditEntry {
            ts,
            level: "info".into(),
            event_type: "logout".into(),
            user_id: None,
            workflow_id: None,
            execution_id: None,
            ip_address: None,
            user_agent: None,
            outcome: "success".into(),
            details: serde_json::json!({}),
        }
    }

    #[tokio::test]
    async fn task_prunes_then_stops() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("vwmp.db")).await.unwrap();
        let now = now_millis();
        store.insert_audit(audit_entry(1_000)).await.unwrap();
        store.insert_audit(audit_entry(now)).await.unwrap();

        let retention = RetentionConfig {
            executions: Duration::from_secs(3600),
            audit: Duration::from_secs(3600),
            prune_interval: Duration::from_secs(60),
        };
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(run(store.clone(), retention, stopped));

        // The first run starts right away; wait until it removed the old event.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let page = store
                .list_audit(Default::default(), Default::default())
                .await
                .unwrap();
            if page.items.len() == 1 {
                assert_eq!(page.items[0].entry.ts, now);
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "old audit event was not pruned"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }

        stop.send_replace(true);
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .expect("the task stops on shutdown")
            .unwrap();
    }

    #[test]
    fn cutoffs_subtract_retention() {
        let retention = RetentionConfig {
            executions: Duration::from_secs(10),
            audit: Duration::from_secs(20),
            prune_interval: Duration::from_secs(60),
        };
        let cutoffs = cutoffs(&retention, 100_000);
        assert_eq!(cutoffs.executions_before, 90_000);
        assert_eq!(cutoffs.audit_before, 80_000);
        assert_eq!(cutoffs.refresh_tokens_before, 100_000);
    }
}
