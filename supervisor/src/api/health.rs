//! `GET /healthz`, `GET /readyz` and `GET /metrics`: unauthenticated, and
//! showing nothing beyond health and counters.

use serde_json::json;
use warp::http::StatusCode;
use warp::{Filter, Reply};

use super::problem::{Problem, ProblemCode};
use super::{finish, one_of, with_state, Route};
use crate::server::AppState;

/// Routes of this file.
pub fn routes(state: &AppState) -> Route {
    let healthz = warp::path!("healthz")
        .and(warp::get())
        .map(|| warp::reply::json(&json!({"status": "ok"})));

    let readyz = warp::path!("readyz")
        .and(warp::get())
        .and(with_state(state))
        .then(|state: AppState| async move { readiness(&state).await });

    let metrics = warp::path!("metrics")
        .and(warp::get())
        .and(with_state(state))
        .map(|state: AppState| {
            warp::reply::with_header(
                state.metrics.render(),
                "content-type",
                crate::metrics::CONTENT_TYPE,
            )
        });

    one_of(vec![
        finish(state, "/healthz", healthz),
        finish(state, "/readyz", readyz),
        finish(state, "/metrics", metrics),
    ])
}

/// Returns 200 when the server accepts work: it is not shutting down, and
/// the database responds to a query.
async fn readiness(state: &AppState) -> warp::reply::Response {
    if state.is_shutting_down() {
        return Problem::new(ProblemCode::NotReady, "the server is shutting down")
            .with_retry_after(5)
            .into_response();
    }
    match state.store.count_users().await {
        Ok(_) => warp::reply::with_status(
            warp::reply::json(&json!({"status": "ready"})),
            StatusCode::OK,
        )
        .into_response(),
        Err(error) => {
            tracing::warn!(%error, "readiness check failed: the database query failed");
            Problem::new(
                ProblemCode::NotReady,
                "the database is not available; retry later",
            )
            .with_retry_after(5)
            .into_response()
        }
    }
}
