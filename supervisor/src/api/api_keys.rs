//! `GET /api-keys`, `POST /api-keys` and `DELETE /api-keys/{id}`: every
//! user manages their own keys; admins may list and revoke anyone's.

use serde::{Deserialize, Serialize};
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Reply};

use super::body::json_body;
use super::principal::{authenticated, authorized, Caller};
use super::problem::Problem;
use super::query::{page, query};
use super::{finish, format_millis, now_millis, one_of, with_state, Route};
use crate::audit::{AuditEvent, AuditEventType, AuditOutcome};
use crate::auth::rbac::Action;
use crate::auth::tokens::{API_KEY_DEFAULT_LIFETIME, API_KEY_MAX_LIFETIME};
use crate::auth::ApiKey;
use crate::model::{ApiKeyId, Role, UserId};
use crate::server::AppState;
use crate::store::{ApiKeyRecord, KeyScope, NewApiKey, MAX_KEY_PREFIX_CHARS};

/// Route templates of this file.
pub const API_KEYS: &str = "/api/v1/api-keys";
pub const API_KEY: &str = "/api/v1/api-keys/{id}";

/// Characters of the key shown as its prefix: `vwmp_` and 8 more.
const SHOWN_PREFIX_CHARS: usize = 13;

const SECONDS_PER_DAY: u64 = 24 * 60 * 60;

/// An API key as the API lists it; the key itself is shown only once.
#[derive(Debug, Serialize)]
struct ApiKeyView {
    id: ApiKeyId,
    user_id: UserId,
    name: String,
    prefix: String,
    roles: Vec<Role>,
    created_at: String,
    expires_at: Option<String>,
    revoked_at: Option<String>,
    last_used_at: Option<String>,
}

impl From<&ApiKeyRecord> for ApiKeyView {
    fn from(key: &ApiKeyRecord) -> Self {
        ApiKeyView {
            id: key.id.clone(),
            user_id: key.user_id.clone(),
            name: key.name.clone(),
            prefix: key.prefix.clone(),
            roles: key.roles.clone(),
            created_at: format_millis(key.created_at),
            expires_at: key.expires_at.map(format_millis),
            revoked_at: key.revoked_at.map(format_millis),
            last_used_at: key.last_used_at.map(format_millis),
        }
    }
}

/// Query of `GET /api-keys`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    user_id: Option<String>,
    limit: Option<u32>,
    offset: Option<u64>,
}

/// Body of `POST /api-keys`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateKeyRequest {
    name: String,
    roles: Vec<Role>,
    expires_in_days: Option<u32>,
}

/// Body of a created key: the only response that contains the key.
#[derive(Serialize)]
struct CreatedKey {
    id: ApiKeyId,
    name: String,
    key: String,
    prefix: String,
    roles: Vec<Role>,
    expires_at: Option<String>,
}

/// Routes of this file.
pub fn routes(state: &AppState) -> Route {
    let limit = state.max_body_bytes();

    let list = warp::path!("api" / "v1" / "api-keys")
        .and(warp::get())
        .and(with_state(state))
        .and(authorized(state, Action::ListOwnApiKeys))
        .and(query::<ListQuery>())
        .and_then(
            |state: AppState, caller: Caller, query: ListQuery| async move {
                list_keys(&state, &caller, query)
                    .await
                    .map_err(warp::reject::custom)
            },
        );

    let create = warp::path!("api" / "v1" / "api-keys")
        .and(warp::post())
        .and(with_state(state))
        .and(authorized(state, Action::CreateOwnApiKey))
        .and(json_body::<CreateKeyRequest>(limit))
        .and_then(
            |state: AppState, caller: Caller, request: CreateKeyRequest| async move {
                create_key(&state, &caller, request)
                    .await
                    .map_err(warp::reject::custom)
            },
        );

    let revoke = warp::path!("api" / "v1" / "api-keys" / String)
        .and(warp::delete())
        .and(with_state(state))
        .and(authenticated(state))
        .and_then(|id: String, state: AppState, caller: Caller| async move {
            revoke_key(&state, &caller, &id)
                .await
                .map_err(warp::reject::custom)
        });

    one_of(vec![
        finish(state, API_KEYS, list),
        finish(state, API_KEYS, create),
        finish(state, API_KEY, revoke),
    ])
}

async fn list_keys(
    state: &AppState,
    caller: &Caller,
    query: ListQuery,
) -> Result<Response, Problem> {
    let page = page(query.limit, query.offset)?;
    let user_id = match &query.user_id {
        None => caller.user_id().clone(),
        Some(text) => {
            let user_id = UserId::parse(text)
                .map_err(|error| Problem::invalid_field("user_id", error.to_string()))?;
            if &user_id != caller.user_id() {
                // Listing another user's keys needs admin.
                caller.authorize(state, Action::ListUsers, None).await?;
            }
            user_id
        }
    };

    let keys = state
        .store
        .list_api_keys(&user_id)
        .await
        .map_err(|error| Problem::from_store(error, "list API keys"))?;
    let start = usize::try_from(page.offset)
        .unwrap_or(usize::MAX)
        .min(keys.len());
    let end = start.saturating_add(page.limit as usize).min(keys.len());
    let next_offset = (end < keys.len()).then_some(end as u64);
    let body = serde_json::json!({
        "items": keys[start..end].iter().map(ApiKeyView::from).collect::<Vec<_>>(),
        "next_offset": next_offset,
    });
    Ok(warp::reply::json(&body).into_response())
}

async fn create_key(
    state: &AppState,
    caller: &Caller,
    request: CreateKeyRequest,
) -> Result<Response, Problem> {
    if request.roles.is_empty() {
        return Err(Problem::invalid_field(
            "roles",
            "roles must list at least one role the key grants",
        ));
    }
    for (index, role) in request.roles.iter().enumerate() {
        if !role.granted_by(&caller.principal.roles) {
            return Err(Problem::invalid_field(
                format!("roles[{index}]"),
                format!("you do not hold the {role} role, so a key of yours cannot grant it"),
            ));
        }
    }
    let max_days = API_KEY_MAX_LIFETIME.as_secs() / SECONDS_PER_DAY;
    let days = match request.expires_in_days {
        None => API_KEY_DEFAULT_LIFETIME.as_secs() / SECONDS_PER_DAY,
        Some(days) if days == 0 || u64::from(days) > max_days => {
            return Err(Problem::invalid_field(
                "expires_in_days",
                format!("expires_in_days {days} is out of range: use 1 to {max_days}"),
            ))
        }
        Some(days) => u64::from(days),
    };

    let key = ApiKey::generate();
    let prefix: String = key
        .as_str()
        .chars()
        .take(SHOWN_PREFIX_CHARS.min(MAX_KEY_PREFIX_CHARS))
        .collect();
    let now = now_millis();
    let lifetime_ms = i64::try_from(days * SECONDS_PER_DAY * 1000).unwrap_or(i64::MAX);
    let record = state
        .store
        .create_api_key(NewApiKey {
            user_id: caller.user_id().clone(),
            name: request.name,
            key_hash: key.hash(),
            prefix: prefix.clone(),
            roles: request.roles,
            created_at: now,
            expires_at: Some(now.saturating_add(lifetime_ms)),
        })
        .await
        .map_err(|error| match error {
            crate::store::StoreError::Invalid {
                field: "API key name",
                reason,
            } => Problem::invalid_field("name", format!("invalid name: {reason}")),
            other => Problem::from_store(other, "create API key"),
        })?;

    let event = caller
        .client
        .annotate(AuditEvent::builder(
            AuditEventType::ApiKeyCreated,
            AuditOutcome::Success,
        ))
        .user(caller.user_id().clone())
        .detail("api_key_id", record.id.to_string())
        .detail("name", record.name.clone())
        .detail(
            "roles",
            record
                .roles
                .iter()
                .map(|role| role.as_str())
                .collect::<Vec<_>>(),
        )
        .build();
    state.audit.record(event).await;

    let body = CreatedKey {
        id: record.id.clone(),
        name: record.name.clone(),
        key: key.as_str().to_string(),
        prefix,
        roles: record.roles.clone(),
        expires_at: record.expires_at.map(format_millis),
    };
    let location = format!("{API_KEYS}/{}", record.id);
    let reply = warp::reply::with_status(warp::reply::json(&body), StatusCode::CREATED);
    Ok(warp::reply::with_header(reply, "location", location).into_response())
}

async fn revoke_key(state: &AppState, caller: &Caller, id: &str) -> Result<Response, Problem> {
    // Ownership is enforced by the store's scope below: another user's key
    // is "not found" for non-admins, so its existence is not revealed.
    caller
        .authorize(state, Action::RevokeOwnApiKey, Some(caller.user_id()))
        .await?;
    let id = ApiKeyId::parse(id).map_err(|_| Problem::not_found("API key"))?;
    let scope = if caller.principal.is_admin() {
        KeyScope::Any
    } else {
        KeyScope::Owner(caller.user_id().clone())
    };
    let key = state
        .store
        .revoke_api_key(&id, scope, now_millis())
        .await
        .map_err(|error| match error {
            crate::store::StoreError::NotFound { .. } => Problem::not_found("API key"),
            other => Problem::from_store(other, "revoke API key"),
        })?;

    let event = caller
        .client
        .annotate(AuditEvent::builder(
            AuditEventType::ApiKeyRevoked,
            AuditOutcome::Success,
        ))
        .user(caller.user_id().clone())
        .detail("api_key_id", key.id.to_string())
        .detail("key_owner_id", key.user_id.to_string())
        .build();
    state.audit.record(event).await;
    Ok(warp::reply::with_status(warp::reply(), StatusCode::NO_CONTENT).into_response())
}

#[cfg(test)]
mod tests {
    use crate::api::principal::authenticate;
    use crate::api::routes;
    use crate::api::tests::{body_json, test_state, user_with_token};
    use crate::auth::rbac::AuthMethod;
    use crate::model::Role;

    #[tokio::test]
    async fn created_key_authenticates_until_revoked() {
        let dir = tempfile::tempdir().unwrap();
        let state = test_state(dir.path()).await;
        let (user_id, bearer) = user_with_token(&state, "kai", &[Role::Editor]).await;
        let filter = routes(&state);

        let created = warp::test::request()
            .method("POST")
            .path("/api/v1/api-keys")
            .header("authorization", &bearer)
            .header("content-type", "application/json")
            .body(r#"{"name": "deploy", "roles": ["viewer"]}"#)
            .reply(&filter)
            .await;
        assert_eq!(created.status(), 201);
        let body = body_json(&created);
        let key = format!("Bearer {}", body["key"].as_str().unwrap());

        let principal = authenticate(&state, Some(&key)).await.unwrap();
        assert_eq!(principal.user_id, user_id);
        assert_eq!(principal.roles, vec![Role::Viewer]);
        assert!(matches!(principal.via, AuthMethod::ApiKey { .. }));

        let id = body["id"].as_str().unwrap();
        let revoked = warp::test::request()
            .method("DELETE")
            .path(&format!("/api/v1/api-keys/{id}"))
            .header("authorization", &bearer)
            .reply(&filter)
            .await;
        assert_eq!(revoked.status(), 204);
        assert!(authenticate(&state, Some(&key)).await.is_err());
    }

    #[tokio::test]
    async fn key_roles_limited_to_creator() {
        let dir = tempfile::tempdir().unwrap();
        let state = test_state(dir.path()).await;
        let (_, bearer) = user_with_token(&state, "kai", &[Role::Viewer]).await;
        let response = warp::test::request()
            .method("POST")
            .path("/api/v1/api-keys")
            .header("authorization", &bearer)
            .header("content-type", "application/json")
            .body(r#"{"name": "deploy", "roles": ["viewer", "executor"]}"#)
            .reply(&routes(&state))
            .await;
        assert_eq!(response.status(), 400);
        assert_eq!(body_json(&response)["field"], "roles[1]");
    }
}
