//! Audit events and redaction of secret shapes.
//!
//! Layout:
//! - `event.rs`: [`AuditEvent`], its type, level and outcome, and the builder.
//! - `log.rs`: [`AuditLog`], which emits each event as a JSON line through
//!   `tracing` (target `audit`), appends it to an optional 0600 file and
//!   hands it to an [`AuditStore`].
//! - `redact.rs`: masking of secret shapes (authorization headers, JWTs,
//!   `password=` pairs, private keys, API keys) in text and JSON.
//! - `timestamp.rs`: RFC 3339 UTC timestamps with milliseconds.
//!
//! Typical use in a request handler:
//!
//! ```no_run
//! # async fn example(log: &vwmp_supervisor::audit::AuditLog, user: vwmp_supervisor::model::UserId) {
//! use vwmp_supervisor::audit::{AuditEvent, AuditEventType, AuditOutcome};
//!
//! let event = AuditEvent::builder(AuditEventType::PermissionDenied, AuditOutcome::Denied)
//!     .user(user)
//!     .detail("route", "/api/v1/users")
//!     .build();
//! log.record(event).await;
//! # }
//! ```

mod event;
mod log;
mod redact;
mod timestamp;

pub use event::{
    AuditEvent, AuditEventBuilder, AuditEventType, AuditLevel, AuditOutcome, MAX_DETAILS_BYTES,
    MAX_DETAIL_STRING_CHARS, MAX_USER_AGENT_CHARS,
};
pub use log::{AuditError, AuditLog, AuditStore, BoxFuture, AUDIT_FILE_MODE, AUDIT_TARGET};
pub use redact::{redact_json, redact_text, API_KEY_PREFIX, MASK};
pub use timestamp::{format_timestamp, parse_timestamp};
