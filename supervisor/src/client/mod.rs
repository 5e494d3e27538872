//! A small HTTP/1.1 client for the VWMP API, used by `vwmp demo` and the
//! API benchmark.
//!
//! It speaks plain HTTP (the server has no built-in TLS), sends and reads
//! JSON, limits every response body to [`MAX_RESPONSE_BYTES`] and every
//! request to [`REQUEST_TIMEOUT`], and turns problem documents (RFC 9457)
//! into [`ClientError::Status`] with the server's `code` and `detail`.
//! Neither the token nor a request body ever appears in an error.
//!
//! Layout:
//! - `mod.rs`: [`ApiClient`] and [`ClientError`].
//! - `types.rs`: the response bodies the callers read.

mod types;

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde::de::DeserializeOwned;
use serde::Serialize;
use warp::http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, LOCATION};
use warp::http::{Method, Request, StatusCode};

pub use types::{
    ExecutionDetail, ExecutionStarted, LogLine, LogPage, LoginResponse, StepDetail, WorkflowRecord,
};

use crate::api::API_BASE;

/// Largest response body read, in bytes (16 MiB). The largest responses are
/// a workflow definition, which the server's body limit keeps at 1 MiB by
/// default and 64 MiB at most, and a page of at most 200 log lines.
/// NOTE: a workflow stored under a body limit above 16 MiB cannot be read
/// back through this client.
pub const MAX_RESPONSE_BYTES: usize = 16 << 20;

/// Time that one request may take from sending to the last body byte.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Characters of a non-JSON error body kept in [`ClientError::Status`].
const MAX_ERROR_TEXT_CHARS: usize = 200;

/// Errors of [`ApiClient`]. Each names the method and path of the request.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{method} {path} failed: {reason}; check that the server is running at {address}")]
    Send {
        method: Method,
        path: String,
        address: SocketAddr,
        reason: String,
    },
    #[error("{method} {path} timed out after {} s", REQUEST_TIMEOUT.as_secs())]
    Timeout { method: Method, path: String },
    #[error("{method} {path}: failed to read the response body: {reason}")]
    ReadBody {
        method: Method,
        path: String,
        reason: String,
    },
    #[error("{method} {path} returned {status}: {message}")]
    Status {
        method: Method,
        path: String,
        status: StatusCode,
        /// The problem's `code`, such as `validation_failed`, when the body
        /// was a problem document.
        code: Option<String>,
        /// The problem's `detail` (and `field`), or the start of the body.
        message: String,
    },
    #[error("{method} {path}: the response is not the expected JSON: {reason}")]
    Decode {
        method: Method,
        path: String,
        reason: String,
    },
    #[error("invalid request path {path}: {reason}")]
    InvalidPath { path: String, reason: String },
    #[error("failed to encode the request body of {method} {path}: {reason}")]
    Encode {
        method: Method,
        path: String,
        reason: String,
    },
}

impl ClientError {
    /// Returns the HTTP status of an error response.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            ClientError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// A response that passed the status check: its body and `Location` header.
#[derive(Debug)]
pub struct RawResponse {
    pub status: StatusCode,
    pub location: Option<String>,
    pub body: Bytes,
}

/// A client bound to one server address, optionally with a bearer token.
/// Cloning is cheap and shares the connection pool.
#[derive(Clone)]
pub struct ApiClient {
    http: Client<HttpConnector, Full<Bytes>>,
    address: SocketAddr,
    token: Option<String>,
}

impl std::fmt::Debug for ApiClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiClient")
            .field("address", &self.address)
            .field("authenticated", &self.token.is_some())
            .finish_non_exhaustive()
    }
}

impl ApiClient {
    /// Creates a client for the server at `address` without a token.
    ///
    /// Connections are not kept idle between requests. A kept connection
    /// outlives the client for a moment, and a server that shuts down in
    /// that moment logs it as an error. A new loopback connection per
    /// request costs little at the demo's few requests per second.
    pub fn new(address: SocketAddr) -> ApiClient {
        let http = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(0)
            .build_http();
        ApiClient {
            http,
            address,
            token: None,
        }
    }

    /// Returns the server address.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Sets the bearer token (a JWT access token or an API key) sent with
    /// every later request.
    pub fn set_token(&mut self, token: impl Into<String>) {
        self.token = Some(token.into());
    }

    /// Logs in with `POST /auth/login` and keeps the access token.
    pub async fn login(
        &mut self,
        username: &str,
        password: &str,
    ) -> Result<LoginResponse, ClientError> {
        #[derive(Serialize)]
        struct Credentials<'a> {
            username: &'a str,
            password: &'a str,
        }
        let response: LoginResponse = self
            .post_json("/auth/login", &Credentials { username, password })
            .await?;
        self.token = Some(response.access_token.clone());
        Ok(response)
    }

    /// Sends `GET {API_BASE}{path}` and decodes the JSON response.
    pub async fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        let response = self.send(Method::GET, path, None).await?;
        decode(Method::GET, path, &response.body)
    }

    /// Sends `POST {API_BASE}{path}` with `body` as JSON and decodes the
    /// JSON response.
    pub async fn post_json<B, T>(&self, path: &str, body: &B) -> Result<T, ClientError>
    where
        B: Serialize + ?Sized,
        T: DeserializeOwned,
    {
        let response = self.send_json(Method::POST, path, body).await?;
        decode(Method::POST, path, &response.body)
    }

    /// Sends `method {API_BASE}{path}` with `body` as JSON and returns the
    /// raw response, for callers that need the status or `Location`.
    pub async fn send_json<B>(
        &self,
        method: Method,
        path: &str,
        body: &B,
    ) -> Result<RawResponse, ClientError>
    where
        B: Serialize + ?Sized,
    {
        let bytes = serde_json::to_vec(body).map_err(|error| ClientError::Encode {
            method: method.clone(),
            path: path.to_string(),
            reason: error.to_string(),
        })?;
        self.send(method, path, Some(Bytes::from(bytes))).await
    }

    /// Sends one request under [`API_BASE`] and returns the response when its
    /// status is 2xx.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Bytes>,
    ) -> Result<RawResponse, ClientError> {
        let uri = format!("http://{}{API_BASE}{path}", self.address);
        let mut builder = Request::builder()
            .method(method.clone())
            .uri(&uri)
            .header(ACCEPT, "application/json");
        if body.is_some() {
            builder = builder.header(CONTENT_TYPE, "application/json");
        }
        if let Some(token) = &self.token {
            builder = builder.header(AUTHORIZATION, format!("Bearer {token}"));
        }
        let request = builder
            .body(Full::new(body.unwrap_or_default()))
            .map_err(|error| ClientError::InvalidPath {
                path: path.to_string(),
                reason: error.to_string(),
            })?;

        let exchange = async {
            let response = self
                .http
                .request(request)
                .await
                .map_err(|error| ClientError::Send {
                    method: method.clone(),
                    path: path.to_string(),
                    address: self.address,
                    reason: error_chain(&error),
                })?;
            let status = response.status();
            let location = response
                .headers()
                .get(LOCATION)
                .and_then(|value| value.to_str().ok())
                .map(str::to_string);
            let body = Limited::new(response.into_body(), MAX_RESPONSE_BYTES)
                .collect()
                .await
                .map_err(|error| ClientError::ReadBody {
                    method: method.clone(),
                    path: path.to_string(),
                    reason: error.to_string(),
                })?
                .to_bytes();
            Ok(RawResponse {
                status,
                location,
                body,
            })
        };
        let response = tokio::time::timeout(REQUEST_TIMEOUT, exchange)
            .await
            .map_err(|_| ClientError::Timeout {
                method: method.clone(),
                path: path.to_string(),
            })??;

        if !response.status.is_success() {
            let (code, message) = problem_message(&response.body);
            return Err(ClientError::Status {
                method,
                path: path.to_string(),
                status: response.status,
                code,
                message,
            });
        }
        Ok(response)
    }
}

/// Decodes a JSON response body.
fn decode<T: DeserializeOwned>(method: Method, path: &str, body: &[u8]) -> Result<T, ClientError> {
    serde_json::from_slice(body).map_err(|error| ClientError::Decode {
        method,
        path: path.to_string(),
        reason: error.to_string(),
    })
}

/// Returns the `code` and a readable message of an error body: the problem
/// document's `detail` and `field`, or the start of a body that is not one.
fn problem_message(body: &[u8]) -> (Option<String>, String) {
    let Ok(problem) = serde_json::from_slice::<serde_json::Value>(body) else {
        let text: String = String::from_utf8_lossy(body)
            .chars()
            .take(MAX_ERROR_TEXT_CHARS)
            .collect();
        let text = if text.trim().is_empty() {
            "empty body".to_string()
        } else {
            text
        };
        return (None, text);
    };
    let field = |name: &str| problem.get(name).and_then(|value| value.as_str());
    let code = field("code").map(str::to_string);
    let mut message = field("detail")
        .or_else(|| field("title"))
        .unwrap_or("no detail given")
        .to_string();
    if let Some(name) = field("field") {
        message.push_str(&format!(" (field {name})"));
    }
    if let Some(errors) = problem.get("errors").and_then(|value| value.as_array()) {
        for error in errors {
            let name = error.get("field").and_then(|v| v.as_str()).unwrap_or("-");
            let detail = error.get("detail").and_then(|v| v.as_str()).unwrap_or("");
            message.push_str(&format!("; {name}: {detail}"));
        }
    }
    (code, message)
}

/// Formats an error with its sources, because hyper-util's client error
/// alone says only "client error (Connect)".
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problem_detail_and_field() {
        let body = br#"{"type":"urn:vwmp:problem:validation_failed","title":"Invalid",
            "status":400,"code":"validation_failed","detail":"must be a UUID","field":"id"}"#;
        let (code, message) = problem_message(body);
        assert_eq!(code.as_deref(), Some("validation_failed"));
        assert_eq!(message, "must be a UUID (field id)");
    }

    #[test]
    fn problem_error_list() {
        let body = br#"{"code":"validation_failed","detail":"2 errors",
            "errors":[{"field":"steps[0].id","detail":"empty"},{"field":"name","detail":"too long"}]}"#;
        let (_, message) = problem_message(body);
        assert_eq!(message, "2 errors; steps[0].id: empty; name: too long");
    }

    #[test]
    fn non_json_error_body_shortened() {
        let body = "x".repeat(1000);
        let (code, message) = problem_message(body.as_bytes());
        assert_eq!(code, None);
        assert_eq!(message.chars().count(), MAX_ERROR_TEXT_CHARS);
    }

    #[test]
    fn empty_error_body_named() {
        let (_, message) = problem_message(b"");
        assert_eq!(message, "empty body");
    }

    #[tokio::test]
    async fn connection_refused_names_address() {
        // Bind and drop a listener so the port is very likely closed.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        drop(listener);
        let client = ApiClient::new(address);
        let error = client
            .get_json::<serde_json::Value>("/workflows")
            .await
            .unwrap_err();
        let text = error.to_string();
        assert!(text.contains("GET /workflows failed"), "{text}");
        assert!(text.contains(&address.to_string()), "{text}");
    }

    #[tokio::test]
    async fn token_sent_and_problem_decoded() {
        use warp::Filter;

        // A real warp server that returns 401 unless the request carries the expected token.
        let route = warp::path!("api" / "v1" / "workflows")
            .and(warp::header::optional::<String>("authorization"))
            .map(|auth: Option<String>| {
                if auth.as_deref() == Some("Bearer vwmp_test") {
                    warp::reply::with_status(
                        warp::reply::json(&serde_json::json!({"items": [], "next_offset": null})),
                        StatusCode::OK,
                    )
                } else {
                    warp::reply::with_status(
                        warp::reply::json(&serde_json::json!({
                            "code": "unauthenticated", "detail": "send a bearer token"
                        })),
                        StatusCode::UNAUTHORIZED,
                    )
                }
            });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let server = tokio::spawn(warp::serve(route).incoming(listener).run());

        let mut client = ApiClient::new(address);
        let error = client
            .get_json::<serde_json::Value>("/workflows")
            .await
            .unwrap_err();
        assert_eq!(error.status(), Some(StatusCode::UNAUTHORIZED));
        assert!(error.to_string().contains("send a bearer token"), "{error}");

        client.set_token("vwmp_test");
        let page: serde_json::Value = client.get_json("/workflows").await.unwrap();
        assert_eq!(page["items"], serde_json::json!([]));
        assert!(!format!("{client:?}").contains("vwmp_test"));
        server.abort();
    }
}
