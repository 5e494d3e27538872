//! The HTTP API (warp): routes under `/api/v1`, health and metrics.
//!
//! Layout:
//! - `problem.rs`: RFC 9457 problem documents, the body of every error.
//! - `body.rs`: the JSON body filter (media type, size limit, unknown fields).
//! - `query.rs`: query strings and pagination.
//! - `principal.rs`: authentication of `Authorization: Bearer` and the
//!   authorization helper that audits denials.
//! - One file per route group, each with a `routes(state)` function:
//!   `health.rs` (`/healthz`, `/readyz`, `/metrics`), `auth.rs` (login,
//!   refresh, logout), `users.rs`, `api_keys.rs`, `audit.rs`,
//!   `profiles.rs`, `plugins.rs`, `openapi.rs`, `workflows.rs`
//!   (`/api/v1/workflows`) and `executions.rs` (`/api/v1/executions` and
//!   `POST /api/v1/workflows/{id}/executions`).
//!
//! Every route is built by [`finish`]: once a request matched a route's path
//! and method, any later rejection (authentication, body, handler error) becomes
//! a problem response there, so no other route is tried and the
//! request is counted under that route's template. Requests that match no
//! route get 404 or 405 from [`recover_unmatched`].
//!
//! [`ROUTES`] lists every (method, path template) pair; a test checks it
//! against docs/openapi.json and against the registered filters.
//!
//! Adding a route group: write `NAME.rs` with `pub fn routes(state) -> Route`
//! that builds each route as path, then method, then
//! `principal::authorized(state, action)` (or `principal::authenticated`
//! plus [`principal::Caller::authorize`] with the owner, for actions with
//! ownership rules), then body or query filters, then the handler, and
//! passes it to [`finish`] with its template. Handlers return
//! `Result<_, Problem>` and reject with `warp::reject::custom(problem)`.
//! Then add one line to [`routes`] and the route's entries to [`ROUTES`].

mod api_keys;
mod audit;
mod auth;
pub mod body;
mod executions;
mod health;
mod openapi;
mod plugins;
pub mod principal;
pub mod problem;
mod profiles;
pub mod query;
mod users;
mod workflows;

use std::convert::Infallible;

use warp::filters::BoxedFilter;
use warp::http::header::{HeaderValue, CACHE_CONTROL, X_CONTENT_TYPE_OPTIONS};
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

use crate::server::AppState;
use crate::store::UnixMillis;
use problem::{Problem, ProblemCode};

/// Base path of the versioned API.
pub const API_BASE: &str = "/api/v1";

/// Metrics label of requests that matched no route.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// Every route as (method, path template). Path templates use OpenAPI's
/// `{name}` syntax and are the `route` label of `vwmp_http_requests_total`.
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("GET", "/api/v1/openapi.json"),
    ("POST", "/api/v1/auth/login"),
    ("POST", "/api/v1/auth/refresh"),
    ("POST", "/api/v1/auth/logout"),
    ("GET", "/api/v1/users"),
    ("POST", "/api/v1/users"),
    ("PUT", "/api/v1/users/{id}/roles"),
    ("GET", "/api/v1/api-keys"),
    ("POST", "/api/v1/api-keys"),
    ("DELETE", "/api/v1/api-keys/{id}"),
    ("GET", "/api/v1/audit"),
    ("GET", "/api/v1/profiles"),
    ("GET", "/api/v1/profiles/{name}"),
    ("GET", "/api/v1/plugins"),
    ("GET", "/api/v1/workflows"),
    ("POST", "/api/v1/workflows"),
    ("GET", "/api/v1/workflows/{id}"),
    ("PUT", "/api/v1/workflows/{id}"),
    ("DELETE", "/api/v1/workflows/{id}"),
    ("POST", "/api/v1/workflows/{id}/executions"),
    ("GET", "/api/v1/executions"),
    ("GET", "/api/v1/executions/{id}"),
    ("GET", "/api/v1/executions/{id}/logs"),
    ("POST", "/api/v1/executions/{id}/cancel"),
];

/// Routes of the API contract that are documented in docs/openapi.json but
/// not registered yet. Move each to [`ROUTES`] when its handler is
/// registered; a test fails while a registered route is listed here.
pub const PLANNED_ROUTES: &[(&str, &str)] = &[];

/// A finished route, which returns a response for every request it matched.
pub type Route = BoxedFilter<(Response,)>;

/// Builds every route of the server.
pub fn routes(state: &AppState) -> impl Filter<Extract = (Response,), Error = Infallible> + Clone {
    let metrics = state.metrics.clone();
    // One line per route group.
    let all = one_of(vec![
        health::routes(state),
        openapi::routes(state),
        auth::routes(state),
        users::routes(state),
        api_keys::routes(state),
        audit::routes(state),
        profiles::routes(state),
        plugins::routes(state),
        workflows::routes(state),
        executions::routes(state),
    ]);
    all.recover(move |rejection| {
        let metrics = metrics.clone();
        async move { Ok::<_, Infallible>(recover_unmatched(&metrics, rejection)) }
    })
    .unify()
    .map(with_common_headers)
}

/// Combines routes. The first route that matches a request handles it.
pub fn one_of(routes: Vec<Route>) -> Route {
    let mut routes = routes.into_iter();
    let Some(first) = routes.next() else {
        return warp::any()
            .and_then(|| async { Err::<Response, _>(warp::reject::not_found()) })
            .boxed();
    };
    routes.fold(first, |combined, route| combined.or(route).unify().boxed())
}

/// Returns a filter that extracts a clone of `state`.
pub fn with_state(
    state: &AppState,
) -> impl Filter<Extract = (AppState,), Error = Infallible> + Clone {
    let state = state.clone();
    warp::any().map(move || state.clone())
}

/// Finishes a route whose `filter` starts with its path and method: a
/// rejection after those match becomes a problem response, and every
/// response is counted under `template`.
pub fn finish<F, R>(state: &AppState, template: &'static str, filter: F) -> Route
where
    F: Filter<Extract = (R,), Error = Rejection> + Clone + Send + Sync + 'static,
    R: Reply,
{
    let metrics = state.metrics.clone();
    filter
        .map(|reply: R| reply.into_response())
        .or_else(|rejection: Rejection| async move {
            if is_unmatched(&rejection) {
                Err(rejection)
            } else {
                Ok((rejection_problem(&rejection).to_response(),))
            }
        })
        .map(move |response: Response| {
            let status = response.status().as_u16();
            metrics.http_request(template, status);
            tracing::debug!(route = template, status, "handled a request");
            response
        })
        .boxed()
}

/// Returns true for the rejections of path and method filters, which mean
/// "try the next route".
fn is_unmatched(rejection: &Rejection) -> bool {
    rejection.is_not_found() || rejection.find::<warp::reject::MethodNotAllowed>().is_some()
}

/// Answers a request that no route matched: 405 when some route has its
/// path, 404 otherwise.
fn recover_unmatched(metrics: &crate::metrics::Metrics, rejection: Rejection) -> Response {
    let problem = if rejection.find::<warp::reject::MethodNotAllowed>().is_some() {
        Problem::new(
            ProblemCode::MethodNotAllowed,
            "this path does not support the request's method: see /api/v1/openapi.json",
        )
    } else if rejection.is_not_found() {
        Problem::new(
            ProblemCode::NotFound,
            "no route has this path: see /api/v1/openapi.json for the API's routes",
        )
    } else {
        rejection_problem(&rejection)
    };
    let response = problem.to_response();
    metrics.http_request(UNMATCHED_ROUTE, response.status().as_u16());
    response
}

/// Turns any rejection into a problem without internal detail.
pub fn rejection_problem(rejection: &Rejection) -> Problem {
    use warp::reject::{
        InvalidHeader, InvalidQuery, LengthRequired, MethodNotAllowed, MissingHeader,
        PayloadTooLarge, UnsupportedMediaType,
    };

    if let Some(problem) = rejection.find::<Problem>() {
        return problem.clone();
    }
    if rejection.find::<MethodNotAllowed>().is_some() {
        return Problem::new(
            ProblemCode::MethodNotAllowed,
            "this path does not support the request's method",
        );
    }
    if rejection.find::<PayloadTooLarge>().is_some() || rejection.find::<LengthRequired>().is_some()
    {
        return Problem::new(
            ProblemCode::BodyTooLarge,
            "the request body is too large: send a smaller body",
        );
    }
    if rejection.find::<UnsupportedMediaType>().is_some() {
        return Problem::new(
            ProblemCode::UnsupportedMediaType,
            "the request body must be JSON: send Content-Type: application/json",
        );
    }
    if rejection.find::<InvalidQuery>().is_some() {
        return Problem::new(ProblemCode::ValidationFailed, "the query string is invalid");
    }
    if let Some(header) = rejection.find::<InvalidHeader>() {
        return Problem::new(
            ProblemCode::ValidationFailed,
            format!("the {} header is invalid", header.name()),
        );
    }
    if let Some(header) = rejection.find::<MissingHeader>() {
        return Problem::new(
            ProblemCode::ValidationFailed,
            format!("the {} header is missing", header.name()),
        );
    }
    if rejection.is_not_found() {
        return Problem::new(ProblemCode::NotFound, "no route has this path");
    }
    tracing::error!(?rejection, "unexpected rejection");
    Problem::internal()
}

/// Adds headers that every API response carries: no caching of responses
/// that may contain credentials or private data, and no content sniffing.
fn with_common_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers
        .entry(CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

/// Returns the current time in unix milliseconds, the store's time unit.
pub fn now_millis() -> UnixMillis {
    let nanos = time::OffsetDateTime::now_utc().unix_timestamp_nanos();
    i64::try_from(nanos / 1_000_000).unwrap_or(i64::MAX)
}

/// Formats unix milliseconds as an RFC 3339 UTC timestamp for responses.
pub fn format_millis(millis: UnixMillis) -> String {
    let nanos = i128::from(millis) * 1_000_000;
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(crate::audit::format_timestamp)
        .unwrap_or_else(|| millis.to_string())
}

#[cfg(test)]
mod tests;
