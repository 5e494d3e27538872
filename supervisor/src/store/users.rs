//! User accounts and their roles.

use rusqlite::{params, OptionalExtension, TransactionBehavior};

use super::codec::{db_error, is_unique_violation, normalize_roles, now_millis, roles_column};
use super::{Page, Paged, Store, StoreError, UnixMillis};
use crate::model::{Role, UserId};

/// Maximum length of a username in characters.
pub const MAX_USERNAME_CHARS: usize = 64;

/// Maximum length of a stored password hash in bytes. An Argon2id PHC
/// string is about 100 bytes; the bound only stops absurd input.
const MAX_PASSWORD_HASH_BYTES: usize = 512;

/// A user to create.
#[derive(Clone)]
pub struct NewUser {
    pub username: String,
    /// Password hash in PHC string format, computed by the caller.
    pub password_hash: String,
    pub roles: Vec<Role>,
}

/// A stored user. `Debug` leaves out the password hash.
#[derive(Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub id: UserId,
    pub username: String,
    pub password_hash: String,
    /// Roles, sorted and without duplicates.
    pub roles: Vec<Role>,
    pub created_at: UnixMillis,
    pub disabled: bool,
}

impl std::fmt::Debug for UserRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserRecord")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("roles", &self.roles)
            .field("created_at", &self.created_at)
            .field("disabled", &self.disabled)
            .finish_non_exhaustive()
    }
}

/// Checks that `name` matches `^[a-z][a-z0-9_.-]{0,63}$`.
pub fn validate_username(name: &str) -> Result<(), StoreError> {
    let mut chars = name.chars();
    let valid = chars.next().is_some_and(|first| first.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_.-".contains(c))
        && name.len() <= MAX_USERNAME_CHARS;
    if valid {
        Ok(())
    } else {
        Err(StoreError::invalid(
            "username",
            format!("use 1 to {MAX_USERNAME_CHARS} lowercase letters, digits, `_`, `.` or `-`, starting with a letter"),
        ))
    }
}

fn validate_password_hash(hash: &str) -> Result<(), StoreError> {
    if hash.is_empty() || hash.len() > MAX_PASSWORD_HASH_BYTES {
        return Err(StoreError::invalid(
            "password hash",
            format!("must be 1 to {MAX_PASSWORD_HASH_BYTES} bytes"),
        ));
    }
    Ok(())
}

/// Columns read by [`read_user`], with roles aggregated into one text.
const USER_COLUMNS: &str = "u.id, u.username, u.password_hash, u.created_at, u.disabled,
    (SELECT group_concat(role) FROM user_roles r WHERE r.user_id = u.id)";

fn read_user(row: &rusqlite::Row<'_>) -> rusqlite::Result<UserRecord> {
    Ok(UserRecord {
        id: row.get(0)?,
        username: row.get(1)?,
        password_hash: row.get(2)?,
        created_at: row.get(3)?,
        disabled: row.get(4)?,
        roles: roles_column(row, 5)?,
    })
}

/// Replaces the roles of `user_id` inside an open transaction.
fn replace_roles(
    tx: &rusqlite::Transaction<'_>,
    user_id: &UserId,
    roles: &[Role],
) -> rusqlite::Result<()> {
    tx.prepare_cached("DELETE FROM user_roles WHERE user_id = ?1")?
        .execute([user_id])?;
    let mut insert = tx.prepare_cached("INSERT INTO user_roles (user_id, role) VALUES (?1, ?2)")?;
    for role in roles {
        insert.execute(params![user_id, role])?;
    }
    Ok(())
}

impl Store {
    /// Creates a user. Fails with [`StoreError::Conflict`] when the username
    /// is taken.
    pub async fn create_user(&self, user: NewUser) -> Result<UserRecord, StoreError> {
        validate_username(&user.username)?;
        validate_password_hash(&user.password_hash)?;
        let record = UserRecord {
            id: UserId::generate(),
            username: user.username,
            password_hash: user.password_hash,
            roles: normalize_roles(&user.roles),
            created_at: now_millis(),
            disabled: false,
        };
        self.write("create user", move |conn| {
            let failed = db_error("create user");
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(&failed)?;
            tx.prepare_cached(
                "INSERT INTO users (id, username, password_hash, created_at, disabled)
                 VALUES (?1, ?2, ?3, ?4, 0)",
            )
            .and_then(|mut insert| {
                insert.execute(params![
                    record.id,
                    record.username,
                    record.password_hash,
                    record.created_at
                ])
            })
            .map_err(|err| {
                if is_unique_violation(&err) {
                    StoreError::Conflict {
                        what: format!("user `{}`", record.username),
                    }
                } else {
                    failed(err)
                }
            })?;
            replace_roles(&tx, &record.id, &record.roles).map_err(&failed)?;
            tx.commit().map_err(&failed)?;
            Ok(record)
        })
        .await
    }

    /// Returns the user named `username`, or `None` (also for a name that
    /// is not valid, so a login attempt cannot probe validation).
    pub async fn user_by_name(&self, username: &str) -> Result<Option<UserRecord>, StoreError> {
        if validate_username(username).is_err() {
            return Ok(None);
        }
        let username = username.to_string();
        self.read("find user by name", move |conn| {
            let sql = format!("SELECT {USER_COLUMNS} FROM users u WHERE u.username = ?1");
            conn.prepare_cached(&sql)
                .and_then(|mut query| query.query_row([&username], read_user).optional())
                .map_err(db_error("find user by name"))
        })
        .await
    }

    /// Returns the user with `id`, or `None`.
    ///
    /// Served from a copy of at most [`super::CACHE_TTL`] when there is one.
    pub async fn user_by_id(&self, id: &UserId) -> Result<Option<UserRecord>, StoreError> {
        let generation = match self.users.get(id) {
            Ok(user) => return Ok(Some(user)),
            Err(generation) => generation,
        };
        let key = id.clone();
        let user = self
            .read("find user by id", move |conn| {
                let sql = format!("SELECT {USER_COLUMNS} FROM users u WHERE u.id = ?1");
                conn.prepare_cached(&sql)
                    .and_then(|mut query| query.query_row([&key], read_user).optional())
                    .map_err(db_error("find user by id"))
            })
            .await?;
        if let Some(user) = &user {
            self.users.insert(id.clone(), user.clone(), generation);
        }
        Ok(user)
    }

    /// Lists users by username.
    pub async fn list_users(&self, page: Page) -> Result<Paged<UserRecord>, StoreError> {
        self.read("list users", move |conn| {
            let sql = format!(
                "SELECT {USER_COLUMNS} FROM users u ORDER BY u.username LIMIT ?1 OFFSET ?2"
            );
            let rows = conn
                .prepare_cached(&sql)
                .and_then(|mut query| {
                    query
                        .query_map([page.query_limit(), page.query_offset()], read_user)?
                        .collect::<rusqlite::Result<Vec<_>>>()
                })
                .map_err(db_error("list users"))?;
            Ok(page.finish(rows))
        })
        .await
    }

    /// Replaces the roles of user `id`.
    pub async fn set_user_roles(&self, id: &UserId, roles: &[Role]) -> Result<(), StoreError> {
        let changed_id = id.clone();
        let id = id.clone();
        let roles = normalize_roles(roles);
        let result = self
            .write("set user roles", move |conn| {
                let failed = db_error("set user roles");
                let tx = conn
                    .transaction_with_behavior(TransactionBehavior::Immediate)
                    .map_err(&failed)?;
                let exists = tx
                    .prepare_cached("SELECT 1 FROM users WHERE id = ?1")
                    .and_then(|mut query| query.exists([&id]))
                    .map_err(&failed)?;
                if !exists {
                    return Err(StoreError::not_found("user", &id));
                }
                replace_roles(&tx, &id, &roles).map_err(&failed)?;
                tx.commit().map_err(&failed)
            })
            .await;
        self.users.invalidate(&changed_id);
        result
    }

    /// Disables or re-enables user `id`. A disabled user cannot log in or
    /// use API keys; authentication checks the flag.
    pub async fn set_user_disabled(&self, id: &UserId, disabled: bool) -> Result<(), StoreError> {
        let changed_id = id.clone();
        let id = id.clone();
        let result = self
            .write("set user disabled", move |conn| {
                let changed = conn
                    .prepare_cached("UPDATE users SET disabled = ?2 WHERE id = ?1")
                    .and_then(|mut update| update.execute(params![id, disabled]))
                    .map_err(db_error("set user disabled"))?;
                if changed == 0 {
                    return Err(StoreError::not_found("user", &id));
                }
                Ok(())
            })
            .await;
        self.users.invalidate(&changed_id);
        result
    }

    /// Returns the number of users.
    pub async fn count_users(&self) -> Result<u64, StoreError> {
        self.read("count users", |conn| {
            let count: i64 = conn
                .prepare_cached("SELECT count(*) FROM users")
                .and_then(|mut query| query.query_row([], |row| row.get(0)))
                .map_err(db_error("count users"))?;
            Ok(u64::try_from(count).unwrap_or_default())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_support::{new_user, open_store};

    #[test]
    fn username_rules() {
        for good in ["a", "alice", "a.b-c_d9", &"a".repeat(64)] {
            assert!(validate_username(good).is_ok(), "{good:?} rejected");
        }
        for bad in [
            "",
            "Alice",
            "9lives",
            "_x",
            "a b",
            "a/b",
            "é",
            &"a".repeat(65),
        ] {
            assert!(validate_username(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[tokio::test]
    async fn create_and_find() {
        let (_dir, store) = open_store().await;
        let created = store
            .create_user(new_user(
                "alice",
                &[Role::Editor, Role::Viewer, Role::Editor],
            ))
            .await
            .unwrap();
        assert_eq!(created.roles, vec![Role::Viewer, Role::Editor]);

        let by_name = store.user_by_name("alice").await.unwrap();
        assert_eq!(by_name.as_ref(), Some(&created));
        let by_id = store.user_by_id(&created.id).await.unwrap();
        assert_eq!(by_id, Some(created));
    }

    #[tokio::test]
    async fn missing_user_is_none() {
        let (_dir, store) = open_store().await;
        assert_eq!(store.user_by_name("nobody").await.unwrap(), None);
        assert_eq!(store.user_by_name("Not Valid").await.unwrap(), None);
        assert_eq!(store.user_by_id(&UserId::generate()).await.unwrap(), None);
    }

    #[tokio::test]
    async fn duplicate_username_conflicts() {
        let (_dir, store) = open_store().await;
        store.create_user(new_user("bob", &[])).await.unwrap();
        let result = store.create_user(new_user("bob", &[])).await;
        assert!(matches!(result, Err(StoreError::Conflict { .. })));
    }

    #[tokio::test]
    async fn invalid_username_rejected() {
        let (_dir, store) = open_store().await;
        let result = store.create_user(new_user("Bob", &[])).await;
        assert!(matches!(
            result,
            Err(StoreError::Invalid {
                field: "username",
                ..
            })
        ));
    }

    #[tokio::test]
    async fn roles_replaced() {
        let (_dir, store) = open_store().await;
        let user = store
            .create_user(new_user("carol", &[Role::Viewer]))
            .await
            .unwrap();
        store
            .set_user_roles(&user.id, &[Role::Admin, Role::Executor])
            .await
            .unwrap();
        let reloaded = store.user_by_id(&user.id).await.unwrap().unwrap();
        assert_eq!(reloaded.roles, vec![Role::Executor, Role::Admin]);
    }

    #[tokio::test]
    async fn roles_of_missing_user() {
        let (_dir, store) = open_store().await;
        let result = store
            .set_user_roles(&UserId::generate(), &[Role::Admin])
            .await;
        assert!(matches!(result, Err(StoreError::NotFound { .. })));
    }

    #[tokio::test]
    async fn disable_user() {
        let (_dir, store) = open_store().await;
        let user = store.create_user(new_user("dave", &[])).await.unwrap();
        store.set_user_disabled(&user.id, true).await.unwrap();
        let reloaded = store.user_by_id(&user.id).await.unwrap().unwrap();
        assert!(reloaded.disabled);
    }

    #[tokio::test]
    async fn list_and_count() {
        let (_dir, store) = open_store().await;
        for name in ["erin", "carl", "dana"] {
            store.create_user(new_user(name, &[])).await.unwrap();
        }
        assert_eq!(store.count_users().await.unwrap(), 3);

        let first = store.list_users(Page::new(Some(2), None)).await.unwrap();
        let names: Vec<_> = first.items.iter().map(|u| u.username.as_str()).collect();
        assert_eq!(names, ["carl", "dana"]);
        assert_eq!(first.next_offset, Some(2));

        let second = store.list_users(Page::new(Some(2), Some(2))).await.unwrap();
        assert_eq!(second.items.len(), 1);
        assert_eq!(second.next_offset, None);
    }

    #[tokio::test]
    async fn debug_hides_hash() {
        let (_dir, store) = open_store().await;
        let user = store.create_user(new_user("frank", &[])).await.unwrap();
        let text = format!("{user:?}");
        assert!(!text.contains(&user.password_hash), "{text}");
    }
}
