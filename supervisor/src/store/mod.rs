//! SQLite storage of users, API keys, refresh tokens, workflows, executions,
//! step logs and audit events.
//!
//! Everything outside this folder reaches the database through [`Store`]
//! and the record types re-exported here, so a server database could later
//! replace SQLite behind the same methods. Every method is `async`; its
//! SQLite work runs in `spawn_blocking`, never on a runtime worker thread
//! (see `pool.rs`).
//!
//! Conventions:
//! - Timestamps are unix milliseconds ([`UnixMillis`]) in the database and
//!   in records.
//! - Times that tokens and keys are compared against (`now`, `expires_at`)
//!   come from the caller, so authentication issues and checks them with one
//!   clock. Other rows take the system clock when they are written.
//! - Each state change is one short IMMEDIATE transaction, committed before
//!   the method returns, with `synchronous = FULL`, so a change reported to
//!   a client survives a crash or power loss.
//! - Hashes of passwords, tokens and keys are computed by the caller; the
//!   store only compares them, and `Debug` output and errors never show them.
//!
//! Layout:
//! - `files.rs`: the directory and file modes; `pool.rs`: connections;
//!   `migrate.rs` and `migrations/`: the schema; `codec.rs`: column types.
//! - One file per kind of record: `users.rs`, `api_keys.rs`, `refresh.rs`,
//!   `workflows.rs`, `executions.rs`, `logs.rs`, `audit.rs`.
//! - `sink.rs`: the engine's event sink; `maintenance.rs`: startup recovery,
//!   retention and integrity checks.

mod api_keys;
mod audit;
mod cache;
mod codec;
mod error;
mod executions;
mod files;
mod logs;
mod maintenance;
mod migrate;
mod page;
mod pool;
mod refresh;
mod sink;
mod users;
mod workflows;

#[cfg(test)]
mod test_support;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use api_keys::{
    ApiKeyRecord, KeyScope, NewApiKey, MAX_API_KEY_NAME_CHARS, MAX_KEY_PREFIX_CHARS,
};
pub use audit::{
    AuditEntry, AuditFilter, AuditRecord, MAX_AUDIT_DETAILS_BYTES, MAX_USER_AGENT_CHARS,
};
pub use cache::CACHE_TTL;
pub use error::StoreError;
pub use executions::{
    ExecutionDetail, ExecutionFilter, ExecutionRecord, NewExecution, StepRecord, MAX_STEP_ID_CHARS,
};
pub use files::{DIRECTORY_MODE, FILE_MODE};
pub use logs::{LogRecord, DEFAULT_LOG_PAGE, MAX_LOG_PAGE};
pub use maintenance::{PruneCounts, PruneCutoffs, PRUNE_BATCH_ROWS};
pub use migrate::SCHEMA_VERSION;
pub use page::{Page, Paged, DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT};
pub use pool::{BUSY_TIMEOUT, READ_CONNECTIONS};
pub use refresh::{
    NewRefreshToken, RefreshReplacement, RefreshTokenRecord, RevokedToken, RotateOutcome,
};
pub use sink::StoreSink;
pub use users::{validate_username, NewUser, UserRecord, MAX_USERNAME_CHARS};
pub use workflows::{WorkflowRecord, WorkflowSummary};

/// A point in time as milliseconds since the unix epoch (UTC).
pub type UnixMillis = i64;

/// Handle to an open database. Cloning is cheap; clones share the
/// connections.
#[derive(Clone)]
pub struct Store {
    connections: Arc<pool::Connections>,
    users: Arc<cache::RecordCache<crate::model::UserId, UserRecord>>,
    workflows: Arc<cache::RecordCache<crate::model::WorkflowId, WorkflowRecord>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.connections.path())
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens the database at `path`, creating it and its directory when
    /// missing, and applies pending schema migrations.
    ///
    /// This is async because it does file and SQLite work, which runs in
    /// `spawn_blocking`; call it inside a Tokio runtime. The directory and
    /// file modes follow the rules in `files.rs`: a new directory is 0700, an
    /// existing one writable by group or others is rejected, and the
    /// database file and its side files are 0600.
    pub async fn open(path: &Path) -> Result<Store, StoreError> {
        let path = path.to_path_buf();
        let connections = tokio::task::spawn_blocking(move || open_blocking(path))
            .await
            .map_err(|source| StoreError::TaskFailed {
                operation: "open database",
                source,
            })??;
        Ok(Store {
            connections: Arc::new(connections),
            users: Arc::new(cache::RecordCache::new()),
            workflows: Arc::new(cache::RecordCache::new()),
        })
    }

    /// Returns the path of the database file.
    pub fn path(&self) -> &Path {
        self.connections.path()
    }

    /// Closes the connections after the operations in progress end, which
    /// also checkpoints the WAL. Later calls on any clone fail with
    /// [`StoreError::Closed`].
    pub async fn close(&self) -> Result<(), StoreError> {
        self.connections.close().await
    }

    /// Runs `work` on the writer connection off the async runtime.
    async fn write<T, F>(&self, operation: &'static str, work: F) -> Result<T, StoreError>
    where
        F: FnOnce(&mut rusqlite::Connection) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        self.connections.write(operation, work).await
    }

    /// Runs `work` on the writer connection off the async runtime, in one
    /// transaction with other grouped writes; see `pool.rs`.
    async fn write_grouped<T, F>(&self, operation: &'static str, work: F) -> Result<T, StoreError>
    where
        F: FnOnce(&rusqlite::Connection) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        self.connections.write_grouped(operation, work).await
    }

    /// Runs `work` on a read connection off the async runtime.
    async fn read<T, F>(&self, operation: &'static str, work: F) -> Result<T, StoreError>
    where
        F: FnOnce(&mut rusqlite::Connection) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        self.connections.read(operation, work).await
    }
}

/// Prepares the files, opens the writer and migrates; see [`Store::open`].
fn open_blocking(path: PathBuf) -> Result<pool::Connections, StoreError> {
    files::prepare_directory(&files::database_directory(&path))?;
    files::prepare_database_file(&path)?;
    files::tighten_side_files(&path)?;

    let mut writer = pool::open_connection(&path, pool::Access::Write)?;
    migrate::migrate(&mut writer)?;
    Ok(pool::Connections::new(path, writer))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::test_support::{new_user, open_store};
    use super::*;

    fn mode_of(path: &Path) -> u32 {
        std::fs::metadata(path)
            .map(|metadata| metadata.permissions().mode() & 0o777)
            .unwrap_or(0)
    }

    fn side_file(store: &Store, suffix: &str) -> PathBuf {
        let mut name = store.path().as_os_str().to_owned();
        name.push(suffix);
        PathBuf::from(name)
    }

    #[tokio::test]
    async fn open_sets_modes() {
        let (dir, store) = open_store().await;
        // A write makes SQLite create the WAL and shared-memory files.
        store.create_user(new_user("alice", &[])).await.unwrap();
        assert_eq!(mode_of(&dir.path().join("db")), DIRECTORY_MODE);
        assert_eq!(mode_of(store.path()), FILE_MODE);
        let wal = side_file(&store, "-wal");
        let shm = side_file(&store, "-shm");
        assert!(wal.exists(), "no WAL file: journal mode is not WAL");
        assert_eq!(mode_of(&wal), FILE_MODE);
        assert_eq!(mode_of(&shm), FILE_MODE);
    }

    #[tokio::test]
    async fn open_sets_pragmas() {
        let (_dir, store) = open_store().await;
        let pragmas = store
            .write("read pragmas", |conn| {
                let read = |name: &str| {
                    conn.pragma_query_value(None, name, |row| {
                        row.get::<_, rusqlite::types::Value>(0)
                    })
                    .map_err(codec::db_error("read pragmas"))
                };
                Ok((
                    read("journal_mode")?,
                    read("foreign_keys")?,
                    read("synchronous")?,
                    read("busy_timeout")?,
                    read("user_version")?,
                ))
            })
            .await
            .unwrap();
        use rusqlite::types::Value;
        assert_eq!(pragmas.0, Value::Text("wal".to_string()));
        assert_eq!(pragmas.1, Value::Integer(1));
        // 2 is FULL.
        assert_eq!(pragmas.2, Value::Integer(2));
        assert_eq!(pragmas.3, Value::Integer(BUSY_TIMEOUT.as_millis() as i64));
        assert_eq!(pragmas.4, Value::Integer(i64::from(SCHEMA_VERSION)));
    }

    #[tokio::test]
    async fn reader_rejects_writes() {
        let (_dir, store) = open_store().await;
        let result = store
            .read("write through reader", |conn| {
                conn.execute("DELETE FROM users", [])
                    .map_err(codec::db_error("write through reader"))
            })
            .await;
        assert!(matches!(result, Err(StoreError::Sqlite { .. })));
    }

    #[tokio::test]
    async fn reopen_keeps_data() {
        let (_dir, store) = open_store().await;
        store.create_user(new_user("alice", &[])).await.unwrap();
        let path = store.path().to_path_buf();
        store.close().await.unwrap();
        drop(store);

        let reopened = Store::open(&path).await.unwrap();
        assert_eq!(reopened.count_users().await.unwrap(), 1);
    }

    #[tokio::test]
    async fn newer_schema_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vwmp.db");
        let store = Store::open(&path).await.unwrap();
        store
            .write("raise version", |conn| {
                conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
                    .map_err(codec::db_error("raise version"))
            })
            .await
            .unwrap();
        store.close().await.unwrap();

        let result = Store::open(&path).await;
        assert!(
            matches!(result, Err(StoreError::SchemaTooNew { .. })),
            "{result:?}"
        );
    }

    #[tokio::test]
    async fn closed_store_rejects_calls() {
        let (_dir, store) = open_store().await;
        let clone = store.clone();
        store.close().await.unwrap();
        let write = clone.create_user(new_user("alice", &[])).await;
        assert!(matches!(write, Err(StoreError::Closed { .. })));
        let read = clone.count_users().await;
        assert!(matches!(read, Err(StoreError::Closed { .. })));
    }

    #[tokio::test]
    async fn insecure_directory_rejected() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let result = Store::open(&dir.path().join("vwmp.db")).await;
        assert!(matches!(result, Err(StoreError::InsecureDirectory { .. })));
        assert!(!dir.path().join("vwmp.db").exists(), "file created anyway");
    }
}
