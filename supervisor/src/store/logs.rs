//! Log lines of steps, read back in order with an id cursor.

use rusqlite::params;
use serde::Serialize;
use vwmp_protocol::LogStream;

use super::codec::{db_error, log_stream_column, log_stream_name};
use super::{Store, StoreError, UnixMillis};
use crate::model::ExecutionId;

/// Lines per log page when the client names no limit.
pub const DEFAULT_LOG_PAGE: u32 = 500;

/// Maximum lines per log page. A line is at most a few KiB (the launcher
/// splits longer ones), so a page stays within a few MiB.
pub const MAX_LOG_PAGE: u32 = 1000;

/// One stored log line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogRecord {
    /// Increasing id; pass the last one seen as `after_id` to read on.
    pub id: i64,
    pub step_id: String,
    pub stream: LogStream,
    pub line: String,
    /// True when the line is a piece of a longer line that was split.
    pub truncated: bool,
    pub created_at: UnixMillis,
}

/// Inserts one log line of `step_id` in `execution_id`; the statement stays
/// prepared in the connection's cache, because this runs once per line.
pub(super) fn insert_log(
    conn: &rusqlite::Connection,
    execution_id: &ExecutionId,
    step_id: &str,
    stream: LogStream,
    line: &str,
    truncated: bool,
    now: UnixMillis,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO step_logs (execution_id, step_id, stream, line, truncated, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        execution_id,
        step_id,
        log_stream_name(stream),
        line,
        truncated,
        now
    ])?;
    Ok(())
}

impl Store {
    /// Appends one log line of `step_id` to execution `execution_id`,
    /// committed before it returns, and returns the line's id: the cursor
    /// that [`Store::logs`] pages by. Live event streams send the id along,
    /// so a client that reads the stored lines and then follows the live
    /// ones can drop what it already has.
    pub async fn append_log(
        &self,
        execution_id: &ExecutionId,
        step_id: &str,
        stream: LogStream,
        line: &str,
        truncated: bool,
    ) -> Result<i64, StoreError> {
        let execution_id = execution_id.clone();
        let step_id = step_id.to_string();
        let line = line.to_string();
        self.write("append step log", move |conn| {
            let now = super::codec::now_millis();
            insert_log(conn, &execution_id, &step_id, stream, &line, truncated, now)
                .map_err(db_error("append step log"))?;
            Ok(conn.last_insert_rowid())
        })
        .await
    }

    /// Returns up to `limit` log lines of execution `execution_id` (capped
    /// at [`MAX_LOG_PAGE`]; 0 means [`DEFAULT_LOG_PAGE`]) whose id is
    /// greater than `after_id`, oldest first.
    pub async fn logs(
        &self,
        execution_id: &ExecutionId,
        after_id: Option<i64>,
        limit: u32,
    ) -> Result<Vec<LogRecord>, StoreError> {
        let execution_id = execution_id.clone();
        let limit = match limit {
            0 => DEFAULT_LOG_PAGE,
            limit => limit.min(MAX_LOG_PAGE),
        };
        self.read("read logs", move |conn| {
            conn.prepare_cached(
                "SELECT id, step_id, stream, line, truncated, created_at FROM step_logs
                 WHERE execution_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3",
            )
            .and_then(|mut query| {
                query
                    .query_map(params![execution_id, after_id.unwrap_or(0), limit], |row| {
                        Ok(LogRecord {
                            id: row.get(0)?,
                            step_id: row.get(1)?,
                            stream: log_stream_column(row, 2)?,
                            line: row.get(3)?,
                            truncated: row.get(4)?,
                            created_at: row.get(5)?,
                        })
                    })?
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .map_err(db_error("read logs"))
        })
        .await
    }
}
