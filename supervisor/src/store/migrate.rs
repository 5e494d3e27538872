//! Numbered schema migrations, tracked in `PRAGMA user_version`.
//!
//! Migration N (1-based) moves the schema from version N-1 to N. Each runs
//! in its own IMMEDIATE transaction together with the `user_version` update,
//! so a failed migration leaves the previous version intact. Migrations are
//! never edited once released; a change of schema adds a file.

use rusqlite::{Connection, TransactionBehavior};

use super::StoreError;

/// The migrations, in order.
const MIGRATIONS: &[&str] = &[include_str!("migrations/0001_init.sql")];

/// The schema version this build creates and understands.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// Applies every pending migration to `conn` and returns the number applied.
/// Rejects a database whose version is newer than [`SCHEMA_VERSION`].
pub(super) fn migrate(conn: &mut Connection) -> Result<u32, StoreError> {
    apply(conn, MIGRATIONS)
}

fn schema_version(conn: &Connection, operation: &'static str) -> Result<u32, StoreError> {
    conn.pragma_query_value(None, "user_version", |row| row.get::<_, u32>(0))
        .map_err(|source| StoreError::Sqlite { operation, source })
}

/// Applies `migrations` (see [`migrate`]). The version is read again inside
/// each transaction, so two processes opening the same new database do not
/// apply a migration twice.
fn apply(conn: &mut Connection, migrations: &[&str]) -> Result<u32, StoreError> {
    let supported = u32::try_from(migrations.len()).unwrap_or(u32::MAX);
    let mut applied = 0;
    loop {
        let failed = |version: u32, previous: u32| {
            move |source| StoreError::Migration {
                version,
                previous,
                source,
            }
        };
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|source| StoreError::Sqlite {
                operation: "begin migration",
                source,
            })?;
        let current = schema_version(&tx, "read schema version")?;
        if current > supported {
            return Err(StoreError::SchemaTooNew {
                found: current,
                supported,
            });
        }
        if current == supported {
            return Ok(applied);
        }

        let version = current + 1;
        let sql = migrations[current as usize];
        tx.execute_batch(sql).map_err(failed(version, current))?;
        tx.pragma_update(None, "user_version", version)
            .map_err(failed(version, current))?;
        tx.commit().map_err(failed(version, current))?;
        tracing::info!(version, "applied database schema migration");
        applied += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open_memory() -> Connection {
        Connection::open_in_memory().unwrap()
    }

    #[test]
    fn applies_all_once() {
        let mut conn = open_memory();
        assert_eq!(migrate(&mut conn).unwrap(), SCHEMA_VERSION);
        assert_eq!(migrate(&mut conn).unwrap(), 0);
        assert_eq!(schema_version(&conn, "test").unwrap(), SCHEMA_VERSION);
    }

    #[test]
    fn newer_schema_rejected() {
        let mut conn = open_memory();
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        let result = migrate(&mut conn);
        assert!(matches!(result, Err(StoreError::SchemaTooNew { .. })));
    }

    #[test]
    fn failed_migration_rolled_back() {
        let mut conn = open_memory();
        let migrations = [
            "CREATE TABLE first (id INTEGER);",
            "CREATE TABLE second (id INTEGER); SELECT * FROM missing_table;",
        ];
        let result = apply(&mut conn, &migrations);
        assert!(matches!(
            result,
            Err(StoreError::Migration {
                version: 2,
                previous: 1,
                ..
            })
        ));
        assert_eq!(schema_version(&conn, "test").unwrap(), 1);
        let second_exists: bool = conn
            .query_row(
                "SELECT count(*) > 0 FROM sqlite_schema WHERE name = 'second'",
                [],
                |row| row.get(0),
            )
            .unwrap();
        assert!(!second_exists, "table of the failed migration was kept");
    }
}
