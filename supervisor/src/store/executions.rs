//! Executions of workflow versions and the state of their steps.

use rusqlite::types::Value;
use rusqlite::{params, params_from_iter, OptionalExtension, TransactionBehavior};
use serde::Serialize;
use vwmp_protocol::{Confinement, ResourceUsage};

use super::codec::{
    db_error, execution_is_final, is_foreign_key_violation, is_unique_violation, json_column,
    now_millis, optional_json_column, to_json,
};
use super::{Page, Paged, Store, StoreError, UnixMillis};
use crate::engine::{ExecutionStatus, StepStatus};
use crate::model::{ExecutionId, UserId, WorkflowId};
use crate::workflow::{MAX_DOCUMENT_BYTES, MAX_STEPS};

/// Maximum length of a step id in characters, as the workflow format allows.
pub const MAX_STEP_ID_CHARS: usize = 64;

/// Error recorded on steps that never started because their execution
/// ended first.
const NOT_STARTED_ERROR: &str = "the execution ended before this step started";

/// An execution to create, queued, with all its steps pending.
#[derive(Debug, Clone)]
pub struct NewExecution {
    pub id: ExecutionId,
    pub workflow_id: WorkflowId,
    pub workflow_version: u32,
    pub user_id: UserId,
    /// Parameter values with secret values already masked by the caller.
    pub parameters: serde_json::Value,
    /// Step ids in workflow order.
    pub step_ids: Vec<String>,
}

/// A stored execution.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExecutionRecord {
    pub id: ExecutionId,
    pub workflow_id: WorkflowId,
    pub workflow_version: u32,
    pub user_id: UserId,
    pub status: ExecutionStatus,
    pub parameters: serde_json::Value,
    /// Why the execution stopped early, when it did.
    pub error: Option<String>,
    pub created_at: UnixMillis,
    pub started_at: Option<UnixMillis>,
    pub finished_at: Option<UnixMillis>,
}

/// The stored state of one step of an execution.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepRecord {
    pub step_id: String,
    /// Index of the step in the workflow.
    pub position: u32,
    pub status: StepStatus,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub outputs: Option<serde_json::Value>,
    pub error: Option<String>,
    pub profile: Option<String>,
    pub profile_hash: Option<String>,
    pub confinement: Option<Confinement>,
    pub usage: Option<ResourceUsage>,
    pub denial_hints: Vec<String>,
    pub log_truncated: bool,
    pub started_at: Option<UnixMillis>,
    pub finished_at: Option<UnixMillis>,
    pub duration_ms: Option<u64>,
}

/// An execution with its steps in workflow order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExecutionDetail {
    pub execution: ExecutionRecord,
    pub steps: Vec<StepRecord>,
}

/// Conditions on listed executions; `None` fields match everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecutionFilter {
    pub workflow_id: Option<WorkflowId>,
    pub user_id: Option<UserId>,
    pub status: Option<ExecutionStatus>,
}

fn validate(execution: &NewExecution) -> Result<(), StoreError> {
    if execution.step_ids.is_empty() || execution.step_ids.len() > MAX_STEPS {
        return Err(StoreError::invalid(
            "step ids",
            format!("an execution has 1 to {MAX_STEPS} steps"),
        ));
    }
    for step_id in &execution.step_ids {
        let chars = step_id.chars().count();
        if chars == 0 || chars > MAX_STEP_ID_CHARS {
            return Err(StoreError::invalid(
                "step id",
                format!("use 1 to {MAX_STEP_ID_CHARS} characters"),
            ));
        }
    }
    Ok(())
}

const EXECUTION_COLUMNS: &str = "id, workflow_id, workflow_version, user_id, status, parameters,
    error, created_at, started_at, finished_at";

fn read_execution(row: &rusqlite::Row<'_>) -> rusqlite::Result<ExecutionRecord> {
    Ok(ExecutionRecord {
        id: row.get(0)?,
        workflow_id: row.get(1)?,
        workflow_version: row.get(2)?,
        user_id: row.get(3)?,
        status: row.get(4)?,
        parameters: json_column(row, 5)?,
        error: row.get(6)?,
        created_at: row.get(7)?,
        started_at: row.get(8)?,
        finished_at: row.get(9)?,
    })
}

fn read_step(row: &rusqlite::Row<'_>) -> rusqlite::Result<StepRecord> {
    Ok(StepRecord {
        step_id: row.get(0)?,
        position: row.get(1)?,
        status: row.get(2)?,
        exit_code: row.get(3)?,
        signal: row.get(4)?,
        outputs: optional_json_column(row, 5)?,
        error: row.get(6)?,
        profile: row.get(7)?,
        profile_hash: row.get(8)?,
        confinement: optional_json_column(row, 9)?,
        usage: optional_json_column(row, 10)?,
        denial_hints: optional_json_column(row, 11)?.unwrap_or_default(),
        log_truncated: row.get(12)?,
        started_at: row.get(13)?,
        finished_at: row.get(14)?,
        duration_ms: row
            .get::<_, Option<i64>>(15)?
            .and_then(|millis| u64::try_from(millis).ok()),
    })
}

/// Returns execution `id` with its steps, read in one transaction so the
/// steps match the execution.
fn load_detail(
    conn: &mut rusqlite::Connection,
    id: &ExecutionId,
) -> rusqlite::Result<Option<ExecutionDetail>> {
    let tx = conn.transaction()?;
    let sql = format!("SELECT {EXECUTION_COLUMNS} FROM executions WHERE id = ?1");
    let Some(execution) = tx
        .prepare_cached(&sql)?
        .query_row([id], read_execution)
        .optional()?
    else {
        return Ok(None);
    };
    let steps = tx
        .prepare_cached(
            "SELECT step_id, position, status, exit_code, signal, outputs, error, profile,
                    profile_hash, confinement, usage, denial_hints, log_truncated, started_at,
                    finished_at, duration_ms
             FROM steps WHERE execution_id = ?1 ORDER BY position",
        )?
        .query_map([id], read_step)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    tx.finish()?;
    Ok(Some(ExecutionDetail { execution, steps }))
}

/// Builds the WHERE clause and its values for `filter`.
fn filter_clause(filter: &ExecutionFilter) -> (String, Vec<Value>) {
    let mut conditions = Vec::new();
    let mut values = Vec::new();
    if let Some(workflow_id) = &filter.workflow_id {
        conditions.push("workflow_id = ?");
        values.push(Value::Text(workflow_id.to_string()));
    }
    if let Some(user_id) = &filter.user_id {
        conditions.push("user_id = ?");
        values.push(Value::Text(user_id.to_string()));
    }
    if let Some(status) = filter.status {
        conditions.push("status = ?");
        values.push(Value::Text(status.as_str().to_string()));
    }
    if conditions.is_empty() {
        (String::new(), values)
    } else {
        (format!("WHERE {}", conditions.join(" AND ")), values)
    }
}

impl Store {
    /// Creates an execution `queued` with all its steps `pending`, in one
    /// transaction. Fails with [`StoreError::NotFound`] when the workflow
    /// version or the user does not exist, and with
    /// [`StoreError::Conflict`] when the id or a step id repeats.
    pub async fn create_execution(
        &self,
        execution: NewExecution,
    ) -> Result<ExecutionRecord, StoreError> {
        validate(&execution)?;
        let parameters = to_json("parameters", &execution.parameters)?;
        if parameters.len() > MAX_DOCUMENT_BYTES {
            return Err(StoreError::invalid(
                "parameters",
                format!(
                    "are {} bytes as JSON; the maximum is {MAX_DOCUMENT_BYTES}",
                    parameters.len()
                ),
            ));
        }
        let record = ExecutionRecord {
            id: execution.id,
            workflow_id: execution.workflow_id,
            workflow_version: execution.workflow_version,
            user_id: execution.user_id,
            status: ExecutionStatus::Queued,
            parameters: execution.parameters,
            error: None,
            created_at: now_millis(),
            started_at: None,
            finished_at: None,
        };
        let step_ids = execution.step_ids;
        self.write("create execution", move |conn| {
            let failed = db_error("create execution");
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(&failed)?;
            let version_exists = tx
                .prepare_cached("SELECT 1 FROM workflow_versions WHERE workflow_id = ?1 AND version = ?2")
                .and_then(|mut query| query.exists(params![record.workflow_id, record.workflow_version]))
                .map_err(&failed)?;
            if !version_exists {
                return Err(StoreError::NotFound {
                    what: format!(
                        "workflow `{}` version {}",
                        record.workflow_id, record.workflow_version
                    ),
                });
            }

            tx.prepare_cached(
                "INSERT INTO executions (id, workflow_id, workflow_version, user_id, status, parameters, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .and_then(|mut insert| {
                insert.execute(params![
                    record.id,
                    record.workflow_id,
                    record.workflow_version,
                    record.user_id,
                    record.status,
                    parameters,
                    record.created_at
                ])
            })
            .map_err(|err| {
                if is_unique_violation(&err) {
                    StoreError::Conflict {
                        what: format!("execution `{}`", record.id),
                    }
                } else if is_foreign_key_violation(&err) {
                    StoreError::not_found("user", &record.user_id)
                } else {
                    failed(err)
                }
            })?;

            let mut insert_step = tx
                .prepare_cached(
                    "INSERT INTO steps (execution_id, step_id, position, status)
                     VALUES (?1, ?2, ?3, 'pending')",
                )
                .map_err(&failed)?;
            for (position, step_id) in (0_i64..).zip(&step_ids) {
                insert_step
                    .execute(params![record.id, step_id, position])
                    .map_err(|err| {
                        if is_unique_violation(&err) {
                            StoreError::Conflict {
                                what: format!("step `{step_id}` in this execution"),
                            }
                        } else {
                            failed(err)
                        }
                    })?;
            }
            drop(insert_step);
            tx.commit().map_err(&failed)?;
            Ok(record)
        })
        .await
    }

    /// Returns execution `id` with its steps, or `None`.
    pub async fn get_execution(
        &self,
        id: &ExecutionId,
    ) -> Result<Option<ExecutionDetail>, StoreError> {
        let id = id.clone();
        self.read("get execution", move |conn| {
            load_detail(conn, &id).map_err(db_error("get execution"))
        })
        .await
    }

    /// Lists executions matching `filter`, newest first.
    pub async fn list_executions(
        &self,
        filter: ExecutionFilter,
        page: Page,
    ) -> Result<Paged<ExecutionRecord>, StoreError> {
        self.read("list executions", move |conn| {
            let (clause, mut values) = filter_clause(&filter);
            let sql = format!(
                "SELECT {EXECUTION_COLUMNS} FROM executions {clause}
                 ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?"
            );
            values.push(Value::Integer(page.query_limit()));
            values.push(Value::Integer(page.query_offset()));
            let rows = conn
                .prepare_cached(&sql)
                .and_then(|mut query| {
                    query
                        .query_map(params_from_iter(values), read_execution)?
                        .collect::<rusqlite::Result<Vec<_>>>()
                })
                .map_err(db_error("list executions"))?;
            Ok(page.finish(rows))
        })
        .await
    }

    /// Sets the status of execution `id` unless it already ended, and
    /// records `error` when given. Returns false when the execution had
    /// already ended, so a cancel request never overwrites a real outcome.
    /// A final `status` also sets `finished_at` and marks the steps still
    /// pending `skipped`; running steps are left to the engine, which
    /// reports them.
    pub async fn set_execution_status(
        &self,
        id: &ExecutionId,
        status: ExecutionStatus,
        error: Option<String>,
    ) -> Result<bool, StoreError> {
        let id = id.clone();
        self.write("set execution status", move |conn| {
            let failed = db_error("set execution status");
            let now = now_millis();
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(&failed)?;
            let current: ExecutionStatus = tx
                .prepare_cached("SELECT status FROM executions WHERE id = ?1")
                .and_then(|mut query| query.query_row([&id], |row| row.get(0)).optional())
                .map_err(&failed)?
                .ok_or_else(|| StoreError::not_found("execution", &id))?;
            if execution_is_final(current) {
                return Ok(false);
            }

            let finished_at = execution_is_final(status).then_some(now);
            tx.prepare_cached(
                "UPDATE executions SET status = ?2, error = coalesce(?3, error),
                     finished_at = coalesce(?4, finished_at)
                 WHERE id = ?1",
            )
            .and_then(|mut update| update.execute(params![id, status, error, finished_at]))
            .map_err(&failed)?;
            if finished_at.is_some() {
                tx.prepare_cached(
                    "UPDATE steps SET status = 'skipped', error = ?2, finished_at = ?3
                     WHERE execution_id = ?1 AND status = 'pending'",
                )
                .and_then(|mut update| update.execute(params![id, NOT_STARTED_ERROR, now]))
                .map_err(&failed)?;
            }
            tx.commit().map_err(&failed)?;
            Ok(true)
        })
        .await
    }

    /// Records why execution `id` stopped early, whatever its status.
    pub async fn set_execution_error(
        &self,
        id: &ExecutionId,
        error: &str,
    ) -> Result<(), StoreError> {
        let id = id.clone();
        let error = error.to_string();
        self.write("set execution error", move |conn| {
            let changed = conn
                .prepare_cached("UPDATE executions SET error = ?2 WHERE id = ?1")
                .and_then(|mut update| update.execute(params![id, error]))
                .map_err(db_error("set execution error"))?;
            if changed == 0 {
                return Err(StoreError::not_found("execution", &id));
            }
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_support::{new_execution, new_user, open_store, seed_workflow};

    #[tokio::test]
    async fn create_queues_with_pending_steps() {
        let (_dir, store) = open_store().await;
        let (user, workflow) = seed_workflow(&store).await;
        let created = store
            .create_execution(new_execution(&user, &workflow))
            .await
            .unwrap();
        assert_eq!(created.status, ExecutionStatus::Queued);

        let detail = store.get_execution(&created.id).await.unwrap().unwrap();
        assert_eq!(detail.execution, created);
        let steps: Vec<_> = detail
            .steps
            .iter()
            .map(|s| (s.step_id.as_str(), s.position, s.status))
            .collect();
        assert_eq!(
            steps,
            [
                ("fetch", 0, StepStatus::Pending),
                ("build", 1, StepStatus::Pending)
            ]
        );
    }

    #[tokio::test]
    async fn missing_execution_is_none() {
        let (_dir, store) = open_store().await;
        assert_eq!(
            store.get_execution(&ExecutionId::generate()).await.unwrap(),
            None
        );
    }

    #[tokio::test]
    async fn unknown_version_not_found() {
        let (_dir, store) = open_store().await;
        let (user, workflow) = seed_workflow(&store).await;
        let mut execution = new_execution(&user, &workflow);
        execution.workflow_version = 7;
        let result = store.create_execution(execution).await;
        assert!(matches!(result, Err(StoreError::NotFound { .. })));
    }

    #[tokio::test]
    async fn duplicate_step_conflicts() {
        let (_dir, store) = open_store().await;
        let (user, workflow) = seed_workflow(&store).await;
        let mut execution = new_execution(&user, &workflow);
        execution.step_ids = vec!["a".to_string(), "a".to_string()];
        let id = execution.id.clone();
        let result = store.create_execution(execution).await;
        assert!(matches!(result, Err(StoreError::Conflict { .. })));
        assert_eq!(
            store.get_execution(&id).await.unwrap(),
            None,
            "partial execution kept"
        );
    }

    #[tokio::test]
    async fn duplicate_id_conflicts() {
        let (_dir, store) = open_store().await;
        let (user, workflow) = seed_workflow(&store).await;
        let execution = new_execution(&user, &workflow);
        store.create_execution(execution.clone()).await.unwrap();
        let result = store.create_execution(execution).await;
        assert!(matches!(result, Err(StoreError::Conflict { .. })));
    }

    #[tokio::test]
    async fn list_filters() {
        let (_dir, store) = open_store().await;
        let (owner, workflow) = seed_workflow(&store).await;
        let other = store.create_user(new_user("other", &[])).await.unwrap();
        let mine = store
            .create_execution(new_execution(&owner, &workflow))
            .await
            .unwrap();
        let theirs = store
            .create_execution(new_execution(&other, &workflow))
            .await
            .unwrap();
        store
            .set_execution_status(&theirs.id, ExecutionStatus::Cancelled, None)
            .await
            .unwrap();

        let all = store
            .list_executions(ExecutionFilter::default(), Page::default())
            .await
            .unwrap();
        assert_eq!(all.items.len(), 2);

        let by_user = ExecutionFilter {
            user_id: Some(owner.id.clone()),
            ..Default::default()
        };
        let listed = store
            .list_executions(by_user, Page::default())
            .await
            .unwrap();
        let ids: Vec<_> = listed.items.iter().map(|e| e.id.clone()).collect();
        assert_eq!(ids, vec![mine.id.clone()]);

        let by_status = ExecutionFilter {
            workflow_id: Some(workflow.summary.id.clone()),
            status: Some(ExecutionStatus::Cancelled),
            ..Default::default()
        };
        let listed = store
            .list_executions(by_status, Page::default())
            .await
            .unwrap();
        let ids: Vec<_> = listed.items.iter().map(|e| e.id.clone()).collect();
        assert_eq!(ids, vec![theirs.id]);
    }

    #[tokio::test]
    async fn cancel_queued_skips_steps() {
        let (_dir, store) = open_store().await;
        let (user, workflow) = seed_workflow(&store).await;
        let created = store
            .create_execution(new_execution(&user, &workflow))
            .await
            .unwrap();
        let changed = store
            .set_execution_status(
                &created.id,
                ExecutionStatus::Cancelled,
                Some("cancelled by alice".into()),
            )
            .await
            .unwrap();
        assert!(changed);

        let detail = store.get_execution(&created.id).await.unwrap().unwrap();
        assert_eq!(detail.execution.status, ExecutionStatus::Cancelled);
        assert_eq!(
            detail.execution.error.as_deref(),
            Some("cancelled by alice")
        );
        assert!(detail.execution.finished_at.is_some());
        assert!(detail.steps.iter().all(|s| s.status == StepStatus::Skipped));
    }

    #[tokio::test]
    async fn final_status_not_overwritten() {
        let (_dir, store) = open_store().await;
        let (user, workflow) = seed_workflow(&store).await;
        let created = store
            .create_execution(new_execution(&user, &workflow))
            .await
            .unwrap();
        store
            .set_execution_status(&created.id, ExecutionStatus::Failed, None)
            .await
            .unwrap();
        let changed = store
            .set_execution_status(&created.id, ExecutionStatus::Cancelled, None)
            .await
            .unwrap();
        assert!(!changed);
        let detail = store.get_execution(&created.id).await.unwrap().unwrap();
        assert_eq!(detail.execution.status, ExecutionStatus::Failed);
    }

    #[tokio::test]
    async fn status_of_missing_execution() {
        let (_dir, store) = open_store().await;
        let result = store
            .set_execution_status(&ExecutionId::generate(), ExecutionStatus::Cancelled, None)
            .await;
        assert!(matches!(result, Err(StoreError::NotFound { .. })));
    }

    #[tokio::test]
    async fn error_recorded() {
        let (_dir, store) = open_store().await;
        let (user, workflow) = seed_workflow(&store).await;
        let created = store
            .create_execution(new_execution(&user, &workflow))
            .await
            .unwrap();
        store
            .set_execution_error(&created.id, "workspace missing")
            .await
            .unwrap();
        let detail = store.get_execution(&created.id).await.unwrap().unwrap();
        assert_eq!(detail.execution.error.as_deref(), Some("workspace missing"));
    }

    #[tokio::test]
    async fn no_steps_rejected() {
        let (_dir, store) = open_store().await;
        let (user, workflow) = seed_workflow(&store).await;
        let mut execution = new_execution(&user, &workflow);
        execution.step_ids.clear();
        let result = store.create_execution(execution).await;
        assert!(matches!(result, Err(StoreError::Invalid { .. })));
    }
}
