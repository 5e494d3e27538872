//! Users, API keys, audit, profiles, plugins, health and the role checks of
//! every route, against a real `vwmp serve` on 127.0.0.1.

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use common::server::{raw_request, TestServer, PASSWORD};
use common::vwmp_binary;
use serde_json::json;

const UNKNOWN_ID: &str = "3f2b8c1e-9d4a-4f6b-8e2a-1c5d7e9f0a3b";

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Signs `claims` with HS256 and `key`.
fn sign(claims: &serde_json::Value, key: &[u8]) -> String {
    let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    jsonwebtoken::encode(
        &header,
        claims,
        &jsonwebtoken::EncodingKey::from_secret(key),
    )
    .unwrap()
}

fn claims(user_id: &str, exp: serde_json::Value) -> serde_json::Value {
    json!({
        "sub": user_id, "roles": ["admin"], "iat": now_secs() - 10, "exp": exp,
        "jti": UNKNOWN_ID, "iss": "vwmp", "aud": "vwmp-api",
    })
}

/// Returns forged or expired `Authorization` values for `user_id` with a
/// label each; all must be rejected with 401.
fn bad_credentials(
    server: &TestServer,
    user_id: &str,
) -> Vec<(&'static str, String, &'static str)> {
    let key = server.signing_key();
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let unsigned = format!(
        "{}.{}.",
        engine.encode(br#"{"alg":"none","typ":"JWT"}"#),
        engine.encode(claims(user_id, json!(now_secs() + 600)).to_string())
    );
    vec![
        (
            "expired token",
            format!(
                "Bearer {}",
                sign(&claims(user_id, json!(now_secs() - 3600)), &key)
            ),
            "token_expired",
        ),
        (
            "token signed with another key",
            format!(
                "Bearer {}",
                sign(&claims(user_id, json!(now_secs() + 600)), &[7u8; 32])
            ),
            "unauthenticated",
        ),
        ("alg none", format!("Bearer {unsigned}"), "unauthenticated"),
        (
            "exp as a string",
            format!(
                "Bearer {}",
                sign(
                    &claims(user_id, json!((now_secs() + 600).to_string())),
                    &key
                )
            ),
            "unauthenticated",
        ),
        (
            "garbage token",
            "Bearer not.a.token".to_string(),
            "unauthenticated",
        ),
        (
            "basic scheme",
            "Basic YWxpY2U6cGFzc3dvcmQ=".to_string(),
            "unauthenticated",
        ),
        (
            "malformed API key",
            format!("Bearer vwmp_{UNKNOWN_ID}_short"),
            "unauthenticated",
        ),
    ]
}

/// One request of the role table and the status each role gets.
struct Case {
    method: &'static str,
    path: String,
    body: Option<serde_json::Value>,
    /// Expected status for viewer, editor, executor, admin.
    expected: [u16; 4],
}

#[test]
fn role_table_of_routes() {
    let server = TestServer::start();
    let roles = ["viewer", "editor", "executor", "admin"];
    for role in roles {
        server.add_user(&format!("{role}-user"), &[role]);
    }
    let sessions: Vec<_> = roles
        .iter()
        .map(|role| server.login(&format!("{role}-user")))
        .collect();
    let viewer_id = sessions[0].user_id.clone();
    let workflow: serde_json::Value =
        serde_json::from_str(include_str!("../../examples/workflows/hello.json")).unwrap();
    let created = server.send_json(
        "POST",
        "/api/v1/workflows",
        Some(&sessions[3].bearer()),
        &workflow,
    );
    assert_eq!(created.status, 201, "{}", created.body);
    // Owned by the admin: an editor may read it but not change it.
    let workflow_id = created.json()["id"].as_str().unwrap().to_string();

    let cases = vec![
        Case {
            method: "GET",
            path: "/api/v1/workflows".into(),
            body: None,
            expected: [200, 200, 200, 200],
        },
        Case {
            method: "POST",
            path: "/api/v1/workflows".into(),
            body: Some(workflow.clone()),
            expected: [403, 201, 403, 201],
        },
        Case {
            method: "GET",
            path: format!("/api/v1/workflows/{workflow_id}"),
            body: None,
            expected: [200, 200, 200, 200],
        },
        Case {
            method: "PUT",
            path: format!("/api/v1/workflows/{workflow_id}"),
            body: Some(workflow.clone()),
            expected: [403, 403, 403, 200],
        },
        Case {
            method: "DELETE",
            path: format!("/api/v1/workflows/{UNKNOWN_ID}"),
            body: None,
            expected: [403, 404, 403, 404],
        },
        Case {
            method: "POST",
            path: format!("/api/v1/workflows/{workflow_id}/executions"),
            body: Some(json!({"parameters": {"who": "table"}})),
            expected: [403, 403, 202, 202],
        },
        Case {
            method: "GET",
            path: "/api/v1/executions".into(),
            body: None,
            expected: [200, 200, 200, 200],
        },
        Case {
            method: "GET",
            path: format!("/api/v1/executions/{UNKNOWN_ID}"),
            body: None,
            expected: [404, 404, 404, 404],
        },
        Case {
            method: "GET",
            path: format!("/api/v1/executions/{UNKNOWN_ID}/logs"),
            body: None,
            expected: [403, 403, 404, 404],
        },
        Case {
            method: "POST",
            path: format!("/api/v1/executions/{UNKNOWN_ID}/cancel"),
            body: None,
            expected: [403, 403, 404, 404],
        },
        Case {
            method: "GET",
            path: "/api/v1/users".into(),
            body: None,
            expected: [403, 403, 403, 200],
        },
        Case {
            method: "POST",
            path: "/api/v1/users".into(),
            body: Some(
                json!({"username": "made-by-admin", "password": PASSWORD, "roles": ["viewer"]}),
            ),
            expected: [403, 403, 403, 201],
        },
        Case {
            method: "PUT",
            path: format!("/api/v1/users/{viewer_id}/roles"),
            body: Some(json!({"roles": ["viewer"]})),
            expected: [403, 403, 403, 200],
        },
        Case {
            method: "GET",
            path: "/api/v1/audit".into(),
            body: None,
            expected: [403, 403, 403, 200],
        },
        Case {
            method: "GET",
            path: "/api/v1/profiles".into(),
            body: None,
            expected: [403, 403, 403, 200],
        },
        Case {
            method: "GET",
            path: "/api/v1/profiles/default".into(),
            body: None,
            expected: [403, 403, 403, 200],
        },
        Case {
            method: "GET",
            path: "/api/v1/plugins".into(),
            body: None,
            expected: [200, 200, 200, 200],
        },
        Case {
            method: "GET",
            path: "/api/v1/api-keys".into(),
            body: None,
            expected: [200, 200, 200, 200],
        },
        Case {
            method: "POST",
            path: "/api/v1/api-keys".into(),
            body: Some(json!({"name": "table", "roles": ["viewer"]})),
            expected: [201, 201, 201, 201],
        },
        Case {
            method: "DELETE",
            path: format!("/api/v1/api-keys/{UNKNOWN_ID}"),
            body: None,
            expected: [404, 404, 404, 404],
        },
    ];

    let bad = bad_credentials(&server, &sessions[3].user_id);
    for case in &cases {
        let send = |authorization: Option<&str>| match &case.body {
            Some(body) => server.send_json(case.method, &case.path, authorization, body),
            None => server.call(case.method, &case.path, authorization),
        };

        let anonymous = send(None);
        assert_eq!(
            anonymous.status, 401,
            "{} {} without a token",
            case.method, case.path
        );
        assert_eq!(anonymous.code(), "unauthenticated");
        assert_eq!(anonymous.header("www-authenticate"), Some("Bearer"));

        for (label, authorization, code) in &bad {
            let reply = send(Some(authorization));
            assert_eq!(
                reply.status, 401,
                "{} {} with {label}: {}",
                case.method, case.path, reply.body
            );
            assert_eq!(
                &reply.code(),
                code,
                "{} {} with {label}",
                case.method,
                case.path
            );
        }

        for (index, role) in roles.iter().enumerate() {
            let reply = send(Some(&sessions[index].bearer()));
            assert_eq!(
                reply.status, case.expected[index],
                "{} {} as {role}: {}",
                case.method, case.path, reply.body
            );
            if reply.status == 403 {
                assert_eq!(reply.code(), "forbidden");
            }
        }
    }

    // Every 403 above was audited.
    let admin = sessions[3].bearer();
    let denied = server.call(
        "GET",
        "/api/v1/audit?event_type=permission_denied&limit=200",
        Some(&admin),
    );
    let denied_count = denied.json()["items"].as_array().unwrap().len();
    let expected_denials: usize = cases
        .iter()
        .map(|case| {
            case.expected
                .iter()
                .filter(|status| **status == 403)
                .count()
        })
        .sum();
    assert_eq!(denied_count, expected_denials);
}

#[test]
fn users_created_listed_and_changed() {
    let server = TestServer::start();
    server.add_user("root", &["admin"]);
    let admin = server.login("root");
    let bearer = admin.bearer();

    let created = server.send_json(
        "POST",
        "/api/v1/users",
        Some(&bearer),
        &json!({"username": "ivan", "password": PASSWORD, "roles": ["viewer"]}),
    );
    assert_eq!(created.status, 201, "{}", created.body);
    let user = created.json();
    let id = user["id"].as_str().unwrap().to_string();
    assert_eq!(
        created.header("location"),
        Some(format!("/api/v1/users/{id}").as_str())
    );
    assert_eq!(user["roles"], json!(["viewer"]));
    assert_eq!(user["disabled"], false);
    assert!(user["created_at"].as_str().unwrap().ends_with('Z'));
    assert!(user.get("password_hash").is_none());

    let duplicate = server.send_json(
        "POST",
        "/api/v1/users",
        Some(&bearer),
        &json!({"username": "ivan", "password": PASSWORD, "roles": ["viewer"]}),
    );
    assert_eq!(duplicate.status, 409);
    assert_eq!(duplicate.code(), "conflict");

    let short = server.send_json(
        "POST",
        "/api/v1/users",
        Some(&bearer),
        &json!({"username": "judy", "password": "short", "roles": ["viewer"]}),
    );
    assert_eq!(short.status, 400);
    assert_eq!(short.json()["field"], "password");
    assert!(
        !short.body.contains("\"short\""),
        "password echoed: {}",
        short.body
    );

    let bad_role = server.send_json(
        "POST",
        "/api/v1/users",
        Some(&bearer),
        &json!({"username": "judy", "password": PASSWORD, "roles": ["root"]}),
    );
    assert_eq!(bad_role.status, 400);
    assert_eq!(bad_role.json()["field"], "roles[0]");

    let bad_name = server.send_json(
        "POST",
        "/api/v1/users",
        Some(&bearer),
        &json!({"username": "Judy!", "password": PASSWORD, "roles": ["viewer"]}),
    );
    assert_eq!(bad_name.status, 400);
    assert_eq!(bad_name.json()["field"], "username");

    let changed = server.send_json(
        "PUT",
        &format!("/api/v1/users/{id}/roles"),
        Some(&bearer),
        &json!({"roles": ["editor", "executor"]}),
    );
    assert_eq!(changed.status, 200, "{}", changed.body);
    assert_eq!(changed.json()["roles"], json!(["editor", "executor"]));

    let missing = server.send_json(
        "PUT",
        &format!("/api/v1/users/{UNKNOWN_ID}/roles"),
        Some(&bearer),
        &json!({"roles": ["viewer"]}),
    );
    assert_eq!(missing.status, 404);
    let malformed = server.send_json(
        "PUT",
        "/api/v1/users/not-an-id/roles",
        Some(&bearer),
        &json!({"roles": ["viewer"]}),
    );
    assert_eq!(malformed.status, 404);
    assert_eq!(malformed.code(), "not_found");

    let demote_self = server.send_json(
        "PUT",
        &format!("/api/v1/users/{}/roles", admin.user_id),
        Some(&bearer),
        &json!({"roles": ["viewer"]}),
    );
    assert_eq!(demote_self.status, 409);

    let list = server.call("GET", "/api/v1/users?limit=1", Some(&bearer));
    assert_eq!(list.status, 200);
    let page = list.json();
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert_eq!(page["next_offset"], 1);
    let rest = server
        .call("GET", "/api/v1/users?limit=1&offset=1", Some(&bearer))
        .json();
    assert_eq!(rest["next_offset"], serde_json::Value::Null);
    assert_eq!(
        server
            .call("GET", "/api/v1/users?limit=0", Some(&bearer))
            .status,
        400
    );
    assert_eq!(
        server
            .call("GET", "/api/v1/users?limit=201", Some(&bearer))
            .status,
        400
    );
    assert_eq!(
        server
            .call("GET", "/api/v1/users?page=2", Some(&bearer))
            .status,
        400
    );

    let audit = server
        .call(
            "GET",
            "/api/v1/audit?event_type=role_changed",
            Some(&bearer),
        )
        .json();
    let events = audit["items"].as_array().unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["details"]["roles_before"], json!(["viewer"]));
    assert_eq!(
        events[0]["details"]["roles_after"],
        json!(["editor", "executor"])
    );
}

#[test]
fn role_change_applies_to_existing_token() {
    let server = TestServer::start();
    server.add_user("root", &["admin"]);
    server.add_user("mallory", &["admin"]);
    let admin = server.login("root").bearer();
    let other = server.login("mallory");

    assert_eq!(
        server
            .call("GET", "/api/v1/users", Some(&other.bearer()))
            .status,
        200
    );
    let demoted = server.send_json(
        "PUT",
        &format!("/api/v1/users/{}/roles", other.user_id),
        Some(&admin),
        &json!({"roles": ["viewer"]}),
    );
    assert_eq!(demoted.status, 200);
    // The access token still carries admin, but the server checks current roles.
    assert_eq!(
        server
            .call("GET", "/api/v1/users", Some(&other.bearer()))
            .status,
        403
    );
}

#[test]
fn api_keys_lifecycle() {
    let server = TestServer::start();
    server.add_user("root", &["admin"]);
    server.add_user("kim", &["viewer", "executor"]);
    server.add_user("lee", &["viewer"]);
    let kim = server.login("kim").bearer();
    let lee = server.login("lee").bearer();
    let admin = server.login("root").bearer();

    let created = server.send_json(
        "POST",
        "/api/v1/api-keys",
        Some(&kim),
        &json!({"name": "ci runner", "roles": ["viewer"], "expires_in_days": 30}),
    );
    assert_eq!(created.status, 201, "{}", created.body);
    let key = created.json();
    let secret = key["key"].as_str().unwrap().to_string();
    let key_id = key["id"].as_str().unwrap().to_string();
    assert!(secret.starts_with("vwmp_"));
    assert!(secret.starts_with(key["prefix"].as_str().unwrap()));
    assert_eq!(key["roles"], json!(["viewer"]));

    let with_key = format!("Bearer {secret}");
    assert_eq!(
        server
            .call("GET", "/api/v1/plugins", Some(&with_key))
            .status,
        200
    );
    // The key carries viewer only, although its user is also an executor.
    assert_eq!(
        server.call("GET", "/api/v1/users", Some(&with_key)).status,
        403
    );
    // A key cannot mint more keys.
    let minted = server.send_json(
        "POST",
        "/api/v1/api-keys",
        Some(&with_key),
        &json!({"name": "child", "roles": ["viewer"]}),
    );
    assert_eq!(minted.status, 403);

    // Roles must be a subset of the creator's.
    let escalate = server.send_json(
        "POST",
        "/api/v1/api-keys",
        Some(&kim),
        &json!({"name": "too strong", "roles": ["admin"]}),
    );
    assert_eq!(escalate.status, 400, "{}", escalate.body);
    assert_eq!(escalate.json()["field"], "roles[0]");
    for days in [0, 366] {
        let reply = server.send_json(
            "POST",
            "/api/v1/api-keys",
            Some(&kim),
            &json!({"name": "bad expiry", "roles": ["viewer"], "expires_in_days": days}),
        );
        assert_eq!(reply.status, 400, "{days} days");
        assert_eq!(reply.json()["field"], "expires_in_days");
    }

    // Listing shows no key material.
    let list = server.call("GET", "/api/v1/api-keys", Some(&kim));
    assert_eq!(list.status, 200);
    assert!(!list.body.contains(&secret));
    assert_eq!(list.json()["items"].as_array().unwrap().len(), 1);
    assert_eq!(
        server.call("GET", "/api/v1/api-keys", Some(&lee)).json()["items"],
        json!([])
    );

    // Another user cannot see or revoke it; an admin can list it.
    let kim_id = list.json()["items"][0]["user_id"]
        .as_str()
        .unwrap()
        .to_string();
    let peek = server.call(
        "GET",
        &format!("/api/v1/api-keys?user_id={kim_id}"),
        Some(&lee),
    );
    assert_eq!(peek.status, 403);
    let as_admin = server.call(
        "GET",
        &format!("/api/v1/api-keys?user_id={kim_id}"),
        Some(&admin),
    );
    assert_eq!(as_admin.json()["items"].as_array().unwrap().len(), 1);
    let stolen = server.call("DELETE", &format!("/api/v1/api-keys/{key_id}"), Some(&lee));
    assert_eq!(stolen.status, 404);
    assert_eq!(
        server
            .call("GET", "/api/v1/plugins", Some(&with_key))
            .status,
        200
    );

    let revoked = server.call("DELETE", &format!("/api/v1/api-keys/{key_id}"), Some(&kim));
    assert_eq!(revoked.status, 204, "{}", revoked.body);
    let after = server.call("GET", "/api/v1/plugins", Some(&with_key));
    assert_eq!(after.status, 401);
    assert_eq!(after.code(), "unauthenticated");

    let audit = server
        .call(
            "GET",
            "/api/v1/audit?event_type=api_key_revoked",
            Some(&admin),
        )
        .json();
    assert_eq!(audit["items"].as_array().unwrap().len(), 1);
    assert!(
        !server.audit_file().contains(&secret),
        "API key in the audit file"
    );
    assert!(!server.stderr().contains(&secret), "API key in the log");
}

#[test]
fn audit_filters_applied() {
    let server = TestServer::start();
    server.add_user("root", &["admin"]);
    server.add_user("nina", &["viewer"]);
    let admin = server.login("root");
    let nina = server.login("nina");
    let bearer = admin.bearer();

    let by_user = server.call(
        "GET",
        &format!(
            "/api/v1/audit?user_id={}&event_type=login_succeeded",
            nina.user_id
        ),
        Some(&bearer),
    );
    assert_eq!(by_user.status, 200, "{}", by_user.body);
    let items = by_user.json()["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["user_id"].as_str(), Some(nina.user_id.as_str()));
    assert!(items[0]["timestamp"].as_str().unwrap().ends_with('Z'));

    let future = server.call(
        "GET",
        "/api/v1/audit?from=2999-01-01T00:00:00Z",
        Some(&bearer),
    );
    assert_eq!(future.json()["items"], json!([]));
    let past = server.call(
        "GET",
        "/api/v1/audit?to=2000-01-01T00:00:00Z",
        Some(&bearer),
    );
    assert_eq!(past.json()["items"], json!([]));
    let all = server.call(
        "GET",
        "/api/v1/audit?from=2000-01-01T00:00:00Z",
        Some(&bearer),
    );
    assert!(all.json()["items"].as_array().unwrap().len() >= 2);

    for (query, field) in [
        ("from=yesterday", "from"),
        ("to=2026-13-01T00:00:00Z", "to"),
        ("user_id=nope", "user_id"),
        ("event_type=made_up", "event_type"),
    ] {
        let reply = server.call("GET", &format!("/api/v1/audit?{query}"), Some(&bearer));
        assert_eq!(reply.status, 400, "{query}");
        assert_eq!(reply.json()["field"], field, "{query}");
    }
}

#[test]
fn profiles_and_plugins_listed() {
    let server = TestServer::start();
    server.add_user("root", &["admin"]);
    let bearer = server.login("root").bearer();

    let profiles = server.call("GET", "/api/v1/profiles", Some(&bearer)).json();
    let items = profiles["items"].as_array().unwrap();
    let strict = items
        .iter()
        .find(|item| item["name"] == "strict")
        .expect("strict profile");
    assert_eq!(strict["extends"], "default");
    assert!(strict["hash"].as_str().unwrap().starts_with("sha256:"));

    let one = server.call("GET", "/api/v1/profiles/strict", Some(&bearer));
    assert_eq!(one.status, 200);
    assert_eq!(one.json()["hash"], strict["hash"]);
    assert_eq!(
        server
            .call("GET", "/api/v1/profiles/missing", Some(&bearer))
            .status,
        404
    );
    assert_eq!(
        server
            .call("GET", "/api/v1/profiles/..%2Fetc", Some(&bearer))
            .status,
        404
    );

    let plugins = server.call("GET", "/api/v1/plugins", Some(&bearer)).json();
    let items = plugins["items"].as_array().unwrap();
    assert!(!items.is_empty());
    for plugin in items {
        for field in [
            "name",
            "version",
            "description",
            "profile",
            "status",
            "handlers",
        ] {
            assert!(plugin.get(field).is_some(), "{field} missing in {plugin}");
        }
    }
}

#[test]
fn body_limits_and_media_type() {
    let server = TestServer::start();
    server.add_user("root", &["admin"]);
    let bearer = server.login("root").bearer();

    // Declared length over the 4 KiB limit.
    let large = json!({"username": "x".repeat(5000), "password": PASSWORD, "roles": ["viewer"]});
    let reply = server.send_json("POST", "/api/v1/users", Some(&bearer), &large);
    assert_eq!(reply.status, 413, "{}", reply.body);
    assert_eq!(reply.code(), "body_too_large");

    // A chunked body without Content-Length is read up to the limit: 413
    // when larger, accepted when smaller, never 411.
    let host = server.base().trim_start_matches("http://").to_string();
    let chunked = |payload: &str| {
        format!(
            "POST /api/v1/users HTTP/1.1\r\nHost: {host}\r\nAuthorization: {bearer}\r\n\
             Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\
             Connection: close\r\n\r\n{:x}\r\n{payload}\r\n0\r\n\r\n",
            payload.len()
        )
    };
    let big = large.to_string();
    let (status, text) = raw_request(server.base(), chunked(&big).as_bytes());
    assert_eq!(status, 413, "{text}");
    let small =
        json!({"username": "chunky", "password": PASSWORD, "roles": ["viewer"]}).to_string();
    let (status, text) = raw_request(server.base(), chunked(&small).as_bytes());
    assert_eq!(status, 201, "{text}");

    let plain = server.request(
        "POST",
        "/api/v1/users",
        &[
            ("authorization", bearer.as_str()),
            ("content-type", "text/plain"),
        ],
        Some("{}"),
    );
    assert_eq!(plain.status, 415);

    let broken = server.request(
        "POST",
        "/api/v1/users",
        &[
            ("authorization", bearer.as_str()),
            ("content-type", "application/json"),
        ],
        Some("{\"username\": "),
    );
    assert_eq!(broken.status, 400);
    assert_eq!(broken.code(), "invalid_body");
    assert!(broken.json().get("field").is_none());
}

#[test]
fn health_metrics_and_openapi() {
    let server = TestServer::start();
    assert_eq!(
        server.call("GET", "/healthz", None).json(),
        json!({"status": "ok"})
    );
    assert_eq!(
        server.call("GET", "/readyz", None).json(),
        json!({"status": "ready"})
    );

    let missing = server.call("GET", "/api/v1/nothing-here", None);
    assert_eq!(missing.status, 404);
    assert_eq!(missing.code(), "not_found");
    let wrong_method = server.call("DELETE", "/api/v1/users", None);
    assert_eq!(wrong_method.status, 405);
    assert_eq!(wrong_method.code(), "method_not_allowed");

    let metrics = server.call("GET", "/metrics", None);
    assert_eq!(metrics.status, 200);
    assert!(metrics
        .header("content-type")
        .unwrap()
        .starts_with("text/plain"));
    assert!(metrics
        .body
        .contains("vwmp_http_requests_total{route=\"/healthz\",status=\"200\"} 1"));
    assert!(metrics.body.contains("route=\"unmatched\",status=\"404\""));
    assert!(metrics.body.contains("route=\"unmatched\",status=\"405\""));

    let document = server.call("GET", "/api/v1/openapi.json", None);
    assert_eq!(document.status, 200);
    let file = std::fs::read_to_string(common::repo_root().join("docs/openapi.json")).unwrap();
    assert_eq!(document.body, file);
}

#[test]
fn user_add_generates_password() {
    let server = TestServer::start();
    let output = std::process::Command::new(vwmp_binary())
        .args(["user", "add", "olga", "--role", "viewer", "--config"])
        .arg(server.config())
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let password = stdout
        .lines()
        .find_map(|line| line.strip_prefix("generated password (shown only now): "))
        .expect("generated password line");
    assert!(password.len() >= 20);
    assert_eq!(server.try_login("olga", password).status, 200);

    let duplicate = std::process::Command::new(vwmp_binary())
        .args(["user", "add", "olga", "--role", "viewer", "--config"])
        .arg(server.config())
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(duplicate.status.code(), Some(1));

    let bad_role = std::process::Command::new(vwmp_binary())
        .args(["user", "add", "pat", "--role", "root", "--config"])
        .arg(server.config())
        .output()
        .unwrap();
    assert_eq!(bad_role.status.code(), Some(2));
}

#[test]
fn config_check_prints_or_fails() {
    let server = TestServer::start();
    let output = std::process::Command::new(vwmp_binary())
        .args(["config", "check"])
        .arg(server.config())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("[server]"), "{stdout}");
    assert!(stdout.contains("max_body_bytes = \"4KiB\""), "{stdout}");

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[server]\nlisten = \"not an address\"\n").unwrap();
    let output = std::process::Command::new(vwmp_binary())
        .args(["config", "check"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("server.listen"));
}

#[test]
fn state_files_are_private() {
    use std::os::unix::fs::PermissionsExt;

    let server = TestServer::start();
    let mode = |path: std::path::PathBuf| {
        std::fs::metadata(&path)
            .unwrap_or_else(|error| panic!("{}: {error}", path.display()))
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode(server.state_dir()), 0o700);
    assert_eq!(mode(server.state_dir().join("vwmp.db")), 0o600);
    assert_eq!(mode(server.state_dir().join("jwt-signing.key")), 0o600);
}
