//! Tests of the route table: [`ROUTES`] against docs/openapi.json and
//! against the filters that [`routes`] registers.

use std::collections::BTreeSet;

use super::*;
use crate::config::Config;

/// Returns every (METHOD, path) operation of the OpenAPI document.
fn documented_operations() -> BTreeSet<(String, String)> {
    let document: serde_json::Value = serde_json::from_str(openapi::OPENAPI_DOCUMENT).unwrap();
    let paths = document["paths"].as_object().expect("paths is an object");
    let mut operations = BTreeSet::new();
    for (path, item) in paths {
        for method in item.as_object().expect("path item is an object").keys() {
            operations.insert((method.to_ascii_uppercase(), path.clone()));
        }
    }
    operations
}

fn as_set(routes: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    routes
        .iter()
        .map(|(method, path)| (method.to_string(), path.to_string()))
        .collect()
}

#[test]
fn openapi_document_is_3_1() {
    let document: serde_json::Value = serde_json::from_str(openapi::OPENAPI_DOCUMENT).unwrap();
    assert_eq!(document["openapi"], "3.1.0");
}

#[test]
fn registered_routes_documented() {
    let documented = documented_operations();
    for route in as_set(ROUTES) {
        assert!(
            documented.contains(&route),
            "{route:?} is missing from docs/openapi.json"
        );
    }
}

#[test]
fn documented_routes_listed() {
    let listed: BTreeSet<_> = as_set(ROUTES)
        .union(&as_set(PLANNED_ROUTES))
        .cloned()
        .collect();
    for operation in documented_operations() {
        assert!(
            listed.contains(&operation),
            "{operation:?} is documented but not in ROUTES"
        );
    }
}

#[test]
fn route_lists_disjoint() {
    let registered = as_set(ROUTES);
    for route in as_set(PLANNED_ROUTES) {
        assert!(
            !registered.contains(&route),
            "{route:?} is in both ROUTES and PLANNED_ROUTES"
        );
    }
}

/// Builds the state on a temporary database with the repository's plugins
/// and profiles.
pub(super) async fn test_state(dir: &std::path::Path) -> AppState {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut config = Config::default_for_local();
    config.storage.state_dir = dir.join("state");
    config.storage.database = dir.join("state/vwmp.db");
    config.auth.signing_key_file = dir.join("state/jwt-signing.key");
    config.engine.plugins_dir = root.join("examples/plugins");
    config.engine.profiles_dir = root.join("sandbox-profiles");
    crate::server::build_state(config).await.unwrap()
}

/// Replaces `{name}` parameters with a well-formed id.
fn concrete_path(template: &str) -> String {
    template
        .replace("{id}", "3f2b8c1e-9d4a-4f6b-8e2a-1c5d7e9f0a3b")
        .replace("{name}", "default")
}

#[tokio::test]
async fn listed_routes_registered() {
    let dir = tempfile::tempdir().unwrap();
    let state = test_state(dir.path()).await;
    let filter = routes(&state);

    for (method, template) in ROUTES {
        let response = warp::test::request()
            .method(method)
            .path(&concrete_path(template))
            .reply(&filter)
            .await;
        let status = response.status().as_u16();
        assert!(
            status != 404 && status != 405,
            "{method} {template} answered {status}: it is listed but not registered"
        );
    }

    // Every route counts its requests under its own template.
    let metrics = state.metrics.render();
    for (_, template) in ROUTES {
        assert!(
            metrics.contains(&format!("route=\"{template}\"")),
            "{template} is not a metrics label:\n{metrics}"
        );
    }
    assert!(
        !metrics.contains(UNMATCHED_ROUTE),
        "a listed route was unmatched"
    );
}

#[tokio::test]
async fn planned_routes_unregistered() {
    let dir = tempfile::tempdir().unwrap();
    let state = test_state(dir.path()).await;
    let filter = routes(&state);

    for (method, template) in PLANNED_ROUTES {
        let response = warp::test::request()
            .method(method)
            .path(&concrete_path(template))
            .reply(&filter)
            .await;
        let status = response.status().as_u16();
        assert!(
            status == 404 || status == 405,
            "{method} {template} answered {status}: move it from PLANNED_ROUTES to ROUTES"
        );
    }
}

#[tokio::test]
async fn unknown_path_is_problem_404() {
    let dir = tempfile::tempdir().unwrap();
    let state = test_state(dir.path()).await;
    let filter = routes(&state);

    let response = warp::test::request()
        .path("/api/v1/nothing")
        .reply(&filter)
        .await;
    assert_eq!(response.status(), 404);
    assert_eq!(
        response.headers()["content-type"],
        problem::PROBLEM_CONTENT_TYPE
    );
    let body: serde_json::Value = serde_json::from_slice(response.body()).unwrap();
    assert_eq!(body["code"], "not_found");

    let response = warp::test::request()
        .method("DELETE")
        .path("/api/v1/users")
        .reply(&filter)
        .await;
    assert_eq!(response.status(), 405);
    let body: serde_json::Value = serde_json::from_slice(response.body()).unwrap();
    assert_eq!(body["code"], "method_not_allowed");
}

/// Creates a user with `roles` directly in the store and returns its id
/// and an `Authorization` value with a fresh access token.
pub(super) async fn user_with_token(
    state: &AppState,
    name: &str,
    roles: &[crate::model::Role],
) -> (crate::model::UserId, String) {
    let user = state
        .store
        .create_user(crate::store::NewUser {
            username: name.to_string(),
            // Never verified here: these tests authenticate with tokens.
            password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g".to_string(),
            roles: roles.to_vec(),
        })
        .await
        .unwrap();
    let token = state
        .jwt
        .issue(&user.id, &user.roles, std::time::SystemTime::now())
        .unwrap();
    (user.id, format!("Bearer {}", token.token))
}

/// Returns the response body as JSON.
pub(super) fn body_json(response: &warp::http::Response<bytes::Bytes>) -> serde_json::Value {
    serde_json::from_slice(response.body()).unwrap()
}
