//! Helpers for the store's tests: a fresh database in a temporary directory
//! and sample records.

use tempfile::TempDir;

use super::{NewExecution, NewUser, Store, UserRecord, WorkflowRecord};
use crate::model::{ExecutionId, Role};

/// Opens a new store at `<tempdir>/db/vwmp.db`. Keep the `TempDir` alive
/// for as long as the store is used.
pub(super) async fn open_store() -> (TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("db/vwmp.db")).await.unwrap();
    (dir, store)
}

/// Returns a new user with a fake password hash.
pub(super) fn new_user(username: &str, roles: &[Role]) -> NewUser {
    NewUser {
        username: username.to_string(),
        password_hash: format!("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA${username}hash"),
        roles: roles.to_vec(),
    }
}

/// A small valid workflow definition.
pub(super) const DEFINITION: &str =
    r#"{"name":"demo","version":"1.0.0","steps":[{"id":"fetch"},{"id":"build"}]}"#;

/// Creates a user and a workflow owned by that user.
pub(super) async fn seed_workflow(store: &Store) -> (UserRecord, WorkflowRecord) {
    let user = store
        .create_user(new_user("owner", &[Role::Editor, Role::Executor]))
        .await
        .unwrap();
    let workflow = store
        .create_workflow(&user.id, "demo", DEFINITION.to_string())
        .await
        .unwrap();
    (user, workflow)
}

/// Returns a new execution of `workflow` by `user` with steps `fetch` and
/// `build`.
pub(super) fn new_execution(user: &UserRecord, workflow: &WorkflowRecord) -> NewExecution {
    NewExecution {
        id: ExecutionId::generate(),
        workflow_id: workflow.summary.id.clone(),
        workflow_version: workflow.version,
        user_id: user.id.clone(),
        parameters: serde_json::json!({ "target": "prod", "token": "********" }),
        step_ids: vec!["fetch".to_string(), "build".to_string()],
    }
}
