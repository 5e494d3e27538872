//! Startup recovery, retention pruning and integrity checks.

use rusqlite::{params, TransactionBehavior};
use serde::Serialize;

use super::codec::db_error;
use super::{Store, StoreError, UnixMillis};
use crate::model::ExecutionId;

/// Rows deleted per transaction while pruning. Small batches keep each
/// write short, so step events of running executions are not held up
/// behind a long delete.
pub const PRUNE_BATCH_ROWS: u32 = 500;

/// Problems of an integrity check written to the log; the rest are counted.
const MAX_LOGGED_PROBLEMS: usize = 20;

/// Error recorded on executions that were still queued or running when the
/// server stopped.
const INTERRUPTED_EXECUTION_ERROR: &str = "the server stopped before the execution finished";

/// Error recorded on their steps that were still pending or running.
const INTERRUPTED_STEP_ERROR: &str = "the server stopped before this step finished";

/// Times before which old rows are deleted, in unix milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PruneCutoffs {
    /// Finished executions that finished before this go, with their steps
    /// and logs. Queued and running executions are never pruned.
    pub executions_before: UnixMillis,
    /// Audit events older than this go.
    pub audit_before: UnixMillis,
    /// Refresh token families whose every token expired before this go.
    /// Such a family can no longer rotate, so reuse detection loses nothing.
    pub refresh_tokens_before: UnixMillis,
}

/// Rows deleted by [`Store::prune`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PruneCounts {
    pub executions: u64,
    pub audit_events: u64,
    pub refresh_tokens: u64,
}

/// Batched deletes: each statement deletes at most `?2` rows older than `?1`.
const DELETE_EXECUTIONS: &str = "DELETE FROM executions WHERE id IN (
    SELECT id FROM executions
    WHERE finished_at < ?1 AND status NOT IN ('queued', 'running') LIMIT ?2)";
const DELETE_AUDIT: &str = "DELETE FROM audit_events WHERE id IN (
    SELECT id FROM audit_events WHERE ts < ?1 LIMIT ?2)";
const DELETE_REFRESH_FAMILIES: &str = "DELETE FROM refresh_tokens WHERE family_id IN (
    SELECT family_id FROM refresh_tokens GROUP BY family_id
    HAVING max(expires_at) < ?1 LIMIT ?2)";

impl Store {
    /// Marks every queued or running execution, and its pending or running
    /// steps, `interrupted` at `now`, in one transaction, and returns the
    /// executions. Run it at startup, before new executions start: nothing
    /// can still be running them.
    pub async fn mark_interrupted(&self, now: UnixMillis) -> Result<Vec<ExecutionId>, StoreError> {
        self.write("mark interrupted executions", move |conn| {
            let failed = db_error("mark interrupted executions");
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(&failed)?;
            let ids = tx
                .prepare_cached("SELECT id FROM executions WHERE status IN ('queued', 'running') ORDER BY created_at")
                .and_then(|mut query| {
                    query
                        .query_map([], |row| row.get::<_, ExecutionId>(0))?
                        .collect::<rusqlite::Result<Vec<_>>>()
                })
                .map_err(&failed)?;
            tx.execute(
                "UPDATE steps SET status = 'interrupted', finished_at = ?1,
                     error = coalesce(error, ?2)
                 WHERE status IN ('pending', 'running') AND execution_id IN (
                     SELECT id FROM executions WHERE status IN ('queued', 'running'))",
                params![now, INTERRUPTED_STEP_ERROR],
            )
            .map_err(&failed)?;
            tx.execute(
                "UPDATE executions SET status = 'interrupted', finished_at = ?1,
                     error = coalesce(error, ?2)
                 WHERE status IN ('queued', 'running')",
                params![now, INTERRUPTED_EXECUTION_ERROR],
            )
            .map_err(&failed)?;
            tx.commit().map_err(&failed)?;
            Ok(ids)
        })
        .await
    }

    /// Deletes rows older than `cutoffs`, in batches of
    /// [`PRUNE_BATCH_ROWS`] per transaction. Steps and logs of a deleted
    /// execution go with it (`ON DELETE CASCADE`).
    pub async fn prune(&self, cutoffs: PruneCutoffs) -> Result<PruneCounts, StoreError> {
        Ok(PruneCounts {
            executions: self
                .delete_in_batches(
                    "prune executions",
                    DELETE_EXECUTIONS,
                    cutoffs.executions_before,
                )
                .await?,
            audit_events: self
                .delete_in_batches("prune audit events", DELETE_AUDIT, cutoffs.audit_before)
                .await?,
            refresh_tokens: self
                .delete_in_batches(
                    "prune refresh tokens",
                    DELETE_REFRESH_FAMILIES,
                    cutoffs.refresh_tokens_before,
                )
                .await?,
        })
    }

    /// Runs `sql` with (`cutoff`, batch size) until it deletes nothing and
    /// returns the rows deleted. Other writes can run between batches.
    async fn delete_in_batches(
        &self,
        operation: &'static str,
        sql: &'static str,
        cutoff: UnixMillis,
    ) -> Result<u64, StoreError> {
        let mut total = 0;
        loop {
            let deleted = self
                .write(operation, move |conn| {
                    conn.prepare_cached(sql)
                        .and_then(|mut delete| delete.execute(params![cutoff, PRUNE_BATCH_ROWS]))
                        .map_err(db_error(operation))
                })
                .await?;
            if deleted == 0 {
                return Ok(total);
            }
            total += deleted as u64;
        }
    }

    /// Runs `PRAGMA integrity_check` and `PRAGMA foreign_key_check` and
    /// returns true when both find nothing wrong. Problems found are logged.
    pub async fn integrity_check(&self) -> Result<bool, StoreError> {
        let problems = self
            .read("check database integrity", |conn| {
                let failed = db_error("check database integrity");
                let mut problems: Vec<String> = conn
                    .prepare("PRAGMA integrity_check")
                    .and_then(|mut query| {
                        query
                            .query_map([], |row| row.get::<_, String>(0))?
                            .collect::<rusqlite::Result<Vec<_>>>()
                    })
                    .map_err(&failed)?
                    .into_iter()
                    .filter(|line| line != "ok")
                    .collect();
                let foreign_keys = conn
                    .prepare("PRAGMA foreign_key_check")
                    .and_then(|mut query| {
                        query
                            .query_map([], |row| {
                                Ok(format!(
                                    "row {} of table {} refers to a missing row of {}",
                                    row.get::<_, Option<i64>>(1)?.unwrap_or_default(),
                                    row.get::<_, String>(0)?,
                                    row.get::<_, String>(2)?
                                ))
                            })?
                            .collect::<rusqlite::Result<Vec<_>>>()
                    })
                    .map_err(&failed)?;
                problems.extend(foreign_keys);
                Ok(problems)
            })
            .await?;

        for problem in problems.iter().take(MAX_LOGGED_PROBLEMS) {
            tracing::error!(path = %self.path().display(), %problem, "database integrity problem");
        }
        if problems.len() > MAX_LOGGED_PROBLEMS {
            tracing::error!(
                path = %self.path().display(),
                more = problems.len() - MAX_LOGGED_PROBLEMS,
                "further database integrity problems not logged"
            );
        }
        Ok(problems.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Event, EventSink, ExecutionStatus, StepStatus};
    use crate::store::test_support::{new_execution, new_user, open_store, seed_workflow};
    use crate::store::{AuditEntry, AuditFilter, NewRefreshToken, Page, StoreSink};

    const DAY: UnixMillis = 86_400_000;

    #[tokio::test]
    async fn interrupted_marks_unfinished() {
        let (_dir, store) = open_store().await;
        let (user, workflow) = seed_workflow(&store).await;
        let queued = store
            .create_execution(new_execution(&user, &workflow))
            .await
            .unwrap();
        let running = store
            .create_execution(new_execution(&user, &workflow))
            .await
            .unwrap();
        let done = store
            .create_execution(new_execution(&user, &workflow))
            .await
            .unwrap();

        let sink = StoreSink::new(store.clone(), running.id.clone());
        sink.record(&Event::ExecutionStarted {
            execution_id: running.id.to_string(),
        })
        .await
        .unwrap();
        sink.record(&Event::StepStarted {
            step_id: "fetch".to_string(),
            profile: "default".to_string(),
            profile_hash: "ab".to_string(),
        })
        .await
        .unwrap();
        store
            .set_execution_status(&done.id, ExecutionStatus::Succeeded, None)
            .await
            .unwrap();

        let mut marked = store.mark_interrupted(5_000).await.unwrap();
        marked.sort();
        let mut expected = vec![queued.id.clone(), running.id.clone()];
        expected.sort();
        assert_eq!(marked, expected);

        let detail = store.get_execution(&running.id).await.unwrap().unwrap();
        assert_eq!(detail.execution.status, ExecutionStatus::Interrupted);
        assert_eq!(detail.execution.finished_at, Some(5_000));
        assert!(detail
            .steps
            .iter()
            .all(|s| s.status == StepStatus::Interrupted));

        let detail = store.get_execution(&done.id).await.unwrap().unwrap();
        assert_eq!(detail.execution.status, ExecutionStatus::Succeeded);
        assert!(store.mark_interrupted(6_000).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn prune_removes_old_rows() {
        let (_dir, store) = open_store().await;
        let (user, workflow) = seed_workflow(&store).await;
        let old = store
            .create_execution(new_execution(&user, &workflow))
            .await
            .unwrap();
        let unfinished = store
            .create_execution(new_execution(&user, &workflow))
            .await
            .unwrap();
        let sink = StoreSink::new(store.clone(), old.id.clone());
        sink.record(&Event::StepLog {
            step_id: "fetch".to_string(),
            stream: vwmp_protocol::LogStream::Stdout,
            line: "old line".to_string(),
            truncated: false,
        })
        .await
        .unwrap();
        store
            .set_execution_status(&old.id, ExecutionStatus::Failed, None)
            .await
            .unwrap();
        for ts in [1, 2, 3 * DAY] {
            store
                .insert_audit(AuditEntry {
                    ts,
                    level: "info".to_string(),
                    event_type: "login_success".to_string(),
                    user_id: None,
                    workflow_id: None,
                    execution_id: None,
                    ip_address: None,
                    user_agent: None,
                    outcome: "success".to_string(),
                    details: serde_json::json!({}),
                })
                .await
                .unwrap();
        }
        for (hash, family, expires_at) in [("a", "f1", 10), ("b", "f1", 20), ("c", "f2", 10 * DAY)]
        {
            store
                .insert_refresh_token(NewRefreshToken {
                    token_hash: hash.to_string(),
                    family_id: family.to_string(),
                    user_id: user.id.clone(),
                    created_at: 0,
                    expires_at,
                })
                .await
                .unwrap();
        }

        // `now_millis` stamped the execution, so a cutoff in the future
        // covers it.
        let counts = store
            .prune(PruneCutoffs {
                executions_before: i64::MAX,
                audit_before: DAY,
                refresh_tokens_before: DAY,
            })
            .await
            .unwrap();
        assert_eq!(
            counts,
            PruneCounts {
                executions: 1,
                audit_events: 2,
                refresh_tokens: 2
            }
        );
        assert_eq!(store.get_execution(&old.id).await.unwrap(), None);
        assert!(store.logs(&old.id, None, 0).await.unwrap().is_empty());
        assert!(store.get_execution(&unfinished.id).await.unwrap().is_some());
        let audit = store
            .list_audit(AuditFilter::default(), Page::default())
            .await
            .unwrap();
        assert_eq!(audit.items.len(), 1);
        assert!(store.refresh_token_by_hash("c").await.unwrap().is_some());
        assert!(store.integrity_check().await.unwrap());
    }

    #[tokio::test]
    async fn prune_spans_batches() {
        let (_dir, store) = open_store().await;
        let count = PRUNE_BATCH_ROWS as i64 * 2 + 3;
        store
            .write("seed audit", move |conn| {
                let tx = conn.transaction().map_err(db_error("seed audit"))?;
                for ts in 0..count {
                    tx.execute(
                        "INSERT INTO audit_events (ts, level, event_type, outcome, details)
                         VALUES (?1, 'info', 'x', 'success', '{}')",
                        [ts],
                    )
                    .map_err(db_error("seed audit"))?;
                }
                tx.commit().map_err(db_error("seed audit"))
            })
            .await
            .unwrap();
        let counts = store
            .prune(PruneCutoffs {
                executions_before: 0,
                audit_before: i64::MAX,
                refresh_tokens_before: 0,
            })
            .await
            .unwrap();
        assert_eq!(counts.audit_events, count as u64);
    }

    #[tokio::test]
    async fn integrity_check_passes() {
        let (_dir, store) = open_store().await;
        store.create_user(new_user("alice", &[])).await.unwrap();
        assert!(store.integrity_check().await.unwrap());
    }

    #[tokio::test]
    async fn integrity_check_finds_dangling_row() {
        let (_dir, store) = open_store().await;
        store
            .write("break foreign key", |conn| {
                conn.execute_batch(
                    "PRAGMA foreign_keys = OFF;
                     INSERT INTO user_roles (user_id, role) VALUES ('gone', 'admin');
                     PRAGMA foreign_keys = ON;",
                )
                .map_err(db_error("break foreign key"))
            })
            .await
            .unwrap();
        assert!(!store.integrity_check().await.unwrap());
    }
}
