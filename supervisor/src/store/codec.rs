//! Conversions between Rust values and SQLite columns: ids, roles, states,
//! JSON columns, timestamps, and the mapping of SQLite errors.

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, Type, ValueRef};
use serde::de::DeserializeOwned;
use serde::Serialize;
use vwmp_protocol::LogStream;

use super::{StoreError, UnixMillis};
use crate::engine::{ExecutionStatus, StepStatus};
use crate::model::{ApiKeyId, ExecutionId, Role, UserId, WorkflowId};

/// Returns the current time in unix milliseconds, or 0 when the system
/// clock is set before 1970.
pub(super) fn now_millis() -> UnixMillis {
    let elapsed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX)
}

/// Returns a mapper from a rusqlite error to a [`StoreError`] for
/// `operation`: conversion failures of stored values become
/// [`StoreError::Decode`], the rest [`StoreError::Sqlite`].
pub(super) fn db_error(operation: &'static str) -> impl Fn(rusqlite::Error) -> StoreError {
    move |source| match source {
        rusqlite::Error::FromSqlConversionFailure(..)
        | rusqlite::Error::IntegralValueOutOfRange(..)
        | rusqlite::Error::InvalidColumnType(..)
        | rusqlite::Error::Utf8Error(..) => StoreError::Decode { operation, source },
        source => StoreError::Sqlite { operation, source },
    }
}

/// Returns true when `error` is a violation of a UNIQUE or PRIMARY KEY
/// constraint.
pub(super) fn is_unique_violation(error: &rusqlite::Error) -> bool {
    matches!(
        error.sqlite_error().map(|failure| failure.extended_code),
        Some(rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY)
    )
}

/// Returns true when `error` is a violation of a FOREIGN KEY constraint.
pub(super) fn is_foreign_key_violation(error: &rusqlite::Error) -> bool {
    error.sqlite_error().map(|failure| failure.extended_code)
        == Some(rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY)
}

/// Serializes `value` for a JSON column.
pub(super) fn to_json<T: Serialize + ?Sized>(
    field: &'static str,
    value: &T,
) -> Result<String, StoreError> {
    serde_json::to_string(value)
        .map_err(|err| StoreError::invalid(field, format!("cannot be stored as JSON: {err}")))
}

/// Reads a JSON column at `index` into `T`.
pub(super) fn json_column<T: DeserializeOwned>(
    row: &rusqlite::Row<'_>,
    index: usize,
) -> rusqlite::Result<T> {
    let text: String = row.get(index)?;
    serde_json::from_str(&text)
        .map_err(|err| rusqlite::Error::FromSqlConversionFailure(index, Type::Text, Box::new(err)))
}

/// Reads a nullable JSON column at `index` into `Option<T>`.
pub(super) fn optional_json_column<T: DeserializeOwned>(
    row: &rusqlite::Row<'_>,
    index: usize,
) -> rusqlite::Result<Option<T>> {
    let text: Option<String> = row.get(index)?;
    text.map(|text| {
        serde_json::from_str(&text).map_err(|err| {
            rusqlite::Error::FromSqlConversionFailure(index, Type::Text, Box::new(err))
        })
    })
    .transpose()
}

/// Parses a comma-separated role list built by `group_concat`.
pub(super) fn roles_column(row: &rusqlite::Row<'_>, index: usize) -> rusqlite::Result<Vec<Role>> {
    let text: Option<String> = row.get(index)?;
    let mut roles = Vec::new();
    for name in text.iter().flat_map(|text| text.split(',')) {
        let role = Role::parse(name).map_err(|err| {
            rusqlite::Error::FromSqlConversionFailure(index, Type::Text, Box::new(err))
        })?;
        roles.push(role);
    }
    roles.sort();
    roles.dedup();
    Ok(roles)
}

/// Returns the sorted, duplicate-free form of `roles` that the store keeps.
pub(super) fn normalize_roles(roles: &[Role]) -> Vec<Role> {
    let mut roles = roles.to_vec();
    roles.sort();
    roles.dedup();
    roles
}

/// Returns the stored name of a log stream.
pub(super) fn log_stream_name(stream: LogStream) -> &'static str {
    match stream {
        LogStream::Stdout => "stdout",
        LogStream::Stderr => "stderr",
        LogStream::Worker => "worker",
    }
}

/// Reads a log stream column at `index`.
pub(super) fn log_stream_column(
    row: &rusqlite::Row<'_>,
    index: usize,
) -> rusqlite::Result<LogStream> {
    let text: String = row.get(index)?;
    match text.as_str() {
        "stdout" => Ok(LogStream::Stdout),
        "stderr" => Ok(LogStream::Stderr),
        "worker" => Ok(LogStream::Worker),
        _ => Err(rusqlite::Error::FromSqlConversionFailure(
            index,
            Type::Text,
            format!("unknown log stream `{text}`").into(),
        )),
    }
}

/// Every execution state, for parsing stored names.
const EXECUTION_STATES: [ExecutionStatus; 7] = [
    ExecutionStatus::Queued,
    ExecutionStatus::Running,
    ExecutionStatus::Succeeded,
    ExecutionStatus::Failed,
    ExecutionStatus::Cancelled,
    ExecutionStatus::TimedOut,
    ExecutionStatus::Interrupted,
];

/// Every step state, for parsing stored names.
const STEP_STATES: [StepStatus; 8] = [
    StepStatus::Pending,
    StepStatus::Running,
    StepStatus::Succeeded,
    StepStatus::Failed,
    StepStatus::Skipped,
    StepStatus::Cancelled,
    StepStatus::TimedOut,
    StepStatus::Interrupted,
];

/// Returns true for execution states that never change again.
pub(super) fn execution_is_final(status: ExecutionStatus) -> bool {
    !matches!(status, ExecutionStatus::Queued | ExecutionStatus::Running)
}

fn text_value<'a>(value: ValueRef<'a>) -> FromSqlResult<&'a str> {
    value.as_str()
}

fn conversion_error(err: impl std::error::Error + Send + Sync + 'static) -> FromSqlError {
    FromSqlError::Other(Box::new(err))
}

macro_rules! sql_text_id {
    ($name:ty) => {
        impl ToSql for $name {
            fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
                Ok(ToSqlOutput::from(self.as_str()))
            }
        }

        impl FromSql for $name {
            fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
                <$name>::parse(text_value(value)?).map_err(conversion_error)
            }
        }
    };
}

sql_text_id!(UserId);
sql_text_id!(WorkflowId);
sql_text_id!(ExecutionId);
sql_text_id!(ApiKeyId);

impl ToSql for Role {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

impl FromSql for Role {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        Role::parse(text_value(value)?).map_err(conversion_error)
    }
}

/// A stored state name that no state has.
#[derive(Debug, thiserror::Error)]
#[error("unknown {kind} state `{name}`")]
struct UnknownState {
    kind: &'static str,
    name: String,
}

impl ToSql for ExecutionStatus {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

impl FromSql for ExecutionStatus {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let name = text_value(value)?;
        EXECUTION_STATES
            .into_iter()
            .find(|status| status.as_str() == name)
            .ok_or_else(|| {
                conversion_error(UnknownState {
                    kind: "execution",
                    name: name.to_string(),
                })
            })
    }
}

impl ToSql for StepStatus {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

impl FromSql for StepStatus {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let name = text_value(value)?;
        STEP_STATES
            .into_iter()
            .find(|status| status.as_str() == name)
            .ok_or_else(|| {
                conversion_error(UnknownState {
                    kind: "step",
                    name: name.to_string(),
                })
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn execution_states_round_trip() {
        for status in EXECUTION_STATES {
            let parsed = ExecutionStatus::column_result(ValueRef::Text(status.as_str().as_bytes()));
            assert_eq!(parsed.ok(), Some(status));
        }
    }

    #[test]
    fn step_states_round_trip() {
        for status in STEP_STATES {
            let parsed = StepStatus::column_result(ValueRef::Text(status.as_str().as_bytes()));
            assert_eq!(parsed.ok(), Some(status));
        }
    }

    #[test]
    fn unknown_state_rejected() {
        assert!(StepStatus::column_result(ValueRef::Text(b"paused")).is_err());
    }

    #[test]
    fn malformed_id_rejected() {
        assert!(UserId::column_result(ValueRef::Text(b"../x")).is_err());
    }

    #[test]
    fn roles_normalized() {
        let roles = normalize_roles(&[Role::Admin, Role::Viewer, Role::Admin]);
        assert_eq!(roles, vec![Role::Viewer, Role::Admin]);
    }
}
