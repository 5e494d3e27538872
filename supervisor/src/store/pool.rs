//! SQLite connections and how async callers reach them.
//!
//! One writer connection, behind an async mutex, serializes every write in
//! this process; a few read connections, behind a semaphore, serve reads in
//! parallel with it (WAL mode lets readers see the last commit while a write
//! is in progress). Callers wait for the mutex or a permit without blocking
//! a runtime thread, then the SQLite work runs in `spawn_blocking`, so no
//! SQLite call ever runs on an async worker thread.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use tokio::sync::Semaphore;

use super::StoreError;

/// Number of read connections. Reads are short and the server has few
/// cores; more connections would only add memory and file descriptors.
pub const READ_CONNECTIONS: usize = 4;

/// How long a statement waits for a lock held by another process (such as
/// `vwmp user add` while the server runs) before failing with SQLITE_BUSY.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Prepared statements kept per connection. The store has about forty
/// distinct statements; the hot ones (log inserts, step updates) stay cached.
const STATEMENT_CACHE_CAPACITY: usize = 64;

/// Whether a connection may write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Access {
    Write,
    Read,
}

/// The connections of one open store.
pub(super) struct Connections {
    path: PathBuf,
    /// The writer; `None` once the store is closed.
    writer: Arc<tokio::sync::Mutex<Option<Connection>>>,
    /// Idle read connections; a missing one is opened on demand.
    readers: Mutex<Vec<Connection>>,
    read_permits: Arc<Semaphore>,
}

impl Connections {
    /// Wraps an open, migrated writer connection for the database at `path`.
    pub(super) fn new(path: PathBuf, writer: Connection) -> Self {
        Connections {
            path,
            writer: Arc::new(tokio::sync::Mutex::new(Some(writer))),
            readers: Mutex::new(Vec::with_capacity(READ_CONNECTIONS)),
            read_permits: Arc::new(Semaphore::new(READ_CONNECTIONS)),
        }
    }

    /// Returns the database path.
    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `work` on the writer connection in a blocking task.
    pub(super) async fn write<T, F>(
        &self,
        operation: &'static str,
        work: F,
    ) -> Result<T, StoreError>
    where
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        let mut writer = Arc::clone(&self.writer).lock_owned().await;
        tokio::task::spawn_blocking(move || match writer.as_mut() {
            Some(conn) => work(conn),
            None => Err(StoreError::Closed { operation }),
        })
        .await
        .map_err(|source| StoreError::TaskFailed { operation, source })?
    }

    /// Runs `work` on a read connection in a blocking task. The connection
    /// rejects writes (`PRAGMA query_only`).
    pub(super) async fn read<T, F>(
        self: &Arc<Self>,
        operation: &'static str,
        work: F,
    ) -> Result<T, StoreError>
    where
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        let permit = Arc::clone(&self.read_permits)
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Closed { operation })?;
        let idle = self.idle_readers().pop();
        let connections = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let mut conn = match idle {
                Some(conn) => conn,
                None => open_connection(&connections.path, Access::Read)?,
            };
            let result = work(&mut conn);
            // A connection left inside a transaction by a failed read would
            // pin an old snapshot; drop it instead of reusing it. After
            // `close` the connection is dropped too.
            if conn.is_autocommit() && !connections.read_permits.is_closed() {
                connections.idle_readers().push(conn);
            }
            drop(permit);
            result
        })
        .await
        .map_err(|source| StoreError::TaskFailed { operation, source })?
    }

    /// Closes every connection after the operations in progress end; later
    /// operations fail with [`StoreError::Closed`]. Closing the last
    /// connection checkpoints the WAL into the database file.
    pub(super) async fn close(&self) -> Result<(), StoreError> {
        self.read_permits.close();
        let writer = self.writer.lock().await.take();
        let readers = std::mem::take(&mut *self.idle_readers());
        tokio::task::spawn_blocking(move || {
            drop(readers);
            if let Some(writer) = writer {
                writer.close().map_err(|(_, source)| StoreError::Sqlite {
                    operation: "close database",
                    source,
                })?;
            }
            Ok(())
        })
        .await
        .map_err(|source| StoreError::TaskFailed {
            operation: "close database",
            source,
        })?
    }

    fn idle_readers(&self) -> std::sync::MutexGuard<'_, Vec<Connection>> {
        // The guarded Vec stays valid even if a holder panicked.
        self.readers.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Opens a connection to the existing database file at `path` and sets its
/// pragmas.
///
/// `synchronous = FULL`: in WAL mode this syncs the WAL on every commit, so
/// a committed change survives power loss, not only a crash of vwmp.
/// Clients are told of a state change only after it is committed, so that
/// commit has to be durable; NORMAL could lose the last commits.
pub(super) fn open_connection(path: &Path, access: Access) -> Result<Connection, StoreError> {
    let failed = |source| StoreError::Sqlite {
        operation: "open database",
        source,
    };

    // No CREATE flag: `files::prepare_database_file` created the file with
    // mode 0600 already. NOFOLLOW rejects a symbolic link put in its place.
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_NOFOLLOW;
    let conn = Connection::open_with_flags(path, flags).map_err(failed)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(failed)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE_CAPACITY);

    if access == Access::Write {
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
            .map_err(failed)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::invalid(
                "database",
                format!("SQLite kept journal mode `{mode}` instead of WAL; put the database on a local file system"),
            ));
        }
    }
    conn.pragma_update(None, "foreign_keys", true)
        .map_err(failed)?;
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(failed)?;
    // Schema code (views, triggers, CHECKs) may not call functions that
    // have side effects; the schema here needs none.
    conn.pragma_update(None, "trusted_schema", false)
        .map_err(failed)?;
    if access == Access::Read {
        conn.pragma_update(None, "query_only", true)
            .map_err(failed)?;
    }
    Ok(conn)
}
