//! `GET /users`, `POST /users` and `PUT /users/{id}/roles` (admin).

use serde::{Deserialize, Serialize};
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Reply};

use super::body::json_body;
use super::principal::{authorized, Caller};
use super::problem::{Problem, ProblemCode};
use super::query::{query, PageQuery};
use super::{finish, format_millis, one_of, with_state, Route};
use crate::audit::{AuditEvent, AuditEventType, AuditOutcome};
use crate::auth::password::check_new_password;
use crate::auth::rbac::Action;
use crate::auth::{hash_new_password_async, Password};
use crate::model::{Role, UserId};
use crate::server::AppState;
use crate::store::{NewUser, UserRecord};

/// Route templates of this file.
pub const USERS: &str = "/api/v1/users";
pub const USER_ROLES: &str = "/api/v1/users/{id}/roles";

/// A user as the API shows it; the password hash never leaves the store.
#[derive(Debug, Serialize)]
pub struct UserView {
    pub id: UserId,
    pub username: String,
    pub roles: Vec<Role>,
    pub disabled: bool,
    pub created_at: String,
}

impl From<&UserRecord> for UserView {
    fn from(user: &UserRecord) -> Self {
        UserView {
            id: user.id.clone(),
            username: user.username.clone(),
            roles: user.roles.clone(),
            disabled: user.disabled,
            created_at: format_millis(user.created_at),
        }
    }
}

/// Body of `POST /users`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateUserRequest {
    username: String,
    password: Password,
    roles: Vec<Role>,
}

/// Body of `PUT /users/{id}/roles`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SetRolesRequest {
    roles: Vec<Role>,
}

/// Routes of this file.
pub fn routes(state: &AppState) -> Route {
    let limit = state.max_body_bytes();

    let list = warp::path!("api" / "v1" / "users")
        .and(warp::get())
        .and(with_state(state))
        .and(authorized(state, Action::ListUsers))
        .and(query::<PageQuery>())
        .and_then(
            |state: AppState, _caller: Caller, page: PageQuery| async move {
                list_users(&state, page).await.map_err(warp::reject::custom)
            },
        );

    let create = warp::path!("api" / "v1" / "users")
        .and(warp::post())
        .and(with_state(state))
        .and(authorized(state, Action::CreateUser))
        .and(json_body::<CreateUserRequest>(limit))
        .and_then(
            |state: AppState, caller: Caller, request: CreateUserRequest| async move {
                create_user(&state, &caller, request)
                    .await
                    .map_err(warp::reject::custom)
            },
        );

    let set_roles = warp::path!("api" / "v1" / "users" / String / "roles")
        .and(warp::put())
        .and(with_state(state))
        .and(authorized(state, Action::SetUserRoles))
        .and(json_body::<SetRolesRequest>(limit))
        .and_then(
            |id: String, state: AppState, caller: Caller, request: SetRolesRequest| async move {
                set_roles(&state, &caller, &id, request)
                    .await
                    .map_err(warp::reject::custom)
            },
        );

    one_of(vec![
        finish(state, USERS, list),
        finish(state, USERS, create),
        finish(state, USER_ROLES, set_roles),
    ])
}

async fn list_users(state: &AppState, query: PageQuery) -> Result<Response, Problem> {
    let page = query.page()?;
    let users = state
        .store
        .list_users(page)
        .await
        .map_err(|error| Problem::from_store(error, "list users"))?;
    let body = serde_json::json!({
        "items": users.items.iter().map(UserView::from).collect::<Vec<_>>(),
        "next_offset": users.next_offset,
    });
    Ok(warp::reply::json(&body).into_response())
}

async fn create_user(
    state: &AppState,
    caller: &Caller,
    request: CreateUserRequest,
) -> Result<Response, Problem> {
    crate::store::validate_username(&request.username)
        .map_err(|error| Problem::invalid_field("username", error.to_string()))?;
    check_new_password(&request.password)
        .map_err(|error| Problem::invalid_field("password", error.to_string()))?;
    if request.roles.is_empty() {
        return Err(Problem::invalid_field(
            "roles",
            "roles must list at least one of viewer, editor, executor, admin",
        ));
    }

    let password_hash = hash_new_password_async(request.password)
        .await
        .map_err(|error| {
            tracing::error!(%error, "failed to hash a new password");
            Problem::internal()
        })?;
    let user = state
        .store
        .create_user(NewUser {
            username: request.username,
            password_hash,
            roles: request.roles,
        })
        .await
        .map_err(|error| Problem::from_store(error, "create user"))?;

    let event = caller
        .client
        .annotate(AuditEvent::builder(
            AuditEventType::UserCreated,
            AuditOutcome::Success,
        ))
        .user(caller.user_id().clone())
        .detail("created_user_id", user.id.to_string())
        .detail("username", user.username.clone())
        .detail("roles", role_names(&user.roles))
        .build();
    state.audit.record(event).await;

    let location = format!("{USERS}/{}", user.id);
    let reply = warp::reply::with_status(
        warp::reply::json(&UserView::from(&user)),
        StatusCode::CREATED,
    );
    Ok(warp::reply::with_header(reply, "location", location).into_response())
}

async fn set_roles(
    state: &AppState,
    caller: &Caller,
    id: &str,
    request: SetRolesRequest,
) -> Result<Response, Problem> {
    let id = UserId::parse(id).map_err(|_| Problem::not_found("user"))?;
    let before = state
        .store
        .user_by_id(&id)
        .await
        .map_err(|error| Problem::from_store(error, "find user"))?
        .ok_or_else(|| Problem::not_found("user"))?;

    // An admin who removed their own admin role could leave the server
    // without any admin.
    if &id == caller.user_id() && !request.roles.contains(&Role::Admin) {
        return Err(Problem::new(
            ProblemCode::Conflict,
            "you cannot remove the admin role from yourself: ask another admin to do it",
        ));
    }

    state
        .store
        .set_user_roles(&id, &request.roles)
        .await
        .map_err(|error| Problem::from_store(error, "set user roles"))?;
    let after = state
        .store
        .user_by_id(&id)
        .await
        .map_err(|error| Problem::from_store(error, "find user"))?
        .ok_or_else(|| Problem::not_found("user"))?;

    let event = caller
        .client
        .annotate(AuditEvent::builder(
            AuditEventType::RoleChanged,
            AuditOutcome::Success,
        ))
        .user(caller.user_id().clone())
        .detail("target_user_id", id.to_string())
        .detail("roles_before", role_names(&before.roles))
        .detail("roles_after", role_names(&after.roles))
        .build();
    state.audit.record(event).await;
    Ok(warp::reply::json(&UserView::from(&after)).into_response())
}

fn role_names(roles: &[Role]) -> Vec<&'static str> {
    roles.iter().map(|role| role.as_str()).collect()
}

#[cfg(test)]
mod tests {
    use crate::api::routes;
    use crate::api::tests::{body_json, test_state, user_with_token};
    use crate::model::Role;

    #[tokio::test]
    async fn admin_creates_and_lists_users() {
        let dir = tempfile::tempdir().unwrap();
        let state = test_state(dir.path()).await;
        let (_, admin) = user_with_token(&state, "root", &[Role::Admin]).await;
        let filter = routes(&state);

        let created = warp::test::request()
            .method("POST")
            .path("/api/v1/users")
            .header("authorization", &admin)
            .header("content-type", "application/json")
            .body(r#"{"username": "uma", "password": "a-long-enough-password", "roles": ["executor"]}"#)
            .reply(&filter)
            .await;
        assert_eq!(created.status(), 201);
        let user = body_json(&created);
        assert_eq!(user["roles"], serde_json::json!(["executor"]));

        let stored = state.store.user_by_name("uma").await.unwrap().unwrap();
        assert_eq!(stored.id.as_str(), user["id"].as_str().unwrap());
        assert!(stored.password_hash.starts_with("$argon2id$"));

        let list = warp::test::request()
            .path("/api/v1/users")
            .header("authorization", &admin)
            .reply(&filter)
            .await;
        assert_eq!(list.status(), 200);
        assert_eq!(body_json(&list)["items"].as_array().unwrap().len(), 2);
    }

    #[tokio::test]
    async fn empty_roles_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let state = test_state(dir.path()).await;
        let (_, admin) = user_with_token(&state, "root", &[Role::Admin]).await;
        let response = warp::test::request()
            .method("POST")
            .path("/api/v1/users")
            .header("authorization", &admin)
            .header("content-type", "application/json")
            .body(r#"{"username": "uma", "password": "a-long-enough-password", "roles": []}"#)
            .reply(&routes(&state))
            .await;
        assert_eq!(response.status(), 400);
        assert_eq!(body_json(&response)["field"], "roles");
    }
}
