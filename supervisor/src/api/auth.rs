//! `POST /auth/login`, `POST /auth/refresh` and `POST /auth/logout`.
//!
//! Login checks the throttle before the password, so a locked account or
//! address costs no hashing, and verifies unknown users against a dummy
//! hash so timing does not reveal which accounts exist. A successful login
//! returns an access token in the body and sets two cookies: the refresh
//! token (HttpOnly, scoped to `/api/v1/auth`) and the CSRF token that the
//! page repeats in `X-CSRF-Token`.
//!
//! Refresh and logout are authenticated by the refresh cookie alone, so
//! both first check the `Origin` header and the CSRF double submit. Each
//! refresh rotates the refresh token within its family and keeps the
//! family's expiry; presenting a token that was already rotated revokes
//! the whole family.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};
use warp::http::header::{HeaderValue, SET_COOKIE};
use warp::http::{HeaderMap, StatusCode};
use warp::reply::Response;
use warp::{Filter, Reply};

use super::body::json_body;
use super::principal::{client_info, ClientInfo};
use super::problem::{Problem, ProblemCode};
use super::{finish, now_millis, one_of, with_state, Route};
use crate::audit::{AuditEvent, AuditEventType, AuditOutcome};
use crate::auth::throttle::LockSubject;
use crate::auth::{
    clear_csrf_cookie, clear_refresh_cookie, csrf_cookie_for, csrf_matches, new_family_id,
    refresh_cookie_for, verify_login_async, CookieJar, CsrfToken, OriginPolicy, OriginRequest,
    Password, RefreshToken, CSRF_COOKIE, CSRF_HEADER, REFRESH_COOKIE,
};
use crate::model::{Role, UserId};
use crate::server::AppState;
use crate::store::{NewRefreshToken, RefreshReplacement, RotateOutcome, UnixMillis, UserRecord};

/// Route templates of this file.
pub const LOGIN: &str = "/api/v1/auth/login";
pub const REFRESH: &str = "/api/v1/auth/refresh";
pub const LOGOUT: &str = "/api/v1/auth/logout";

/// Maximum length of a username at login, in characters. Longer names cannot
/// exist (the store allows 64), so they fail like any unknown name.
const MAX_LOGIN_USERNAME_CHARS: usize = 256;

/// Body of `POST /auth/login`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginRequest {
    username: String,
    password: Password,
}

/// Body of a successful login or refresh.
#[derive(Serialize)]
struct TokenResponse {
    access_token: String,
    token_type: &'static str,
    expires_in: u64,
    user: UserSummary,
}

/// The user in a token response.
#[derive(Serialize)]
struct UserSummary {
    id: UserId,
    username: String,
    roles: Vec<Role>,
}

/// Routes of this file.
pub fn routes(state: &AppState) -> Route {
    let limit = state.max_body_bytes();

    let login = warp::path!("api" / "v1" / "auth" / "login")
        .and(warp::post())
        .and(with_state(state))
        .and(client_info(state))
        .and(json_body::<LoginRequest>(limit))
        .and_then(
            |state: AppState, client: ClientInfo, request: LoginRequest| async move {
                login(&state, &client, request)
                    .await
                    .map_err(warp::reject::custom)
            },
        );

    let refresh = warp::path!("api" / "v1" / "auth" / "refresh")
        .and(warp::post())
        .and(with_state(state))
        .and(client_info(state))
        .and(warp::header::headers_cloned())
        .then(
            |state: AppState, client: ClientInfo, headers: HeaderMap| async move {
                refresh(&state, &client, &headers)
                    .await
                    .unwrap_or_else(|failure| failure.into_response())
            },
        );

    let logout = warp::path!("api" / "v1" / "auth" / "logout")
        .and(warp::post())
        .and(with_state(state))
        .and(client_info(state))
        .and(warp::header::headers_cloned())
        .and_then(
            |state: AppState, client: ClientInfo, headers: HeaderMap| async move {
                logout(&state, &client, &headers)
                    .await
                    .map_err(warp::reject::custom)
            },
        );

    one_of(vec![
        finish(state, LOGIN, login),
        finish(state, REFRESH, refresh),
        finish(state, LOGOUT, logout),
    ])
}

async fn login(
    state: &AppState,
    client: &ClientInfo,
    request: LoginRequest,
) -> Result<Response, Problem> {
    let address = client.ip.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    let username = request.username;
    let audit_name: String = username.chars().take(64).collect();

    if let Err(throttled) = state.throttle.check(&username, address, Instant::now()) {
        let event = client
            .annotate(AuditEvent::builder(
                AuditEventType::LoginFailed,
                AuditOutcome::Denied,
            ))
            .detail("username", audit_name)
            .detail("reason", "throttled")
            .build();
        state.audit.record(event).await;
        return Err(
            Problem::new(ProblemCode::TooManyAttempts, throttled.to_string())
                .with_retry_after(throttled.retry_after_secs()),
        );
    }

    let user = if username.chars().count() <= MAX_LOGIN_USERNAME_CHARS {
        state
            .store
            .user_by_name(&username)
            .await
            .map_err(|error| Problem::from_store(error, "find user for login"))?
    } else {
        None
    };
    let stored_hash = user.as_ref().map(|user| user.password_hash.clone());
    let verified = verify_login_async(request.password, stored_hash)
        .await
        .map_err(|error| {
            tracing::error!(%error, "failed to verify a login password");
            Problem::internal()
        })?;

    let user = match user {
        Some(user) if verified && !user.disabled => user,
        other => {
            let reason = match &other {
                Some(user) if user.disabled && verified => "account disabled",
                Some(_) => "wrong password",
                None => "unknown user",
            };
            record_login_failure(
                state,
                client,
                &username,
                address,
                other.map(|user| user.id),
                reason,
            )
            .await;
            return Err(Problem::new(
                ProblemCode::InvalidCredentials,
                "invalid username or password: check both and try again",
            ));
        }
    };
    state.throttle.record_success(&username);

    let now = now_millis();
    let token = RefreshToken::generate();
    let ttl = i64::try_from(state.config.auth.refresh_token_ttl.as_millis()).unwrap_or(i64::MAX);
    let expires_at = now.saturating_add(ttl);
    state
        .store
        .insert_refresh_token(NewRefreshToken {
            token_hash: token.hash(),
            family_id: new_family_id(),
            user_id: user.id.clone(),
            created_at: now,
            expires_at,
        })
        .await
        .map_err(|error| Problem::from_store(error, "store refresh token"))?;

    let response = token_response(state, &user, &token, expires_at)?;
    let event = client
        .annotate(AuditEvent::builder(
            AuditEventType::LoginSucceeded,
            AuditOutcome::Success,
        ))
        .user(user.id.clone())
        .detail("username", user.username.clone())
        .build();
    state.audit.record(event).await;
    Ok(response)
}

/// Counts a failed login in the throttle and audits it and any lock it
/// started.
async fn record_login_failure(
    state: &AppState,
    client: &ClientInfo,
    username: &str,
    address: IpAddr,
    user_id: Option<UserId>,
    reason: &str,
) {
    let audit_name: String = username.chars().take(64).collect();
    let locks = state
        .throttle
        .record_failure(username, address, Instant::now());

    let mut event = client
        .annotate(AuditEvent::builder(
            AuditEventType::LoginFailed,
            AuditOutcome::Failure,
        ))
        .detail("username", audit_name.clone())
        .detail("reason", reason);
    if let Some(user_id) = &user_id {
        event = event.user(user_id.clone());
    }
    state.audit.record(event.build()).await;

    for lock in locks {
        let subject = match &lock.subject {
            LockSubject::Account(_) => "account",
            LockSubject::Address(_) => "address",
        };
        let mut event = client
            .annotate(AuditEvent::builder(
                AuditEventType::AccountLocked,
                AuditOutcome::Denied,
            ))
            .detail("username", audit_name.clone())
            .detail("locked", subject)
            .detail("locked_for_secs", lock.locked_for.as_secs());
        if let Some(user_id) = &user_id {
            event = event.user(user_id.clone());
        }
        state.audit.record(event.build()).await;
    }
}

/// Issues an access token for `user` and builds the response that also
/// sets the refresh and CSRF cookies, which expire with the refresh token
/// family at `family_expires_at`.
fn token_response(
    state: &AppState,
    user: &UserRecord,
    refresh: &RefreshToken,
    family_expires_at: UnixMillis,
) -> Result<Response, Problem> {
    let access = state
        .jwt
        .issue(&user.id, &user.roles, SystemTime::now())
        .map_err(|error| {
            tracing::error!(%error, user_id = %user.id, "failed to issue an access token");
            Problem::internal()
        })?;
    let body = TokenResponse {
        access_token: access.token,
        token_type: "Bearer",
        expires_in: state.jwt.lifetime().as_secs(),
        user: UserSummary {
            id: user.id.clone(),
            username: user.username.clone(),
            roles: user.roles.clone(),
        },
    };
    let mut response = warp::reply::json(&body).into_response();
    let remaining = family_expires_at.saturating_sub(now_millis()).max(0);
    let max_age = Duration::from_millis(u64::try_from(remaining).unwrap_or(0));
    let csrf = CsrfToken::generate();
    set_cookies(
        &mut response,
        &[
            refresh_cookie_for(refresh, max_age),
            csrf_cookie_for(&csrf, max_age),
        ],
    );
    Ok(response)
}

fn set_cookies(response: &mut Response, cookies: &[String]) {
    for cookie in cookies {
        match HeaderValue::from_str(cookie) {
            Ok(value) => {
                response.headers_mut().append(SET_COOKIE, value);
            }
            Err(error) => tracing::error!(%error, "failed to build a Set-Cookie header"),
        }
    }
}

/// Builds a problem response that also deletes both auth cookies.
fn problem_clearing_cookies(problem: Problem) -> Response {
    let mut response = problem.to_response();
    set_cookies(
        &mut response,
        &[clear_refresh_cookie(), clear_csrf_cookie()],
    );
    response
}

/// Checks the `Origin` header and the CSRF double submit of a
/// cookie-authenticated request, and returns its cookies.
fn check_cookie_request(state: &AppState, headers: &HeaderMap) -> Result<CookieJar, Problem> {
    let cookie_headers: Vec<&str> = headers
        .get_all(warp::http::header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .collect();
    let has_cookie = !cookie_headers.is_empty();

    let mut allowed: Vec<String> = state.config.server.allowed_origins.clone();
    if let Some(public) = &state.config.server.public_origin {
        allowed.push(public.clone());
    }
    let policy = OriginPolicy::new(&allowed).map_err(|error| {
        tracing::error!(%error, "the configured origins are invalid");
        Problem::internal()
    })?;
    let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    let scheme = if state.config.server.trusted_proxy {
        match header("x-forwarded-proto") {
            Some("http") => "http",
            _ => "https",
        }
    } else {
        "http"
    };
    let request = OriginRequest {
        origin: header("origin"),
        scheme,
        host: header("host"),
        has_cookie,
    };
    policy
        .check(&request)
        .map_err(|error| Problem::new(ProblemCode::OriginNotAllowed, error.to_string()))?;

    let jar = CookieJar::parse_headers(cookie_headers)
        .map_err(|error| Problem::new(ProblemCode::CsrfFailed, error.to_string()))?;
    if !csrf_matches(jar.get(CSRF_COOKIE), header(CSRF_HEADER)) {
        return Err(Problem::new(
            ProblemCode::CsrfFailed,
            format!(
                "the {CSRF_HEADER} header must repeat the {CSRF_COOKIE} cookie: send both, or log in again"
            ),
        ));
    }
    Ok(jar)
}

/// Reads the refresh token from the cookies.
fn refresh_token(jar: &CookieJar) -> Result<RefreshToken, Problem> {
    let value = jar.get(REFRESH_COOKIE).ok_or_else(|| {
        Problem::unauthenticated(format!(
            "the {REFRESH_COOKIE} cookie is missing: log in again"
        ))
    })?;
    RefreshToken::parse(value).map_err(|error| Problem::unauthenticated(error.to_string()))
}

async fn refresh(
    state: &AppState,
    client: &ClientInfo,
    headers: &HeaderMap,
) -> Result<Response, Response> {
    let jar = check_cookie_request(state, headers).map_err(|problem| problem.to_response())?;
    let old = refresh_token(&jar).map_err(problem_clearing_cookies)?;
    let session_ended = || {
        problem_clearing_cookies(Problem::unauthenticated(
            "the session expired or was ended: log in again",
        ))
    };

    // The replacement keeps the family's expiry, so refreshing never
    // extends a session beyond the lifetime it got at login.
    let record = state
        .store
        .refresh_token_by_hash(&old.hash())
        .await
        .map_err(|error| Problem::from_store(error, "find refresh token").to_response())?
        .ok_or_else(session_ended)?;
    // A token revoked by logout or by an earlier reuse ends the session
    // quietly; only a rotated token that is still unrevoked counts as reuse.
    if record.revoked_at.is_some() {
        return Err(session_ended());
    }
    let now = now_millis();
    let replacement = RefreshToken::generate();
    let outcome = state
        .store
        .rotate_refresh_token(
            &old.hash(),
            RefreshReplacement {
                token_hash: replacement.hash(),
                expires_at: record.expires_at,
            },
            now,
        )
        .await
        .map_err(|error| Problem::from_store(error, "rotate refresh token").to_response())?;

    let (user_id, family_id) = match outcome {
        RotateOutcome::Rotated { user_id, family_id } => (user_id, family_id),
        RotateOutcome::Reused { user_id, family_id } => {
            let event = client
                .annotate(AuditEvent::builder(
                    AuditEventType::RefreshTokenReused,
                    AuditOutcome::Denied,
                ))
                .user(user_id)
                .detail("family_id", family_id)
                .build();
            state.audit.record(event).await;
            return Err(problem_clearing_cookies(Problem::new(
                ProblemCode::RefreshReused,
                "this refresh token was already used, so every session it belongs to was ended: \
                 log in again",
            )));
        }
        RotateOutcome::Expired | RotateOutcome::NotFound => return Err(session_ended()),
    };

    let user = state
        .store
        .user_by_id(&user_id)
        .await
        .map_err(|error| Problem::from_store(error, "find user for refresh").to_response())?;
    let user = match user {
        Some(user) if !user.disabled => user,
        _ => {
            if let Err(error) = state.store.revoke_refresh_family(&family_id, now).await {
                tracing::error!(%error, %user_id, "failed to revoke the sessions of a disabled user");
            }
            return Err(session_ended());
        }
    };

    let response = token_response(state, &user, &replacement, record.expires_at)
        .map_err(|problem| problem.to_response())?;
    let event = client
        .annotate(AuditEvent::builder(
            AuditEventType::TokenRefreshed,
            AuditOutcome::Success,
        ))
        .user(user.id.clone())
        .detail("family_id", family_id)
        .build();
    state.audit.record(event).await;
    Ok(response)
}

async fn logout(
    state: &AppState,
    client: &ClientInfo,
    headers: &HeaderMap,
) -> Result<Response, Problem> {
    let jar = check_cookie_request(state, headers)?;
    let now = now_millis();

    // A missing or unknown refresh token still logs out: the cookies are
    // cleared either way.
    if let Ok(token) = refresh_token(&jar) {
        let revoked = state
            .store
            .revoke_refresh_token(&token.hash(), now)
            .await
            .map_err(|error| Problem::from_store(error, "revoke refresh token"))?;
        if let Some(revoked) = revoked {
            state
                .store
                .revoke_refresh_family(&revoked.family_id, now)
                .await
                .map_err(|error| Problem::from_store(error, "revoke refresh token family"))?;
            let event = client
                .annotate(AuditEvent::builder(
                    AuditEventType::Logout,
                    AuditOutcome::Success,
                ))
                .user(revoked.user_id)
                .detail("family_id", revoked.family_id)
                .build();
            state.audit.record(event).await;
        }
    }

    let mut response =
        warp::reply::with_status(warp::reply(), StatusCode::NO_CONTENT).into_response();
    set_cookies(
        &mut response,
        &[clear_refresh_cookie(), clear_csrf_cookie()],
    );
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::tests::test_state;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                warp::http::header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        map
    }

    const CSRF: &str = "LMqvrmdvmAE_QMms9MwgZZWx3Jyc5BtPrtcxmrOQX20";

    #[tokio::test]
    async fn same_origin_accepted_without_allowed_list() {
        let dir = tempfile::tempdir().unwrap();
        let state = test_state(dir.path()).await;
        let cookie = format!("{CSRF_COOKIE}={CSRF}; {REFRESH_COOKIE}=x");
        let request = headers(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "http://127.0.0.1:8080"),
            ("cookie", &cookie),
            (CSRF_HEADER, CSRF),
        ]);
        let jar = check_cookie_request(&state, &request).unwrap();
        assert_eq!(jar.get(REFRESH_COOKIE), Some("x"));

        let cross = headers(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "http://127.0.0.1:9999"),
            ("cookie", &cookie),
            (CSRF_HEADER, CSRF),
        ]);
        let problem = check_cookie_request(&state, &cross).unwrap_err();
        assert_eq!(problem.code, ProblemCode::OriginNotAllowed);
    }

    #[tokio::test]
    async fn proxy_scheme_from_forwarded_proto() {
        let dir = tempfile::tempdir().unwrap();
        let mut state = test_state(dir.path()).await;
        let mut config = (*state.config).clone();
        config.server.trusted_proxy = true;
        state.config = std::sync::Arc::new(config);

        let cookie = format!("{CSRF_COOKIE}={CSRF}");
        let https = headers(&[
            ("host", "vwmp.example.com"),
            ("origin", "https://vwmp.example.com"),
            ("cookie", &cookie),
            (CSRF_HEADER, CSRF),
        ]);
        assert!(check_cookie_request(&state, &https).is_ok());

        let http = headers(&[
            ("host", "vwmp.example.com"),
            ("origin", "https://vwmp.example.com"),
            ("x-forwarded-proto", "http"),
            ("cookie", &cookie),
            (CSRF_HEADER, CSRF),
        ]);
        let problem = check_cookie_request(&state, &http).unwrap_err();
        assert_eq!(problem.code, ProblemCode::OriginNotAllowed);
    }

    #[tokio::test]
    async fn duplicate_csrf_cookie_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let state = test_state(dir.path()).await;
        // A second, planted CSRF cookie makes the value ambiguous.
        let cookie = format!("{CSRF_COOKIE}={CSRF}; {CSRF_COOKIE}={CSRF}");
        let request = headers(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "http://127.0.0.1:8080"),
            ("cookie", &cookie),
            (CSRF_HEADER, CSRF),
        ]);
        let problem = check_cookie_request(&state, &request).unwrap_err();
        assert_eq!(problem.code, ProblemCode::CsrfFailed);
    }
}
