//! Login, refresh rotation and reuse, CSRF and Origin checks, logout and
//! throttling against a real `vwmp serve` on 127.0.0.1.

mod common;

use common::server::{session_from, TestServer, ORIGIN, PASSWORD};

fn audit_events(server: &TestServer, admin: &str, event_type: &str) -> Vec<serde_json::Value> {
    let reply = server.call(
        "GET",
        &format!("/api/v1/audit?event_type={event_type}&limit=200"),
        Some(admin),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[test]
fn login_returns_token_and_cookies() {
    let server = TestServer::start();
    server.add_user("alice", &["viewer", "editor"]);

    let reply = server.try_login("alice", PASSWORD);
    assert_eq!(reply.status, 200, "{}", reply.body);
    let body = reply.json();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert_eq!(body["user"]["username"], "alice");
    assert_eq!(
        body["user"]["roles"],
        serde_json::json!(["viewer", "editor"])
    );
    assert_eq!(reply.header("cache-control"), Some("no-store"));

    let cookies = reply.set_cookies();
    let refresh = cookies
        .iter()
        .find(|cookie| cookie.starts_with("__Secure-vwmp_refresh="))
        .expect("refresh cookie");
    for attribute in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/api/v1/auth"] {
        assert!(refresh.contains(attribute), "{refresh} lacks {attribute}");
    }
    let csrf = cookies
        .iter()
        .find(|cookie| cookie.starts_with("__Host-vwmp_csrf="))
        .expect("CSRF cookie");
    assert!(csrf.contains("Path=/"), "{csrf}");
    assert!(
        !csrf.contains("HttpOnly"),
        "scripts must read the CSRF cookie: {csrf}"
    );

    // The access token works on an authenticated route.
    let session = session_from(&reply);
    let plugins = server.call("GET", "/api/v1/plugins", Some(&session.bearer()));
    assert_eq!(plugins.status, 200, "{}", plugins.body);
}

#[test]
fn wrong_password_rejected_and_audited() {
    let server = TestServer::start();
    server.add_user("root", &["admin"]);
    server.add_user("bob", &["viewer"]);

    let reply = server.try_login("bob", "not-the-password-at-all");
    assert_eq!(reply.status, 401);
    assert_eq!(reply.code(), "invalid_credentials");
    assert_eq!(
        reply.header("content-type"),
        Some("application/problem+json")
    );
    assert!(reply.set_cookies().is_empty(), "a failed login set cookies");

    let unknown = server.try_login("nobody-here", PASSWORD);
    assert_eq!(unknown.status, 401);
    assert_eq!(unknown.code(), "invalid_credentials");
    assert_eq!(unknown.json()["detail"], reply.json()["detail"]);

    let admin = server.login("root").bearer();
    let failures = audit_events(&server, &admin, "login_failed");
    assert_eq!(failures.len(), 2, "{failures:?}");
    assert!(failures.iter().all(|event| event["outcome"] == "failure"));
    assert!(failures
        .iter()
        .all(|event| event["ip_address"] == "127.0.0.1"));
    let text = serde_json::to_string(&failures).unwrap();
    assert!(
        !text.contains("not-the-password-at-all"),
        "password in audit: {text}"
    );
    assert!(!server.audit_file().contains("not-the-password-at-all"));
    assert!(!server.stderr().contains("not-the-password-at-all"));
}

#[test]
fn repeated_failures_lock_account() {
    let server = TestServer::start();
    server.add_user("root", &["admin"]);
    server.add_user("carol", &["viewer"]);
    let admin = server.login("root").bearer();

    for attempt in 1..=5 {
        let reply = server.try_login("carol", "wrong-password-guess");
        assert_eq!(reply.status, 401, "attempt {attempt}: {}", reply.body);
    }
    // Locked: even the right password is refused, before hashing.
    let locked = server.try_login("carol", PASSWORD);
    assert_eq!(locked.status, 429, "{}", locked.body);
    assert_eq!(locked.code(), "too_many_attempts");
    let retry_after: u64 = locked
        .header("retry-after")
        .expect("Retry-After header")
        .parse()
        .expect("Retry-After is seconds");
    assert!(retry_after > 0, "{retry_after}");
    assert!(retry_after <= 15 * 60, "{retry_after}");

    // Another account from the same address is not locked yet.
    assert_eq!(server.try_login("root", PASSWORD).status, 200);

    let locks = audit_events(&server, &admin, "account_locked");
    assert_eq!(locks.len(), 1, "{locks:?}");
    assert_eq!(locks[0]["details"]["locked"], "account");
}

#[test]
fn refresh_rotates_and_detects_reuse() {
    let server = TestServer::start();
    server.add_user("root", &["admin"]);
    server.add_user("dave", &["viewer"]);
    let first = server.login("dave");

    let rotated = server.cookie_post("refresh", &first);
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    let second = session_from(&rotated);
    assert_ne!(second.refresh, first.refresh, "refresh token not rotated");
    assert_ne!(second.csrf, first.csrf, "CSRF token not renewed");
    assert_eq!(second.user_id, first.user_id);
    let works = server.call("GET", "/api/v1/plugins", Some(&second.bearer()));
    assert_eq!(works.status, 200);

    // Presenting the rotated token again is reuse: the family is revoked.
    let reused = server.cookie_post("refresh", &first);
    assert_eq!(reused.status, 401, "{}", reused.body);
    assert_eq!(reused.code(), "refresh_reused");
    let cleared = reused
        .cookie("__Secure-vwmp_refresh")
        .expect("cookie cleared");
    assert!(cleared.is_empty());

    // The newest token of the family no longer works either.
    let after = server.cookie_post("refresh", &second);
    assert_eq!(after.status, 401, "{}", after.body);
    assert_eq!(after.code(), "unauthenticated", "{}", after.body);

    let admin = server.login("root").bearer();
    let reuse = audit_events(&server, &admin, "refresh_token_reused");
    assert_eq!(reuse.len(), 1, "{reuse:?}");
    assert_eq!(reuse[0]["user_id"].as_str(), Some(first.user_id.as_str()));
    assert_eq!(reuse[0]["level"], "error");
    assert_eq!(audit_events(&server, &admin, "token_refreshed").len(), 1);
}

#[test]
fn refresh_requires_csrf_header() {
    let server = TestServer::start();
    server.add_user("erin", &["viewer"]);
    let session = server.login("erin");
    let cookie = session.cookie_header();

    let missing = server.request(
        "POST",
        "/api/v1/auth/refresh",
        &[("cookie", cookie.as_str()), ("origin", ORIGIN)],
        None,
    );
    assert_eq!(missing.status, 403, "{}", missing.body);
    assert_eq!(missing.code(), "csrf_failed");

    let wrong = server.request(
        "POST",
        "/api/v1/auth/refresh",
        &[
            ("cookie", cookie.as_str()),
            ("origin", ORIGIN),
            (
                "x-csrf-token",
                "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            ),
        ],
        None,
    );
    assert_eq!(wrong.status, 403, "{}", wrong.body);
    assert_eq!(wrong.code(), "csrf_failed");

    // The session survives failed attempts.
    assert_eq!(server.cookie_post("refresh", &session).status, 200);
}

#[test]
fn refresh_requires_allowed_origin() {
    let server = TestServer::start();
    server.add_user("frank", &["viewer"]);
    let session = server.login("frank");
    let cookie = session.cookie_header();

    for origin in [Some("https://evil.test"), Some("null"), None] {
        let mut headers = vec![
            ("cookie", cookie.as_str()),
            ("x-csrf-token", session.csrf.as_str()),
        ];
        if let Some(origin) = origin {
            headers.push(("origin", origin));
        }
        let reply = server.request("POST", "/api/v1/auth/refresh", &headers, None);
        assert_eq!(reply.status, 403, "origin {origin:?}: {}", reply.body);
        assert_eq!(reply.code(), "origin_not_allowed", "origin {origin:?}");
    }
    assert_eq!(server.cookie_post("refresh", &session).status, 200);
}

#[test]
fn logout_ends_session() {
    let server = TestServer::start();
    server.add_user("root", &["admin"]);
    server.add_user("grace", &["viewer"]);
    let session = server.login("grace");

    let reply = server.cookie_post("logout", &session);
    assert_eq!(reply.status, 204, "{}", reply.body);
    for name in ["__Secure-vwmp_refresh", "__Host-vwmp_csrf"] {
        let cookie = reply
            .set_cookies()
            .into_iter()
            .find(|cookie| cookie.starts_with(&format!("{name}=;")))
            .unwrap_or_else(|| panic!("{name} not cleared: {:?}", reply.set_cookies()));
        assert!(cookie.contains("Max-Age=0"), "{cookie}");
    }

    let refresh = server.cookie_post("refresh", &session);
    assert_eq!(refresh.status, 401, "{}", refresh.body);

    let admin = server.login("root").bearer();
    let logouts = audit_events(&server, &admin, "logout");
    assert_eq!(logouts.len(), 1);
    assert_eq!(
        logouts[0]["user_id"].as_str(),
        Some(session.user_id.as_str())
    );
}

#[test]
fn logout_requires_csrf() {
    let server = TestServer::start();
    server.add_user("heidi", &["viewer"]);
    let session = server.login("heidi");
    let cookie = session.cookie_header();
    let reply = server.request(
        "POST",
        "/api/v1/auth/logout",
        &[("cookie", cookie.as_str()), ("origin", ORIGIN)],
        None,
    );
    assert_eq!(reply.status, 403);
    assert_eq!(reply.code(), "csrf_failed");
    // The session is still alive.
    assert_eq!(server.cookie_post("refresh", &session).status, 200);
}

#[test]
fn login_body_checked() {
    let server = TestServer::start();
    let extra = server.send_json(
        "POST",
        "/api/v1/auth/login",
        None,
        &serde_json::json!({"username": "a", "password": "b", "remember": true}),
    );
    assert_eq!(extra.status, 400);
    assert_eq!(extra.code(), "unknown_field");
    assert_eq!(extra.json()["field"], "remember");

    let text = server.request(
        "POST",
        "/api/v1/auth/login",
        &[("content-type", "text/plain")],
        Some("username=a"),
    );
    assert_eq!(text.status, 415);
    assert_eq!(text.code(), "unsupported_media_type");
}

#[test]
fn sigterm_stops_server_cleanly() {
    let server = TestServer::start();
    assert_eq!(server.call("GET", "/readyz", None).status, 200);
    let status = server.stop();
    assert!(status.success(), "vwmp serve exited with {status:?}");
}

#[test]
fn configured_lifetimes_applied() {
    let server =
        TestServer::start_with("\n[auth]\naccess_token_ttl = \"2m\"\nrefresh_token_ttl = \"2h\"\n");
    server.add_user("ivy", &["viewer"]);
    let reply = server.try_login("ivy", PASSWORD);
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.json()["expires_in"], 120);

    let max_age = |reply: &common::server::Reply| -> u64 {
        let cookie = reply
            .set_cookies()
            .into_iter()
            .find(|cookie| cookie.starts_with("__Secure-vwmp_refresh="))
            .expect("refresh cookie")
            .to_string();
        cookie
            .split("; ")
            .find_map(|attribute| attribute.strip_prefix("Max-Age="))
            .expect("Max-Age")
            .parse()
            .expect("Max-Age is seconds")
    };
    let first = max_age(&reply);
    assert!(first > 7100, "{first}");
    assert!(first <= 7200, "{first}");

    // A refresh keeps the family's expiry instead of starting a new one.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let refreshed = server.cookie_post("refresh", &session_from(&reply));
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);
    assert!(max_age(&refreshed) < first, "refresh extended the session");
}

#[test]
fn systemd_notified_of_ready_and_stopping() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notify.sock");
    let receiver = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
    receiver
        .set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    let socket = path.to_str().unwrap().to_string();
    let server = TestServer::start_with_env("", &[("NOTIFY_SOCKET", &socket)]);

    let mut buffer = [0u8; 256];
    let length = receiver.recv(&mut buffer).expect("READY notification");
    let ready = String::from_utf8_lossy(&buffer[..length]).into_owned();
    assert!(ready.starts_with("READY=1\n"), "{ready}");
    assert!(ready.contains("STATUS=listening on 127.0.0.1:"), "{ready}");

    assert!(server.stop().success());
    let length = receiver.recv(&mut buffer).expect("STOPPING notification");
    assert_eq!(&buffer[..length], b"STOPPING=1");
}

#[test]
fn sighup_reopens_audit_file() {
    let server = TestServer::start();
    assert_eq!(server.try_login("ghost", "wrong-password-here").status, 401);
    let rotated = server.audit_path().with_extension("log.1");
    std::fs::rename(server.audit_path(), &rotated).unwrap();
    assert!(std::fs::read_to_string(&rotated)
        .unwrap()
        .contains("login_failed"));

    server.signal(libc::SIGHUP);
    // The signal is handled asynchronously; retry until the new file exists.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !server.audit_path().exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "audit file not reopened"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(server.try_login("ghost", "wrong-password-here").status, 401);
    let reopened = std::fs::read_to_string(server.audit_path()).unwrap();
    assert_eq!(reopened.matches("login_failed").count(), 1, "{reopened}");
    assert_eq!(server.call("GET", "/healthz", None).status, 200);
}
