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

#[cfg(test)]
mod tests {
    use crate::api::routes;
    use crate::api::tests::{body_json, test_state};

    #[tokio::test]
    async fn readyz_fails_during_shutdown() {
        let dir = tempfile::tempdir().unwrap();
        let state = test_state(dir.path()).await;
        let filter = routes(&state);

        let ready = warp::test::request().path("/readyz").reply(&filter).await;
        assert_eq!(ready.status(), 200);

        state
            .shutting_down
            .store(true, std::sync::atomic::Ordering::Relaxed);
        let stopping = warp::test::request().path("/readyz").reply(&filter).await;
        assert_eq!(stopping.status(), 503);
        assert_eq!(body_json(&stopping)["code"], "not_ready");
        assert_eq!(stopping.headers()["retry-after"], "5");
    }

    #[tokio::test]
    async fn readyz_fails_without_database() {
        let dir = tempfile::tempdir().unwrap();
        let state = test_state(dir.path()).await;
        state.store.close().await.unwrap();
        let response = warp::test::request()
            .path("/readyz")
            .reply(&routes(&state))
            .await;
        assert_eq!(response.status(), 503);
    }
}
