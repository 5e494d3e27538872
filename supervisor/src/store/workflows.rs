//! Versioned workflows. Every update adds a version and keeps the old ones,
//! because executions refer to the exact version they run; a delete only
//! hides the workflow from lists and lookups of the latest version.

use rusqlite::{params, OptionalExtension, TransactionBehavior};

use super::codec::{db_error, is_foreign_key_violation, now_millis};
use super::{Page, Paged, Store, StoreError, UnixMillis};
use crate::model::{UserId, WorkflowId};
use crate::workflow::{MAX_DOCUMENT_BYTES, MAX_NAME_CHARS};

/// A workflow without its definition, as lists show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkflowSummary {
    pub id: WorkflowId,
    pub owner_id: UserId,
    /// Name of the current version.
    pub name: String,
    pub current_version: u32,
    pub created_at: UnixMillis,
    pub updated_at: UnixMillis,
    pub deleted_at: Option<UnixMillis>,
}

/// A workflow with the definition of one of its versions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkflowRecord {
    pub summary: WorkflowSummary,
    /// The version whose definition this record carries.
    pub version: u32,
    /// The workflow document as JSON text.
    pub definition: String,
    pub version_created_by: UserId,
    pub version_created_at: UnixMillis,
}

fn validate(name: &str, definition: &str) -> Result<(), StoreError> {
    let chars = name.chars().count();
    if chars == 0 || chars > MAX_NAME_CHARS {
        return Err(StoreError::invalid(
            "workflow name",
            format!("use 1 to {MAX_NAME_CHARS} characters"),
        ));
    }
    if definition.len() > MAX_DOCUMENT_BYTES {
        return Err(StoreError::invalid(
            "workflow definition",
            format!(
                "is {} bytes; the maximum is {MAX_DOCUMENT_BYTES}",
                definition.len()
            ),
        ));
    }
    serde_json::from_str::<serde::de::IgnoredAny>(definition).map_err(|err| {
        StoreError::invalid("workflow definition", format!("is not valid JSON: {err}"))
    })?;
    Ok(())
}

/// Columns of `workflows`, unqualified so `RETURNING` can use them too.
const SUMMARY_COLUMNS: &str =
    "id, owner_id, name, current_version, created_at, updated_at, deleted_at";

/// Columns of a workflow joined with one version `v`.
const RECORD_COLUMNS: &str = "w.id, w.owner_id, w.name, w.current_version, w.created_at,
    w.updated_at, w.deleted_at, v.version, v.definition, v.created_by, v.created_at";

fn read_summary(row: &rusqlite::Row<'_>) -> rusqlite::Result<WorkflowSummary> {
    Ok(WorkflowSummary {
        id: row.get(0)?,
        owner_id: row.get(1)?,
        name: row.get(2)?,
        current_version: row.get(3)?,
        created_at: row.get(4)?,
        updated_at: row.get(5)?,
        deleted_at: row.get(6)?,
    })
}

fn read_record(row: &rusqlite::Row<'_>) -> rusqlite::Result<WorkflowRecord> {
    Ok(WorkflowRecord {
        summary: read_summary(row)?,
        version: row.get(7)?,
        definition: row.get(8)?,
        version_created_by: row.get(9)?,
        version_created_at: row.get(10)?,
    })
}

/// Inserts version `version` of `id`.
fn insert_version(
    tx: &rusqlite::Transaction<'_>,
    id: &WorkflowId,
    version: u32,
    definition: &str,
    by: &UserId,
    now: UnixMillis,
) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO workflow_versions (workflow_id, version, definition, created_by, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .and_then(|mut insert| insert.execute(params![id, version, definition, by, now]))
    .map_err(|err| {
        if is_foreign_key_violation(&err) {
            StoreError::not_found("user", by)
        } else {
            db_error("store workflow version")(err)
        }
    })?;
    Ok(())
}

impl Store {
    /// Creates a workflow owned by `owner` with `definition` (JSON text) as
    /// version 1. The caller has validated the definition; the store checks
    /// only that it is JSON within the size limit, and that `name` has 1 to
    /// 200 characters.
    pub async fn create_workflow(
        &self,
        owner: &UserId,
        name: &str,
        definition: String,
    ) -> Result<WorkflowRecord, StoreError> {
        validate(name, &definition)?;
        let now = now_millis();
        let record = WorkflowRecord {
            summary: WorkflowSummary {
                id: WorkflowId::generate(),
                owner_id: owner.clone(),
                name: name.to_string(),
                current_version: 1,
                created_at: now,
                updated_at: now,
                deleted_at: None,
            },
            version: 1,
            definition,
            version_created_by: owner.clone(),
            version_created_at: now,
        };
        self.write("create workflow", move |conn| {
            let failed = db_error("create workflow");
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(&failed)?;
            let summary = &record.summary;
            tx.prepare_cached(
                "INSERT INTO workflows (id, owner_id, name, current_version, created_at, updated_at)
                 VALUES (?1, ?2, ?3, 1, ?4, ?4)",
            )
            .and_then(|mut insert| {
                insert.execute(params![summary.id, summary.owner_id, summary.name, now])
            })
            .map_err(|err| {
                if is_foreign_key_violation(&err) {
                    StoreError::not_found("user", &summary.owner_id)
                } else {
                    failed(err)
                }
            })?;
            insert_version(
                &tx,
                &summary.id,
                1,
                &record.definition,
                &summary.owner_id,
                now,
            )?;
            tx.commit().map_err(&failed)?;
            Ok(record)
        })
        .await
    }

    /// Returns the current version of workflow `id`, or `None` when it does
    /// not exist or was deleted.
    pub async fn get_workflow(
        &self,
        id: &WorkflowId,
    ) -> Result<Option<WorkflowRecord>, StoreError> {
        let generation = match self.workflows.get(id) {
            Ok(record) => return Ok(Some(record)),
            Err(generation) => generation,
        };
        let key = id.clone();
        let record = self
            .read("get workflow", move |conn| {
                let sql = format!(
                    "SELECT {RECORD_COLUMNS} FROM workflows w
                     JOIN workflow_versions v ON v.workflow_id = w.id AND v.version = w.current_version
                     WHERE w.id = ?1 AND w.deleted_at IS NULL"
                );
                conn.prepare_cached(&sql)
                    .and_then(|mut query| query.query_row([&key], read_record).optional())
                    .map_err(db_error("get workflow"))
            })
            .await?;
        if let Some(record) = &record {
            self.workflows
                .insert(id.clone(), record.clone(), generation);
        }
        Ok(record)
    }

    /// Returns version `version` of workflow `id`, also after the workflow
    /// was updated or deleted, because executions run that exact version.
    pub async fn get_workflow_version(
        &self,
        id: &WorkflowId,
        version: u32,
    ) -> Result<Option<WorkflowRecord>, StoreError> {
        let id = id.clone();
        self.read("get workflow version", move |conn| {
            let sql = format!(
                "SELECT {RECORD_COLUMNS} FROM workflows w
                 JOIN workflow_versions v ON v.workflow_id = w.id
                 WHERE w.id = ?1 AND v.version = ?2"
            );
            conn.prepare_cached(&sql)
                .and_then(|mut query| {
                    query
                        .query_row(params![id, version], read_record)
                        .optional()
                })
                .map_err(db_error("get workflow version"))
        })
        .await
    }

    /// Lists workflows that are not deleted, newest first.
    pub async fn list_workflows(&self, page: Page) -> Result<Paged<WorkflowSummary>, StoreError> {
        self.read("list workflows", move |conn| {
            let sql = format!(
                "SELECT {SUMMARY_COLUMNS} FROM workflows WHERE deleted_at IS NULL
                 ORDER BY created_at DESC, id DESC LIMIT ?1 OFFSET ?2"
            );
            let rows = conn
                .prepare_cached(&sql)
                .and_then(|mut query| {
                    query
                        .query_map([page.query_limit(), page.query_offset()], read_summary)?
                        .collect::<rusqlite::Result<Vec<_>>>()
                })
                .map_err(db_error("list workflows"))?;
            Ok(page.finish(rows))
        })
        .await
    }

    /// Lists workflows that are not deleted, newest first, each with the
    /// definition of its current version, in one query.
    pub async fn list_workflow_records(
        &self,
        page: Page,
    ) -> Result<Paged<WorkflowRecord>, StoreError> {
        self.read("list workflow records", move |conn| {
            let sql = format!(
                "SELECT {RECORD_COLUMNS} FROM workflows w
                 JOIN workflow_versions v ON v.workflow_id = w.id AND v.version = w.current_version
                 WHERE w.deleted_at IS NULL
                 ORDER BY w.created_at DESC, w.id DESC LIMIT ?1 OFFSET ?2"
            );
            let rows = conn
                .prepare_cached(&sql)
                .and_then(|mut query| {
                    query
                        .query_map([page.query_limit(), page.query_offset()], read_record)?
                        .collect::<rusqlite::Result<Vec<_>>>()
                })
                .map_err(db_error("list workflow records"))?;
            Ok(page.finish(rows))
        })
        .await
    }

    /// Adds a version of workflow `id` with `name` and `definition`, made by
    /// `by`, and makes it current. Earlier versions are kept. Fails with
    /// [`StoreError::NotFound`] when the workflow does not exist or was
    /// deleted.
    pub async fn update_workflow(
        &self,
        id: &WorkflowId,
        name: &str,
        definition: String,
        by: &UserId,
    ) -> Result<WorkflowRecord, StoreError> {
        validate(name, &definition)?;
        let changed_id = id.clone();
        let id = id.clone();
        let name = name.to_string();
        let by = by.clone();
        let result = self.write("update workflow", move |conn| {
            let failed = db_error("update workflow");
            let now = now_millis();
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(&failed)?;
            let sql = format!(
                "UPDATE workflows SET current_version = current_version + 1, name = ?2, updated_at = ?3
                 WHERE id = ?1 AND deleted_at IS NULL RETURNING {SUMMARY_COLUMNS}"
            );
            let summary = tx
                .prepare_cached(&sql)
                .and_then(|mut update| update.query_row(params![id, name, now], read_summary).optional())
                .map_err(&failed)?
                .ok_or_else(|| StoreError::not_found("workflow", &id))?;
            let version = summary.current_version;
            insert_version(&tx, &id, version, &definition, &by, now)?;
            tx.commit().map_err(&failed)?;
            Ok(WorkflowRecord {
                summary,
                version,
                definition,
                version_created_by: by,
                version_created_at: now,
            })
        })
        .await;
        self.workflows.invalidate(&changed_id);
        result
    }

    /// Marks workflow `id` deleted. Its versions stay readable through
    /// [`Store::get_workflow_version`]. Fails with [`StoreError::NotFound`]
    /// when it does not exist or was already deleted.
    pub async fn delete_workflow(&self, id: &WorkflowId) -> Result<(), StoreError> {
        let changed_id = id.clone();
        let id = id.clone();
        let result = self
            .write("delete workflow", move |conn| {
                let changed = conn
                    .prepare_cached(
                        "UPDATE workflows SET deleted_at = ?2, updated_at = ?2
                     WHERE id = ?1 AND deleted_at IS NULL",
                    )
                    .and_then(|mut update| update.execute(params![id, now_millis()]))
                    .map_err(db_error("delete workflow"))?;
                if changed == 0 {
                    return Err(StoreError::not_found("workflow", &id));
                }
                Ok(())
            })
            .await;
        self.workflows.invalidate(&changed_id);
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_support::{new_user, open_store, seed_workflow, DEFINITION};

    const SECOND: &str = r#"{"name":"demo v2","version":"1.1.0","steps":[{"id":"fetch"}]}"#;

    #[tokio::test]
    async fn create_and_get() {
        let (_dir, store) = open_store().await;
        let (user, created) = seed_workflow(&store).await;
        assert_eq!(created.version, 1);
        assert_eq!(created.summary.owner_id, user.id);
        let found = store.get_workflow(&created.summary.id).await.unwrap();
        assert_eq!(found, Some(created));
    }

    #[tokio::test]
    async fn records_listed_with_current_definition() {
        let (_dir, store) = open_store().await;
        let (user, first) = seed_workflow(&store).await;
        let second = store
            .create_workflow(&user.id, "second", DEFINITION.to_string())
            .await
            .unwrap();
        store
            .update_workflow(&first.summary.id, "demo v2", SECOND.to_string(), &user.id)
            .await
            .unwrap();
        store.delete_workflow(&second.summary.id).await.unwrap();

        let listed = store.list_workflow_records(Page::default()).await.unwrap();
        assert_eq!(listed.items.len(), 1);
        assert_eq!(listed.items[0].version, 2);
        assert_eq!(listed.items[0].definition, SECOND);
        assert_eq!(listed.next_offset, None);
    }

    #[tokio::test]
    async fn update_keeps_old_version() {
        let (_dir, store) = open_store().await;
        let (user, created) = seed_workflow(&store).await;
        let id = &created.summary.id;
        let updated = store
            .update_workflow(id, "demo v2", SECOND.to_string(), &user.id)
            .await
            .unwrap();
        assert_eq!(updated.version, 2);
        assert_eq!(updated.summary.current_version, 2);

        let latest = store.get_workflow(id).await.unwrap().unwrap();
        assert_eq!(latest.definition, SECOND);
        assert_eq!(latest.summary.name, "demo v2");
        let first = store.get_workflow_version(id, 1).await.unwrap().unwrap();
        assert_eq!(first.definition, DEFINITION);
        assert_eq!(first.version, 1);
        assert_eq!(store.get_workflow_version(id, 3).await.unwrap(), None);
    }

    #[tokio::test]
    async fn update_by_other_user_records_author() {
        let (_dir, store) = open_store().await;
        let (_owner, created) = seed_workflow(&store).await;
        let admin = store.create_user(new_user("admin", &[])).await.unwrap();
        let updated = store
            .update_workflow(&created.summary.id, "demo", SECOND.to_string(), &admin.id)
            .await
            .unwrap();
        assert_eq!(updated.version_created_by, admin.id);
        assert_eq!(updated.summary.owner_id, created.summary.owner_id);
    }

    #[tokio::test]
    async fn delete_hides_but_keeps_versions() {
        let (_dir, store) = open_store().await;
        let (_user, created) = seed_workflow(&store).await;
        let id = &created.summary.id;
        store.delete_workflow(id).await.unwrap();

        assert_eq!(store.get_workflow(id).await.unwrap(), None);
        let version = store.get_workflow_version(id, 1).await.unwrap().unwrap();
        assert!(version.summary.deleted_at.is_some());
        let listed = store.list_workflows(Page::default()).await.unwrap();
        assert!(listed.items.is_empty());
    }

    #[tokio::test]
    async fn deleted_workflow_not_updated() {
        let (_dir, store) = open_store().await;
        let (user, created) = seed_workflow(&store).await;
        store.delete_workflow(&created.summary.id).await.unwrap();
        let update = store
            .update_workflow(&created.summary.id, "demo", SECOND.to_string(), &user.id)
            .await;
        assert!(matches!(update, Err(StoreError::NotFound { .. })));
        let delete = store.delete_workflow(&created.summary.id).await;
        assert!(matches!(delete, Err(StoreError::NotFound { .. })));
    }

    #[tokio::test]
    async fn list_newest_first() {
        let (_dir, store) = open_store().await;
        let (user, first) = seed_workflow(&store).await;
        tokio::time::sleep(std::time::Duration::from_millis(3)).await;
        let second = store
            .create_workflow(&user.id, "other", DEFINITION.to_string())
            .await
            .unwrap();
        let listed = store.list_workflows(Page::default()).await.unwrap();
        let ids: Vec<_> = listed.items.iter().map(|w| w.id.clone()).collect();
        assert_eq!(ids, vec![second.summary.id, first.summary.id]);
    }

    #[tokio::test]
    async fn invalid_definition_rejected() {
        let (_dir, store) = open_store().await;
        let user = store.create_user(new_user("alice", &[])).await.unwrap();
        let result = store
            .create_workflow(&user.id, "demo", "{not json".to_string())
            .await;
        assert!(matches!(
            result,
            Err(StoreError::Invalid {
                field: "workflow definition",
                ..
            })
        ));
    }

    #[tokio::test]
    async fn empty_name_rejected() {
        let (_dir, store) = open_store().await;
        let user = store.create_user(new_user("alice", &[])).await.unwrap();
        let result = store
            .create_workflow(&user.id, "", DEFINITION.to_string())
            .await;
        assert!(matches!(
            result,
            Err(StoreError::Invalid {
                field: "workflow name",
                ..
            })
        ));
    }

    #[tokio::test]
    async fn owner_must_exist() {
        let (_dir, store) = open_store().await;
        let result = store
            .create_workflow(&UserId::generate(), "demo", DEFINITION.to_string())
            .await;
        assert!(matches!(result, Err(StoreError::NotFound { .. })));
    }
}
