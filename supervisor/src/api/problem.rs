//! RFC 9457 problem documents: the body of every error response.
//!
//! A [`Problem`] carries a stable `code` (also the last part of its `type`
//! URN), a fixed title per code, a detail sentence for the client, and
//! optionally the one field that failed or a list of failed fields. It is
//! both a warp rejection (handlers and filters return it with `?`) and a
//! reply. Nothing internal (paths, SQL, source errors) goes into a problem;
//! callers log such detail with `tracing` before building the problem.

use serde::Serialize;
use warp::http::header::{HeaderValue, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use warp::http::StatusCode;
use warp::reply::Response;

use crate::store::StoreError;

/// Media type of problem documents.
pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";

/// Prefix of the `type` URN of every problem.
pub const PROBLEM_TYPE_PREFIX: &str = "urn:vwmp:problem:";

/// Maximum number of entries in `errors`, so a body with thousands of bad
/// fields does not produce a response of the same size.
pub const MAX_FIELD_ERRORS: usize = 100;

/// Stable problem codes of the API contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProblemCode {
    InvalidBody,
    UnknownField,
    ValidationFailed,
    UnsupportedMediaType,
    BodyTooLarge,
    Unauthenticated,
    TokenExpired,
    InvalidCredentials,
    Forbidden,
    NotFound,
    Conflict,
    TooManyAttempts,
    CsrfFailed,
    OriginNotAllowed,
    RefreshReused,
    MethodNotAllowed,
    Internal,
    NotReady,
}

impl ProblemCode {
    /// Returns the snake_case code used in `code` and in the `type` URN.
    pub fn as_str(self) -> &'static str {
        match self {
            ProblemCode::InvalidBody => "invalid_body",
            ProblemCode::UnknownField => "unknown_field",
            ProblemCode::ValidationFailed => "validation_failed",
            ProblemCode::UnsupportedMediaType => "unsupported_media_type",
            ProblemCode::BodyTooLarge => "body_too_large",
            ProblemCode::Unauthenticated => "unauthenticated",
            ProblemCode::TokenExpired => "token_expired",
            ProblemCode::InvalidCredentials => "invalid_credentials",
            ProblemCode::Forbidden => "forbidden",
            ProblemCode::NotFound => "not_found",
            ProblemCode::Conflict => "conflict",
            ProblemCode::TooManyAttempts => "too_many_attempts",
            ProblemCode::CsrfFailed => "csrf_failed",
            ProblemCode::OriginNotAllowed => "origin_not_allowed",
            ProblemCode::RefreshReused => "refresh_reused",
            ProblemCode::MethodNotAllowed => "method_not_allowed",
            ProblemCode::Internal => "internal",
            ProblemCode::NotReady => "not_ready",
        }
    }

    /// Returns the HTTP status that goes with the code.
    pub fn status(self) -> StatusCode {
        match self {
            ProblemCode::InvalidBody
            | ProblemCode::UnknownField
            | ProblemCode::ValidationFailed => StatusCode::BAD_REQUEST,
            ProblemCode::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ProblemCode::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ProblemCode::Unauthenticated
            | ProblemCode::TokenExpired
            | ProblemCode::InvalidCredentials
            | ProblemCode::RefreshReused => StatusCode::UNAUTHORIZED,
            ProblemCode::Forbidden | ProblemCode::CsrfFailed | ProblemCode::OriginNotAllowed => {
                StatusCode::FORBIDDEN
            }
            ProblemCode::NotFound => StatusCode::NOT_FOUND,
            ProblemCode::Conflict => StatusCode::CONFLICT,
            ProblemCode::TooManyAttempts => StatusCode::TOO_MANY_REQUESTS,
            ProblemCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ProblemCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ProblemCode::NotReady => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// Returns the fixed, human-readable title of the code.
    pub fn title(self) -> &'static str {
        match self {
            ProblemCode::InvalidBody => "Request body is not valid JSON of the expected shape",
            ProblemCode::UnknownField => "Request body has an unknown field",
            ProblemCode::ValidationFailed => "Request failed validation",
            ProblemCode::UnsupportedMediaType => "Unsupported media type",
            ProblemCode::BodyTooLarge => "Request body is too large",
            ProblemCode::Unauthenticated => "Authentication required",
            ProblemCode::TokenExpired => "Access token expired",
            ProblemCode::InvalidCredentials => "Invalid username or password",
            ProblemCode::Forbidden => "Permission denied",
            ProblemCode::NotFound => "Resource not found",
            ProblemCode::Conflict => "Conflict with the current state",
            ProblemCode::TooManyAttempts => "Too many attempts",
            ProblemCode::CsrfFailed => "CSRF check failed",
            ProblemCode::OriginNotAllowed => "Origin not allowed",
            ProblemCode::RefreshReused => "Refresh token reused",
            ProblemCode::MethodNotAllowed => "Method not allowed",
            ProblemCode::Internal => "Internal server error",
            ProblemCode::NotReady => "Service not ready",
        }
    }
}

/// One failed field of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// Path of the field, such as `steps[2].depends_on[0]`.
    pub field: String,
    /// Description of the error and its fix.
    pub detail: String,
}

/// An error response as an RFC 9457 problem document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub code: ProblemCode,
    /// Sentence for the client: what failed and what to do next.
    pub detail: String,
    /// The one field that failed, when exactly one did.
    pub field: Option<String>,
    /// Every failed field, when several did.
    pub errors: Vec<FieldError>,
    /// Seconds for the `Retry-After` header (429 and 503).
    pub retry_after: Option<u64>,
}

/// The JSON body of a problem.
#[derive(Serialize)]
struct ProblemBody<'a> {
    #[serde(rename = "type")]
    problem_type: String,
    title: &'static str,
    status: u16,
    code: &'static str,
    detail: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
    #[serde(skip_serializing_if = "<[FieldError]>::is_empty")]
    errors: &'a [FieldError],
}

impl Problem {
    /// Creates a problem with `code` and a detail sentence.
    pub fn new(code: ProblemCode, detail: impl Into<String>) -> Problem {
        Problem {
            code,
            detail: detail.into(),
            field: None,
            errors: Vec::new(),
            retry_after: None,
        }
    }

    /// Names the one field that failed.
    pub fn with_field(mut self, field: impl Into<String>) -> Problem {
        self.field = Some(field.into());
        self
    }

    /// Lists the failed fields, keeping at most [`MAX_FIELD_ERRORS`]. One
    /// error also fills `field`.
    pub fn with_errors(mut self, mut errors: Vec<FieldError>) -> Problem {
        errors.truncate(MAX_FIELD_ERRORS);
        if let [only] = errors.as_slice() {
            self.field = Some(only.field.clone());
        }
        self.errors = errors;
        self
    }

    /// Sets the `Retry-After` header, in seconds.
    pub fn with_retry_after(mut self, seconds: u64) -> Problem {
        self.retry_after = Some(seconds);
        self
    }

    /// Returns the HTTP status of the problem.
    pub fn status(&self) -> StatusCode {
        self.code.status()
    }

    /// 401 `unauthenticated`.
    pub fn unauthenticated(detail: impl Into<String>) -> Problem {
        Problem::new(ProblemCode::Unauthenticated, detail)
    }

    /// 403 `forbidden`.
    pub fn forbidden(detail: impl Into<String>) -> Problem {
        Problem::new(ProblemCode::Forbidden, detail)
    }

    /// 404 `not_found`, naming the kind of resource but not whether any
    /// other resource exists.
    pub fn not_found(kind: &str) -> Problem {
        Problem::new(
            ProblemCode::NotFound,
            format!("{kind} not found: check the id, or list the {kind}s you may see"),
        )
    }

    /// 400 `validation_failed` for one field.
    pub fn invalid_field(field: impl Into<String>, detail: impl Into<String>) -> Problem {
        Problem::new(ProblemCode::ValidationFailed, detail).with_field(field)
    }

    /// 500 `internal`, with a fixed detail that reveals nothing. Log the
    /// cause before returning it.
    pub fn internal() -> Problem {
        Problem::new(
            ProblemCode::Internal,
            "the server failed to handle the request; retry later, and tell the operator if it \
             repeats",
        )
    }

    /// Maps a store error: not found 404, conflict 409, invalid input 400,
    /// anything else 500 after logging it with `operation`.
    pub fn from_store(error: StoreError, operation: &'static str) -> Problem {
        match error {
            StoreError::NotFound { what } => {
                Problem::new(ProblemCode::NotFound, format!("{what} not found"))
            }
            StoreError::Conflict { what } => Problem::new(
                ProblemCode::Conflict,
                format!("{what} already exists: choose another value"),
            ),
            StoreError::Invalid { field, reason } => {
                Problem::invalid_field(field, format!("invalid {field}: {reason}"))
            }
            other => {
                tracing::error!(operation, error = %other, "database operation failed");
                Problem::internal()
            }
        }
    }

    /// Builds the HTTP response.
    pub fn to_response(&self) -> Response {
        let status = self.status();
        let body = ProblemBody {
            problem_type: format!("{PROBLEM_TYPE_PREFIX}{}", self.code.as_str()),
            title: self.code.title(),
            status: status.as_u16(),
            code: self.code.as_str(),
            detail: &self.detail,
            field: self.field.as_deref(),
            errors: &self.errors,
        };
        let json = serde_json::to_vec(&body).unwrap_or_else(|_| b"{}".to_vec());
        let mut response = Response::new(json.into());
        *response.status_mut() = status;
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(PROBLEM_CONTENT_TYPE));
        if let Some(seconds) = self.retry_after {
            headers.insert(RETRY_AFTER, HeaderValue::from(seconds));
        }
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.detail)
    }
}

impl warp::reject::Reject for Problem {}

impl warp::Reply for Problem {
    fn into_response(self) -> Response {
        self.to_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body_json(response: Response) -> serde_json::Value {
        use http_body_util::BodyExt;
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn problem_document_fields() {
        let problem = Problem::invalid_field("steps[2].id", "id must not be empty");
        let response = problem.to_response();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(response.headers()[CONTENT_TYPE], PROBLEM_CONTENT_TYPE);
        let body = body_json(response).await;
        assert_eq!(body["type"], "urn:vwmp:problem:validation_failed");
        assert_eq!(body["code"], "validation_failed");
        assert_eq!(body["status"], 400);
        assert_eq!(body["field"], "steps[2].id");
        assert_eq!(body["detail"], "id must not be empty");
        assert!(body.get("errors").is_none());
    }

    #[tokio::test]
    async fn unauthorized_sets_www_authenticate() {
        let response = Problem::unauthenticated("log in").to_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(response.headers()[WWW_AUTHENTICATE], "Bearer");
    }

    #[test]
    fn retry_after_header_set() {
        let response = Problem::new(ProblemCode::TooManyAttempts, "wait")
            .with_retry_after(30)
            .to_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[RETRY_AFTER], "30");
    }

    #[test]
    fn errors_capped() {
        let errors = (0..MAX_FIELD_ERRORS + 5)
            .map(|index| FieldError {
                field: format!("f{index}"),
                detail: "bad".into(),
            })
            .collect();
        let problem = Problem::new(ProblemCode::ValidationFailed, "bad").with_errors(errors);
        assert_eq!(problem.errors.len(), MAX_FIELD_ERRORS);
        assert_eq!(problem.field, None);
    }

    #[test]
    fn internal_store_error_hides_detail() {
        let error = StoreError::Closed { operation: "x" };
        let problem = Problem::from_store(error, "test");
        assert_eq!(problem.code, ProblemCode::Internal);
        assert!(!problem.detail.contains("closed"));
    }
}
