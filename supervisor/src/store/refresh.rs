//! Refresh tokens, stored as hashes in families: each use rotates the token
//! to a new one of the same family, and presenting a token that was already
//! rotated or revoked revokes the whole family (reuse detection).

use rusqlite::{params, OptionalExtension, TransactionBehavior};

use super::api_keys::validate_hash;
use super::codec::{db_error, is_foreign_key_violation, is_unique_violation};
use super::{Store, StoreError, UnixMillis};
use crate::model::UserId;

/// Maximum length of a family id in bytes; a UUID is 36.
const MAX_FAMILY_ID_BYTES: usize = 64;

/// A refresh token to store, starting or continuing a family.
#[derive(Clone)]
pub struct NewRefreshToken {
    /// Hash of the token, computed by the caller.
    pub token_hash: String,
    pub family_id: String,
    pub user_id: UserId,
    pub created_at: UnixMillis,
    pub expires_at: UnixMillis,
}

/// The token that replaces a rotated one; it joins the old token's family
/// and user.
#[derive(Clone)]
pub struct RefreshReplacement {
    /// Hash of the new token, computed by the caller.
    pub token_hash: String,
    pub expires_at: UnixMillis,
}

/// A stored refresh token. `Debug` leaves out the hash.
#[derive(Clone, PartialEq, Eq)]
pub struct RefreshTokenRecord {
    pub token_hash: String,
    pub family_id: String,
    pub user_id: UserId,
    pub created_at: UnixMillis,
    pub expires_at: UnixMillis,
    pub rotated_at: Option<UnixMillis>,
    pub revoked_at: Option<UnixMillis>,
}

impl std::fmt::Debug for RefreshTokenRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefreshTokenRecord")
            .field("family_id", &self.family_id)
            .field("user_id", &self.user_id)
            .field("created_at", &self.created_at)
            .field("expires_at", &self.expires_at)
            .field("rotated_at", &self.rotated_at)
            .field("revoked_at", &self.revoked_at)
            .finish_non_exhaustive()
    }
}

/// Result of [`Store::rotate_refresh_token`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RotateOutcome {
    /// The token was active: it is now rotated and the replacement stored.
    Rotated { user_id: UserId, family_id: String },
    /// The token was already rotated or revoked: the whole family is now
    /// revoked. The caller raises an audit event.
    Reused { user_id: UserId, family_id: String },
    /// The token expired; nothing changed.
    Expired,
    /// No token has this hash.
    NotFound,
}

/// The family and user of a revoked token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokedToken {
    pub user_id: UserId,
    pub family_id: String,
}

fn validate_family_id(family_id: &str) -> Result<(), StoreError> {
    if family_id.is_empty()
        || family_id.len() > MAX_FAMILY_ID_BYTES
        || !family_id.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(StoreError::invalid(
            "refresh token family id",
            format!("must be 1 to {MAX_FAMILY_ID_BYTES} visible ASCII characters"),
        ));
    }
    Ok(())
}

/// Maps an insert error: a missing user is [`StoreError::NotFound`], and a
/// duplicate hash a [`StoreError::Conflict`] that does not show the hash.
fn insert_error(user_id: &UserId) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
    move |err| {
        if is_foreign_key_violation(&err) {
            StoreError::not_found("user", user_id)
        } else if is_unique_violation(&err) {
            StoreError::Conflict {
                what: "a refresh token with this hash".to_string(),
            }
        } else {
            db_error("store refresh token")(err)
        }
    }
}

const INSERT_TOKEN: &str =
    "INSERT INTO refresh_tokens (token_hash, family_id, user_id, created_at, expires_at)
     VALUES (?1, ?2, ?3, ?4, ?5)";

/// Revokes every unrevoked token of `family_id` at `now`; returns the count.
fn revoke_family(
    conn: &rusqlite::Connection,
    family_id: &str,
    now: UnixMillis,
) -> rusqlite::Result<usize> {
    conn.prepare_cached(
        "UPDATE refresh_tokens SET revoked_at = ?2 WHERE family_id = ?1 AND revoked_at IS NULL",
    )?
    .execute(params![family_id, now])
}

impl Store {
    /// Stores a new refresh token, usually the first of a family (login).
    pub async fn insert_refresh_token(&self, token: NewRefreshToken) -> Result<(), StoreError> {
        validate_hash("refresh token hash", &token.token_hash)?;
        validate_family_id(&token.family_id)?;
        self.write("store refresh token", move |conn| {
            conn.prepare_cached(INSERT_TOKEN)
                .and_then(|mut insert| {
                    insert.execute(params![
                        token.token_hash,
                        token.family_id,
                        token.user_id,
                        token.created_at,
                        token.expires_at
                    ])
                })
                .map_err(insert_error(&token.user_id))?;
            Ok(())
        })
        .await
    }

    /// Rotates the token whose hash is `old_hash` to `replacement`, in one
    /// IMMEDIATE transaction so two concurrent uses of one token cannot both
    /// succeed. Checks, in order: unknown hash, then already rotated or
    /// revoked (reuse: revoke the family), then expired at `now`.
    pub async fn rotate_refresh_token(
        &self,
        old_hash: &str,
        replacement: RefreshReplacement,
        now: UnixMillis,
    ) -> Result<RotateOutcome, StoreError> {
        if validate_hash("refresh token hash", old_hash).is_err() {
            return Ok(RotateOutcome::NotFound);
        }
        validate_hash("refresh token hash", &replacement.token_hash)?;
        let old_hash = old_hash.to_string();
        self.write("rotate refresh token", move |conn| {
            let failed = db_error("rotate refresh token");
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(&failed)?;
            let found = tx
                .prepare_cached(
                    "SELECT family_id, user_id, expires_at, rotated_at, revoked_at
                     FROM refresh_tokens WHERE token_hash = ?1",
                )
                .and_then(|mut query| {
                    query
                        .query_row([&old_hash], |row| {
                            Ok((
                                row.get::<_, String>(0)?,
                                row.get::<_, UserId>(1)?,
                                row.get::<_, UnixMillis>(2)?,
                                row.get::<_, Option<UnixMillis>>(3)?,
                                row.get::<_, Option<UnixMillis>>(4)?,
                            ))
                        })
                        .optional()
                })
                .map_err(&failed)?;
            let Some((family_id, user_id, expires_at, rotated_at, revoked_at)) = found else {
                return Ok(RotateOutcome::NotFound);
            };

            if rotated_at.is_some() || revoked_at.is_some() {
                revoke_family(&tx, &family_id, now).map_err(&failed)?;
                tx.commit().map_err(&failed)?;
                return Ok(RotateOutcome::Reused { user_id, family_id });
            }
            if expires_at <= now {
                return Ok(RotateOutcome::Expired);
            }

            tx.prepare_cached("UPDATE refresh_tokens SET rotated_at = ?2 WHERE token_hash = ?1")
                .and_then(|mut update| update.execute(params![old_hash, now]))
                .map_err(&failed)?;
            tx.prepare_cached(INSERT_TOKEN)
                .and_then(|mut insert| {
                    insert.execute(params![
                        replacement.token_hash,
                        family_id,
                        user_id,
                        now,
                        replacement.expires_at
                    ])
                })
                .map_err(insert_error(&user_id))?;
            tx.commit().map_err(&failed)?;
            Ok(RotateOutcome::Rotated { user_id, family_id })
        })
        .await
    }

    /// Revokes every token of `family_id` at `now` and returns how many
    /// were still unrevoked.
    pub async fn revoke_refresh_family(
        &self,
        family_id: &str,
        now: UnixMillis,
    ) -> Result<u64, StoreError> {
        let family_id = family_id.to_string();
        self.write("revoke refresh token family", move |conn| {
            let count = revoke_family(conn, &family_id, now)
                .map_err(db_error("revoke refresh token family"))?;
            Ok(count as u64)
        })
        .await
    }

    /// Revokes the token whose hash is `token_hash` at `now` (logout) and
    /// returns its user and family, or `None` for an unknown hash. A token
    /// already revoked keeps its first revocation time.
    pub async fn revoke_refresh_token(
        &self,
        token_hash: &str,
        now: UnixMillis,
    ) -> Result<Option<RevokedToken>, StoreError> {
        if validate_hash("refresh token hash", token_hash).is_err() {
            return Ok(None);
        }
        let token_hash = token_hash.to_string();
        self.write("revoke refresh token", move |conn| {
            conn.prepare_cached(
                "UPDATE refresh_tokens SET revoked_at = coalesce(revoked_at, ?2)
                 WHERE token_hash = ?1 RETURNING user_id, family_id",
            )
            .and_then(|mut update| {
                update
                    .query_row(params![token_hash, now], |row| {
                        Ok(RevokedToken {
                            user_id: row.get(0)?,
                            family_id: row.get(1)?,
                        })
                    })
                    .optional()
            })
            .map_err(db_error("revoke refresh token"))
        })
        .await
    }

    /// Returns the token whose hash is `token_hash`, or `None`.
    pub async fn refresh_token_by_hash(
        &self,
        token_hash: &str,
    ) -> Result<Option<RefreshTokenRecord>, StoreError> {
        if validate_hash("refresh token hash", token_hash).is_err() {
            return Ok(None);
        }
        let token_hash = token_hash.to_string();
        self.read("find refresh token", move |conn| {
            conn.prepare_cached(
                "SELECT token_hash, family_id, user_id, created_at, expires_at, rotated_at, revoked_at
                 FROM refresh_tokens WHERE token_hash = ?1",
            )
            .and_then(|mut query| {
                query
                    .query_row([&token_hash], |row| {
                        Ok(RefreshTokenRecord {
                            token_hash: row.get(0)?,
                            family_id: row.get(1)?,
                            user_id: row.get(2)?,
                            created_at: row.get(3)?,
                            expires_at: row.get(4)?,
                            rotated_at: row.get(5)?,
                            revoked_at: row.get(6)?,
                        })
                    })
                    .optional()
            })
            .map_err(db_error("find refresh token"))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_support::{new_user, open_store};
    use crate::store::UserRecord;

    const NOW: UnixMillis = 1_700_000_000_000;
    const WEEK: UnixMillis = 7 * 86_400_000;

    async fn login(store: &Store) -> (UserRecord, NewRefreshToken) {
        let user = store.create_user(new_user("alice", &[])).await.unwrap();
        let token = NewRefreshToken {
            token_hash: "hash-1".to_string(),
            family_id: "family-1".to_string(),
            user_id: user.id.clone(),
            created_at: NOW,
            expires_at: NOW + WEEK,
        };
        store.insert_refresh_token(token.clone()).await.unwrap();
        (user, token)
    }

    fn replacement(hash: &str) -> RefreshReplacement {
        RefreshReplacement {
            token_hash: hash.to_string(),
            expires_at: NOW + 2 * WEEK,
        }
    }

    async fn token(store: &Store, hash: &str) -> RefreshTokenRecord {
        store.refresh_token_by_hash(hash).await.unwrap().unwrap()
    }

    #[tokio::test]
    async fn active_token_rotates() {
        let (_dir, store) = open_store().await;
        let (user, _) = login(&store).await;
        let outcome = store
            .rotate_refresh_token("hash-1", replacement("hash-2"), NOW + 10)
            .await
            .unwrap();
        assert_eq!(
            outcome,
            RotateOutcome::Rotated {
                user_id: user.id.clone(),
                family_id: "family-1".to_string()
            }
        );
        assert_eq!(token(&store, "hash-1").await.rotated_at, Some(NOW + 10));
        let new = token(&store, "hash-2").await;
        assert_eq!(new.family_id, "family-1");
        assert_eq!(new.user_id, user.id);
        assert_eq!(new.created_at, NOW + 10);
        assert_eq!(new.rotated_at, None);
    }

    #[tokio::test]
    async fn reuse_revokes_family() {
        let (_dir, store) = open_store().await;
        let (user, _) = login(&store).await;
        store
            .rotate_refresh_token("hash-1", replacement("hash-2"), NOW + 10)
            .await
            .unwrap();

        let outcome = store
            .rotate_refresh_token("hash-1", replacement("hash-3"), NOW + 20)
            .await
            .unwrap();
        assert_eq!(
            outcome,
            RotateOutcome::Reused {
                user_id: user.id.clone(),
                family_id: "family-1".to_string()
            }
        );
        assert_eq!(token(&store, "hash-2").await.revoked_at, Some(NOW + 20));
        assert_eq!(store.refresh_token_by_hash("hash-3").await.unwrap(), None);

        let after = store
            .rotate_refresh_token("hash-2", replacement("hash-4"), NOW + 30)
            .await
            .unwrap();
        assert!(matches!(after, RotateOutcome::Reused { .. }), "{after:?}");
    }

    #[tokio::test]
    async fn revoked_token_counts_as_reuse() {
        let (_dir, store) = open_store().await;
        login(&store).await;
        store.revoke_refresh_token("hash-1", NOW + 1).await.unwrap();
        let outcome = store
            .rotate_refresh_token("hash-1", replacement("hash-2"), NOW + 2)
            .await
            .unwrap();
        assert!(
            matches!(outcome, RotateOutcome::Reused { .. }),
            "{outcome:?}"
        );
    }

    #[tokio::test]
    async fn expired_token_not_rotated() {
        let (_dir, store) = open_store().await;
        login(&store).await;
        let outcome = store
            .rotate_refresh_token("hash-1", replacement("hash-2"), NOW + WEEK)
            .await
            .unwrap();
        assert_eq!(outcome, RotateOutcome::Expired);
        assert_eq!(token(&store, "hash-1").await.rotated_at, None);
        assert_eq!(store.refresh_token_by_hash("hash-2").await.unwrap(), None);
    }

    #[tokio::test]
    async fn unknown_token_not_found() {
        let (_dir, store) = open_store().await;
        let outcome = store
            .rotate_refresh_token("nope", replacement("hash-2"), NOW)
            .await
            .unwrap();
        assert_eq!(outcome, RotateOutcome::NotFound);
    }

    #[tokio::test]
    async fn concurrent_rotation_single_winner() {
        let (_dir, store) = open_store().await;
        login(&store).await;
        let first = store.rotate_refresh_token("hash-1", replacement("hash-a"), NOW + 1);
        let second = store.rotate_refresh_token("hash-1", replacement("hash-b"), NOW + 1);
        let (first, second) = tokio::join!(first, second);
        let outcomes = [first.unwrap(), second.unwrap()];
        let rotated = outcomes
            .iter()
            .filter(|o| matches!(o, RotateOutcome::Rotated { .. }))
            .count();
        assert_eq!(rotated, 1, "{outcomes:?}");
    }

    #[tokio::test]
    async fn revoke_family_counts() {
        let (_dir, store) = open_store().await;
        login(&store).await;
        store
            .rotate_refresh_token("hash-1", replacement("hash-2"), NOW + 1)
            .await
            .unwrap();
        assert_eq!(
            store
                .revoke_refresh_family("family-1", NOW + 2)
                .await
                .unwrap(),
            2
        );
        assert_eq!(
            store
                .revoke_refresh_family("family-1", NOW + 3)
                .await
                .unwrap(),
            0
        );
    }

    #[tokio::test]
    async fn revoke_token_returns_family() {
        let (_dir, store) = open_store().await;
        let (user, _) = login(&store).await;
        let revoked = store.revoke_refresh_token("hash-1", NOW + 1).await.unwrap();
        assert_eq!(
            revoked,
            Some(RevokedToken {
                user_id: user.id,
                family_id: "family-1".to_string()
            })
        );
        store.revoke_refresh_token("hash-1", NOW + 2).await.unwrap();
        assert_eq!(token(&store, "hash-1").await.revoked_at, Some(NOW + 1));
        assert_eq!(
            store.revoke_refresh_token("other", NOW).await.unwrap(),
            None
        );
    }

    #[tokio::test]
    async fn token_for_missing_user() {
        let (_dir, store) = open_store().await;
        let result = store
            .insert_refresh_token(NewRefreshToken {
                token_hash: "h".to_string(),
                family_id: "f".to_string(),
                user_id: UserId::generate(),
                created_at: NOW,
                expires_at: NOW + WEEK,
            })
            .await;
        assert!(matches!(result, Err(StoreError::NotFound { .. })));
    }
}
