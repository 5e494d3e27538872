//! Errors of the store.

use std::path::PathBuf;

/// An error of a store operation. Messages never contain password hashes,
/// token hashes or key hashes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A record the operation needs does not exist.
    #[error("{what} not found: check the id or name")]
    NotFound { what: String },

    /// A value that must be unique is already taken.
    #[error("{what} already exists: choose another value")]
    Conflict { what: String },

    /// An input failed validation before it reached the database.
    #[error("invalid {field}: {reason}")]
    Invalid { field: &'static str, reason: String },

    /// SQLite returned an error.
    #[error("database operation `{operation}` failed: if it repeats, check free disk space and the permissions of the database files")]
    Sqlite {
        operation: &'static str,
        #[source]
        source: rusqlite::Error,
    },

    /// A stored value could not be read back into its type.
    #[error("database operation `{operation}` read a stored value that is not valid: the database was changed outside vwmp or is damaged")]
    Decode {
        operation: &'static str,
        #[source]
        source: rusqlite::Error,
    },

    /// A file or directory operation failed.
    #[error(
        "failed to {operation} {path}: check that the path exists and belongs to the vwmp user"
    )]
    Io {
        operation: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The database directory lets other accounts replace files in it.
    #[error("database directory {path} is writable by group or others (mode {mode:04o}): run `chmod 0700 {path}` or choose another directory")]
    InsecureDirectory { path: PathBuf, mode: u32 },

    /// A database file is a symbolic link or not a regular file.
    #[error("database file {path} is not a regular file: remove it or choose another path")]
    NotRegularFile { path: PathBuf },

    /// A schema migration failed; its transaction was rolled back.
    #[error("failed to apply schema migration {version:04}: the database keeps version {previous}; restore a backup if this repeats")]
    Migration {
        version: u32,
        previous: u32,
        #[source]
        source: rusqlite::Error,
    },

    /// The database was written by a newer vwmp.
    #[error("database schema version {found} is newer than the {supported} this vwmp supports: upgrade vwmp or restore a backup")]
    SchemaTooNew { found: u32, supported: u32 },

    /// The store was closed before the operation started.
    #[error("database operation `{operation}` was rejected because the store is closed (the server is shutting down)")]
    Closed { operation: &'static str },

    /// A grouped write was not run because its group's transaction could
    /// not start.
    #[error("database operation `{operation}` was not run because its transaction could not start: see the server log for the SQLite error")]
    GroupAborted { operation: &'static str },

    /// The blocking task that ran the operation panicked or was cancelled.
    #[error("database task `{operation}` panicked or was cancelled")]
    TaskFailed {
        operation: &'static str,
        #[source]
        source: tokio::task::JoinError,
    },
}

impl StoreError {
    /// Creates a [`StoreError::NotFound`] naming a kind of record and its key.
    pub(crate) fn not_found(kind: &str, key: impl std::fmt::Display) -> Self {
        StoreError::NotFound {
            what: format!("{kind} `{key}`"),
        }
    }

    /// Creates a [`StoreError::Invalid`] for `field`.
    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        StoreError::Invalid {
            field,
            reason: reason.into(),
        }
    }
}
