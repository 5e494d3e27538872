//! SQLite connections and how async callers reach them.
//!
//! One writer connection, behind an async mutex, serializes every write in
//! this process. A few read connections, behind a semaphore, serve reads in
//! parallel with it, because WAL mode lets readers see the last commit while
//! a write is in progress. Callers wait for the mutex or a permit without blocking
//! a runtime thread, then the SQLite work runs in `spawn_blocking`, so no
//! SQLite call ever runs on an async worker thread.
//!
//! Group commit: with `synchronous = FULL` every commit waits for an fsync
//! (about 4 ms on the machine of docs/benchmarks.md), so one transaction per
//! step event would cap a busy server at a few hundred events per second.
//! [`Connections::write_grouped`] queues small writes; whichever caller next
//! holds the writer runs every queued write in one transaction, each inside
//! its own savepoint, and each caller learns its result only after that
//! transaction committed.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use tokio::sync::{oneshot, Semaphore};

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

/// Most writes one group transaction runs; later ones wait for the next.
/// Bounds how long the writer is held and the work lost to a failed commit.
const MAX_GROUP_WRITES: usize = 256;

/// A queued grouped write. It runs its work on the connection inside the
/// group's transaction and returns whether the work succeeded, and the
/// delivery of its result, called once the transaction ended.
type GroupedWrite = Box<dyn FnOnce(&Connection) -> (bool, Delivery) + Send>;

/// Delivers a grouped write's result to its caller: `None` when the group
/// committed, or the commit's error.
type Delivery = Box<dyn FnOnce(Option<StoreError>) + Send>;

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
    /// Grouped writes waiting for the writer.
    grouped: Arc<Mutex<Vec<GroupedWrite>>>,
}

impl Connections {
    /// Wraps an open, migrated writer connection for the database at `path`.
    pub(super) fn new(path: PathBuf, writer: Connection) -> Self {
        Connections {
            path,
            writer: Arc::new(tokio::sync::Mutex::new(Some(writer))),
            readers: Mutex::new(Vec::with_capacity(READ_CONNECTIONS)),
            read_permits: Arc::new(Semaphore::new(READ_CONNECTIONS)),
            grouped: Arc::new(Mutex::new(Vec::new())),
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

    /// Runs `work` on the writer connection, grouped with other small writes
    /// into one transaction, and returns its result once that transaction
    /// committed. `work` runs inside a savepoint, so its own changes are
    /// undone if it fails, and it must not begin or end a transaction.
    ///
    /// NOTE: a caller whose future is dropped after queueing still has its
    /// write run by the next writer; only the result is lost.
    pub(super) async fn write_grouped<T, F>(
        &self,
        operation: &'static str,
        work: F,
    ) -> Result<T, StoreError>
    where
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        let (sender, receiver) = oneshot::channel::<Result<T, StoreError>>();
        let queued: GroupedWrite = Box::new(move |conn: &Connection| {
            let result = work(conn);
            let succeeded = result.is_ok();
            let delivery: Delivery = Box::new(move |commit_error| {
                let outcome = match commit_error {
                    None => result,
                    Some(error) => Err(error),
                };
                // The caller may be gone; its write committed or failed anyway.
                let _ = sender.send(outcome);
            });
            (succeeded, delivery)
        });
        lock_queue(&self.grouped).push(queued);

        // The next caller to lock the writer runs the queue, including this
        // caller's write unless an earlier caller already took it.
        let mut writer = Arc::clone(&self.writer).lock_owned().await;
        if writer.is_none() {
            return Err(StoreError::Closed { operation });
        }
        let group = take_group(&self.grouped);
        if !group.is_empty() {
            tokio::task::spawn_blocking(move || {
                if let Some(conn) = writer.as_mut() {
                    run_group(conn, group);
                }
            })
            .await
            .map_err(|source| StoreError::TaskFailed { operation, source })?;
        }
        // A write dropped without a result (its group could not start) has
        // dropped the sender too.
        receiver
            .await
            .unwrap_or(Err(StoreError::GroupAborted { operation }))
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

fn lock_queue(queue: &Mutex<Vec<GroupedWrite>>) -> std::sync::MutexGuard<'_, Vec<GroupedWrite>> {
    // The queue stays valid even if a holder panicked.
    queue.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Takes up to [`MAX_GROUP_WRITES`] queued writes, oldest first.
fn take_group(queue: &Mutex<Vec<GroupedWrite>>) -> Vec<GroupedWrite> {
    let mut queued = lock_queue(queue);
    let count = queued.len().min(MAX_GROUP_WRITES);
    queued.drain(..count).collect()
}

/// Runs `group` in one IMMEDIATE transaction, each write in a savepoint, and
/// delivers every result after the commit.
fn run_group(conn: &mut Connection, group: Vec<GroupedWrite>) {
    if let Err(source) = conn.execute_batch("BEGIN IMMEDIATE") {
        // Dropping the writes drops their senders, so each caller gets
        // `GroupAborted`; this log line records the cause.
        tracing::error!(error = %source, writes = group.len(), "grouped writes could not begin a transaction");
        return;
    }
    let mut deliveries = Vec::with_capacity(group.len());
    for write in group {
        if let Err(source) = conn.execute_batch("SAVEPOINT grouped_write") {
            tracing::error!(error = %source, "a grouped write could not open its savepoint");
            continue;
        }
        let (succeeded, delivery) = write(conn);
        let close = if succeeded {
            "RELEASE grouped_write"
        } else {
            "ROLLBACK TO grouped_write; RELEASE grouped_write"
        };
        if let Err(source) = conn.execute_batch(close) {
            tracing::error!(error = %source, "a grouped write could not close its savepoint");
        }
        deliveries.push(delivery);
    }
    match conn.execute_batch("COMMIT") {
        Ok(()) => deliveries.into_iter().for_each(|delivery| delivery(None)),
        Err(source) => {
            let message = source.to_string();
            tracing::error!(error = %message, writes = deliveries.len(), "grouped writes failed to commit");
            if !conn.is_autocommit() {
                let _ = conn.execute_batch("ROLLBACK");
            }
            for delivery in deliveries {
                delivery(Some(group_error("commit grouped writes", &message)));
            }
        }
    }
}

/// Builds the error given to each write of a group whose transaction failed.
fn group_error(operation: &'static str, message: &str) -> StoreError {
    StoreError::Sqlite {
        operation,
        source: rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ERROR),
            Some(message.to_string()),
        ),
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

#[cfg(test)]
mod tests {
    use rusqlite::params;

    use super::super::test_support::open_store;
    use super::*;

    async fn scratch_values(store: &crate::store::Store) -> Vec<i64> {
        store
            .read("read scratch", |conn| {
                let mut query = conn
                    .prepare("SELECT v FROM scratch ORDER BY v")
                    .map_err(super::super::codec::db_error("read scratch"))?;
                let rows = query
                    .query_map([], |row| row.get(0))
                    .and_then(|rows| rows.collect::<Result<Vec<i64>, _>>())
                    .map_err(super::super::codec::db_error("read scratch"))?;
                Ok(rows)
            })
            .await
            .unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn grouped_writes_commit_and_fail_alone() {
        let (_dir, store) = open_store().await;
        store
            .write("create scratch", |conn| {
                conn.execute_batch("CREATE TABLE scratch (v INTEGER NOT NULL)")
                    .map_err(super::super::codec::db_error("create scratch"))
            })
            .await
            .unwrap();

        // Many concurrent writes; every third inserts a row and then fails,
        // so its savepoint must undo the row while the others commit.
        let mut tasks = Vec::new();
        for value in 0..60_i64 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                store
                    .write_grouped("insert scratch", move |conn| {
                        conn.execute("INSERT INTO scratch (v) VALUES (?1)", params![value])
                            .map_err(super::super::codec::db_error("insert scratch"))?;
                        if value % 3 == 0 {
                            return Err(StoreError::invalid("value", "divisible by three"));
                        }
                        Ok(value)
                    })
                    .await
            }));
        }
        let mut succeeded = Vec::new();
        for (value, task) in (0..60_i64).zip(tasks) {
            let result = task.await.unwrap();
            if value % 3 == 0 {
                assert!(matches!(result, Err(StoreError::Invalid { .. })), "{value}");
            } else {
                assert_eq!(result.unwrap(), value);
                succeeded.push(value);
            }
        }
        assert_eq!(scratch_values(&store).await, succeeded);
    }

    #[tokio::test]
    async fn grouped_write_after_close_fails() {
        let (_dir, store) = open_store().await;
        store.close().await.unwrap();
        let result = store.write_grouped("after close", |_conn| Ok(())).await;
        assert!(matches!(result, Err(StoreError::Closed { .. })));
    }
}
