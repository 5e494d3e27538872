//! API keys of machine clients: stored as hashes, with roles, an optional
//! expiry and a revocation time.

use rusqlite::{params, OptionalExtension, TransactionBehavior};

use super::codec::{
    db_error, is_foreign_key_violation, is_unique_violation, normalize_roles, roles_column,
};
use super::{Store, StoreError, UnixMillis};
use crate::model::{ApiKeyId, Role, UserId};

/// Maximum length of an API key's name in characters.
pub const MAX_API_KEY_NAME_CHARS: usize = 64;

/// Maximum length of the displayed key prefix in characters; a prefix only
/// helps a person recognise a key and must not weaken it.
pub const MAX_KEY_PREFIX_CHARS: usize = 16;

/// Maximum length of a key or token hash in bytes: a hex SHA-512 digest.
pub(super) const MAX_HASH_BYTES: usize = 128;

/// Minimum time between two updates of `last_used_at` of one key, in
/// milliseconds. Each update is a synced write, and a client that calls
/// every second should not cost one per request.
const TOUCH_INTERVAL_MS: i64 = 60_000;

/// An API key to create.
#[derive(Clone)]
pub struct NewApiKey {
    pub user_id: UserId,
    pub name: String,
    /// Hash of the key, computed by the caller.
    pub key_hash: String,
    /// First characters of the key, shown to tell keys apart.
    pub prefix: String,
    /// Roles the key grants. Authentication should grant only those the
    /// user also holds; the store keeps them as given.
    pub roles: Vec<Role>,
    pub created_at: UnixMillis,
    pub expires_at: Option<UnixMillis>,
}

/// A stored API key. `Debug` leaves out the hash.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKeyRecord {
    pub id: ApiKeyId,
    pub user_id: UserId,
    pub name: String,
    pub key_hash: String,
    pub prefix: String,
    pub roles: Vec<Role>,
    pub created_at: UnixMillis,
    pub expires_at: Option<UnixMillis>,
    pub revoked_at: Option<UnixMillis>,
    pub last_used_at: Option<UnixMillis>,
}

impl std::fmt::Debug for ApiKeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKeyRecord")
            .field("id", &self.id)
            .field("user_id", &self.user_id)
            .field("name", &self.name)
            .field("prefix", &self.prefix)
            .field("roles", &self.roles)
            .field("created_at", &self.created_at)
            .field("expires_at", &self.expires_at)
            .field("revoked_at", &self.revoked_at)
            .field("last_used_at", &self.last_used_at)
            .finish_non_exhaustive()
    }
}

impl ApiKeyRecord {
    /// Returns true when the key is neither revoked nor expired at `now`.
    pub fn is_active(&self, now: UnixMillis) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|expires| now < expires)
    }
}

/// Whose keys an operation may touch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyScope {
    /// Only keys of this user; another user's key is reported as not found,
    /// so its existence is not revealed.
    Owner(UserId),
    /// Any key (administrators).
    Any,
}

/// Checks that `hash` is 1 to [`MAX_HASH_BYTES`] visible ASCII characters.
pub(super) fn validate_hash(field: &'static str, hash: &str) -> Result<(), StoreError> {
    if hash.is_empty() || hash.len() > MAX_HASH_BYTES || !hash.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(StoreError::invalid(
            field,
            format!("must be 1 to {MAX_HASH_BYTES} visible ASCII characters"),
        ));
    }
    Ok(())
}

fn validate_new_key(key: &NewApiKey) -> Result<(), StoreError> {
    let name_chars = key.name.chars().count();
    if name_chars == 0
        || name_chars > MAX_API_KEY_NAME_CHARS
        || key.name.chars().any(char::is_control)
    {
        return Err(StoreError::invalid(
            "API key name",
            format!("use 1 to {MAX_API_KEY_NAME_CHARS} characters without control characters"),
        ));
    }
    let prefix_chars = key.prefix.chars().count();
    if prefix_chars == 0
        || prefix_chars > MAX_KEY_PREFIX_CHARS
        || !key.prefix.chars().all(|c| c.is_ascii_graphic())
    {
        return Err(StoreError::invalid(
            "API key prefix",
            format!("use 1 to {MAX_KEY_PREFIX_CHARS} visible ASCII characters"),
        ));
    }
    validate_hash("API key hash", &key.key_hash)
}

const KEY_COLUMNS: &str = "k.id, k.user_id, k.name, k.key_hash, k.prefix, k.created_at,
    k.expires_at, k.revoked_at, k.last_used_at,
    (SELECT group_concat(role) FROM api_key_roles r WHERE r.api_key_id = k.id)";

fn read_key(row: &rusqlite::Row<'_>) -> rusqlite::Result<ApiKeyRecord> {
    Ok(ApiKeyRecord {
        id: row.get(0)?,
        user_id: row.get(1)?,
        name: row.get(2)?,
        key_hash: row.get(3)?,
        prefix: row.get(4)?,
        created_at: row.get(5)?,
        expires_at: row.get(6)?,
        revoked_at: row.get(7)?,
        last_used_at: row.get(8)?,
        roles: roles_column(row, 9)?,
    })
}

impl Store {
    /// Creates an API key for `key.user_id`. Fails with
    /// [`StoreError::NotFound`] when the user does not exist.
    pub async fn create_api_key(&self, key: NewApiKey) -> Result<ApiKeyRecord, StoreError> {
        validate_new_key(&key)?;
        let record = ApiKeyRecord {
            id: ApiKeyId::generate(),
            user_id: key.user_id,
            name: key.name,
            key_hash: key.key_hash,
            prefix: key.prefix,
            roles: normalize_roles(&key.roles),
            created_at: key.created_at,
            expires_at: key.expires_at,
            revoked_at: None,
            last_used_at: None,
        };
        self.write("create API key", move |conn| {
            let failed = db_error("create API key");
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(&failed)?;
            tx.prepare_cached(
                "INSERT INTO api_keys (id, user_id, name, key_hash, prefix, created_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .and_then(|mut insert| {
                insert.execute(params![
                    record.id,
                    record.user_id,
                    record.name,
                    record.key_hash,
                    record.prefix,
                    record.created_at,
                    record.expires_at
                ])
            })
            .map_err(|err| {
                if is_foreign_key_violation(&err) {
                    StoreError::not_found("user", &record.user_id)
                } else if is_unique_violation(&err) {
                    // The hash is secret; the message names only the key.
                    StoreError::Conflict {
                        what: format!("an API key with the hash of key `{}`", record.name),
                    }
                } else {
                    failed(err)
                }
            })?;
            let mut insert_role = tx
                .prepare_cached("INSERT INTO api_key_roles (api_key_id, role) VALUES (?1, ?2)")
                .map_err(&failed)?;
            for role in &record.roles {
                insert_role
                    .execute(params![record.id, role])
                    .map_err(&failed)?;
            }
            drop(insert_role);
            tx.commit().map_err(&failed)?;
            Ok(record)
        })
        .await
    }

    /// Returns the key whose hash is `key_hash`, revoked and expired ones
    /// included: the caller checks [`ApiKeyRecord::is_active`] and the
    /// user's `disabled` flag, and can audit a use of a revoked key.
    pub async fn api_key_by_hash(
        &self,
        key_hash: &str,
    ) -> Result<Option<ApiKeyRecord>, StoreError> {
        if validate_hash("API key hash", key_hash).is_err() {
            return Ok(None);
        }
        let key_hash = key_hash.to_string();
        self.read("find API key", move |conn| {
            let sql = format!("SELECT {KEY_COLUMNS} FROM api_keys k WHERE k.key_hash = ?1");
            conn.prepare_cached(&sql)
                .and_then(|mut query| query.query_row([&key_hash], read_key).optional())
                .map_err(db_error("find API key"))
        })
        .await
    }

    /// Lists the keys of `user_id`, oldest first, revoked ones included.
    pub async fn list_api_keys(&self, user_id: &UserId) -> Result<Vec<ApiKeyRecord>, StoreError> {
        let user_id = user_id.clone();
        self.read("list API keys", move |conn| {
            let sql = format!(
                "SELECT {KEY_COLUMNS} FROM api_keys k WHERE k.user_id = ?1 ORDER BY k.created_at, k.id"
            );
            conn.prepare_cached(&sql)
                .and_then(|mut query| {
                    query
                        .query_map([&user_id], read_key)?
                        .collect::<rusqlite::Result<Vec<_>>>()
                })
                .map_err(db_error("list API keys"))
        })
        .await
    }

    /// Revokes key `id` at `now` and returns it. Revoking a revoked key
    /// keeps its first revocation time. Fails with [`StoreError::NotFound`]
    /// when the key does not exist or is outside `scope`.
    pub async fn revoke_api_key(
        &self,
        id: &ApiKeyId,
        scope: KeyScope,
        now: UnixMillis,
    ) -> Result<ApiKeyRecord, StoreError> {
        let id = id.clone();
        self.write("revoke API key", move |conn| {
            let failed = db_error("revoke API key");
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(&failed)?;
            let sql = format!("SELECT {KEY_COLUMNS} FROM api_keys k WHERE k.id = ?1");
            let key = tx
                .prepare_cached(&sql)
                .and_then(|mut query| query.query_row([&id], read_key).optional())
                .map_err(&failed)?;
            let mut key = match key {
                Some(key)
                    if scope == KeyScope::Any || scope == KeyScope::Owner(key.user_id.clone()) =>
                {
                    key
                }
                _ => return Err(StoreError::not_found("API key", &id)),
            };
            if key.revoked_at.is_none() {
                tx.prepare_cached("UPDATE api_keys SET revoked_at = ?2 WHERE id = ?1")
                    .and_then(|mut update| update.execute(params![id, now]))
                    .map_err(&failed)?;
                key.revoked_at = Some(now);
            }
            tx.commit().map_err(&failed)?;
            Ok(key)
        })
        .await
    }

    /// Records that key `id` was used at `now`. To spare writes the time is
    /// updated at most once a minute per key, so `last_used_at` may lag by
    /// up to that much.
    pub async fn touch_api_key(&self, id: &ApiKeyId, now: UnixMillis) -> Result<(), StoreError> {
        let id = id.clone();
        self.write("touch API key", move |conn| {
            conn.prepare_cached(
                "UPDATE api_keys SET last_used_at = ?2
                 WHERE id = ?1 AND (last_used_at IS NULL OR last_used_at <= ?2 - ?3)",
            )
            .and_then(|mut update| update.execute(params![id, now, TOUCH_INTERVAL_MS]))
            .map_err(db_error("touch API key"))?;
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_support::{new_user, open_store};

    const NOW: UnixMillis = 1_700_000_000_000;

    fn new_key(user_id: &UserId, hash: &str) -> NewApiKey {
        NewApiKey {
            user_id: user_id.clone(),
            name: "ci runner".to_string(),
            key_hash: hash.to_string(),
            prefix: "vwmp_ab12".to_string(),
            roles: vec![Role::Executor, Role::Viewer],
            created_at: NOW,
            expires_at: Some(NOW + 86_400_000),
        }
    }

    #[tokio::test]
    async fn create_and_find() {
        let (_dir, store) = open_store().await;
        let user = store.create_user(new_user("alice", &[])).await.unwrap();
        let created = store
            .create_api_key(new_key(&user.id, "aa11"))
            .await
            .unwrap();
        let found = store.api_key_by_hash("aa11").await.unwrap();
        assert_eq!(found.as_ref(), Some(&created));
        assert_eq!(created.roles, vec![Role::Viewer, Role::Executor]);
        assert!(created.is_active(NOW));
    }

    #[tokio::test]
    async fn unknown_hash_is_none() {
        let (_dir, store) = open_store().await;
        assert_eq!(store.api_key_by_hash("ffff").await.unwrap(), None);
        assert_eq!(store.api_key_by_hash("").await.unwrap(), None);
    }

    #[tokio::test]
    async fn key_for_missing_user() {
        let (_dir, store) = open_store().await;
        let result = store
            .create_api_key(new_key(&UserId::generate(), "aa11"))
            .await;
        assert!(matches!(result, Err(StoreError::NotFound { .. })));
    }

    #[tokio::test]
    async fn duplicate_hash_conflicts_without_hash() {
        let (_dir, store) = open_store().await;
        let user = store.create_user(new_user("alice", &[])).await.unwrap();
        store
            .create_api_key(new_key(&user.id, "secrethash"))
            .await
            .unwrap();
        let err = store
            .create_api_key(new_key(&user.id, "secrethash"))
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Conflict { .. }));
        assert!(!err.to_string().contains("secrethash"), "{err}");
    }

    #[tokio::test]
    async fn expired_key_inactive() {
        let (_dir, store) = open_store().await;
        let user = store.create_user(new_user("alice", &[])).await.unwrap();
        let key = store
            .create_api_key(new_key(&user.id, "aa11"))
            .await
            .unwrap();
        assert!(!key.is_active(NOW + 86_400_000));
    }

    #[tokio::test]
    async fn owner_revokes_own_key() {
        let (_dir, store) = open_store().await;
        let user = store.create_user(new_user("alice", &[])).await.unwrap();
        let key = store
            .create_api_key(new_key(&user.id, "aa11"))
            .await
            .unwrap();
        let revoked = store
            .revoke_api_key(&key.id, KeyScope::Owner(user.id.clone()), NOW + 5)
            .await
            .unwrap();
        assert_eq!(revoked.revoked_at, Some(NOW + 5));

        let again = store
            .revoke_api_key(&key.id, KeyScope::Any, NOW + 9)
            .await
            .unwrap();
        assert_eq!(
            again.revoked_at,
            Some(NOW + 5),
            "first revocation time lost"
        );
        let found = store.api_key_by_hash("aa11").await.unwrap().unwrap();
        assert!(!found.is_active(NOW + 6));
    }

    #[tokio::test]
    async fn other_user_cannot_revoke() {
        let (_dir, store) = open_store().await;
        let alice = store.create_user(new_user("alice", &[])).await.unwrap();
        let mallory = store.create_user(new_user("mallory", &[])).await.unwrap();
        let key = store
            .create_api_key(new_key(&alice.id, "aa11"))
            .await
            .unwrap();
        let result = store
            .revoke_api_key(&key.id, KeyScope::Owner(mallory.id.clone()), NOW)
            .await;
        assert!(matches!(result, Err(StoreError::NotFound { .. })));
        let found = store.api_key_by_hash("aa11").await.unwrap().unwrap();
        assert_eq!(found.revoked_at, None);
    }

    #[tokio::test]
    async fn list_by_user() {
        let (_dir, store) = open_store().await;
        let alice = store.create_user(new_user("alice", &[])).await.unwrap();
        let bob = store.create_user(new_user("bob", &[])).await.unwrap();
        store
            .create_api_key(new_key(&alice.id, "aa11"))
            .await
            .unwrap();
        store
            .create_api_key(new_key(&alice.id, "aa22"))
            .await
            .unwrap();
        store
            .create_api_key(new_key(&bob.id, "bb11"))
            .await
            .unwrap();
        assert_eq!(store.list_api_keys(&alice.id).await.unwrap().len(), 2);
        assert_eq!(store.list_api_keys(&bob.id).await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn touch_throttled() {
        let (_dir, store) = open_store().await;
        let user = store.create_user(new_user("alice", &[])).await.unwrap();
        let key = store
            .create_api_key(new_key(&user.id, "aa11"))
            .await
            .unwrap();

        store.touch_api_key(&key.id, NOW).await.unwrap();
        store.touch_api_key(&key.id, NOW + 1_000).await.unwrap();
        let found = store.api_key_by_hash("aa11").await.unwrap().unwrap();
        assert_eq!(found.last_used_at, Some(NOW));

        store
            .touch_api_key(&key.id, NOW + TOUCH_INTERVAL_MS)
            .await
            .unwrap();
        let found = store.api_key_by_hash("aa11").await.unwrap().unwrap();
        assert_eq!(found.last_used_at, Some(NOW + TOUCH_INTERVAL_MS));
    }

    #[tokio::test]
    async fn invalid_name_rejected() {
        let (_dir, store) = open_store().await;
        let user = store.create_user(new_user("alice", &[])).await.unwrap();
        let mut key = new_key(&user.id, "aa11");
        key.name = "line\nbreak".to_string();
        let result = store.create_api_key(key).await;
        assert!(matches!(result, Err(StoreError::Invalid { .. })));
    }
}
