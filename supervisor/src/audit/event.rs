//! One audit event: who did what to which object, from where, with what
//! outcome, and its builder.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;

use super::redact::{redact_json, redact_text};
use crate::model::{ExecutionId, UserId, WorkflowId};

/// Maximum stored user agent length in characters: clients choose it freely, and
/// every audit row carries it.
pub const MAX_USER_AGENT_CHARS: usize = 512;

/// Maximum length of a string inside `details` in characters, so one event cannot carry
/// a whole log or request body.
pub const MAX_DETAIL_STRING_CHARS: usize = 2048;

/// Largest `details` object in bytes of JSON; a larger one is replaced by a
/// note that gives its size.
pub const MAX_DETAILS_BYTES: usize = 16 * 1024;

/// Kind of audited action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditEventType {
    LoginSucceeded,
    LoginFailed,
    TokenRefreshed,
    /// A rotated refresh token was presented again; its family was revoked.
    RefreshTokenReused,
    Logout,
    PermissionDenied,
    RoleChanged,
    ApiKeyCreated,
    ApiKeyRevoked,
    WorkflowCreated,
    WorkflowUpdated,
    WorkflowDeleted,
    ExecutionStarted,
    ExecutionFinished,
    ExecutionCancelled,
    /// A mandatory sandbox layer could not be applied, so the step did not run.
    StepSandboxFailed,
    /// The seccomp filter killed a step's plugin.
    StepSeccompKilled,
    PluginRegistered,
    PluginApproved,
    PluginRemoved,
    /// A plugin executable no longer matches its recorded digest.
    DigestMismatch,
    ConfigReloaded,
    /// Too many failed logins locked an account.
    AccountLocked,
    UserCreated,
}

impl AuditEventType {
    /// Every event type, in declaration order.
    pub const ALL: [AuditEventType; 24] = [
        AuditEventType::LoginSucceeded,
        AuditEventType::LoginFailed,
        AuditEventType::TokenRefreshed,
        AuditEventType::RefreshTokenReused,
        AuditEventType::Logout,
        AuditEventType::PermissionDenied,
        AuditEventType::RoleChanged,
        AuditEventType::ApiKeyCreated,
        AuditEventType::ApiKeyRevoked,
        AuditEventType::WorkflowCreated,
        AuditEventType::WorkflowUpdated,
        AuditEventType::WorkflowDeleted,
        AuditEventType::ExecutionStarted,
        AuditEventType::ExecutionFinished,
        AuditEventType::ExecutionCancelled,
        AuditEventType::StepSandboxFailed,
        AuditEventType::StepSeccompKilled,
        AuditEventType::PluginRegistered,
        AuditEventType::PluginApproved,
        AuditEventType::PluginRemoved,
        AuditEventType::DigestMismatch,
        AuditEventType::ConfigReloaded,
        AuditEventType::AccountLocked,
        AuditEventType::UserCreated,
    ];

    /// Returns the snake_case name used in JSON and storage.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditEventType::LoginSucceeded => "login_succeeded",
            AuditEventType::LoginFailed => "login_failed",
            AuditEventType::TokenRefreshed => "token_refreshed",
            AuditEventType::RefreshTokenReused => "refresh_token_reused",
            AuditEventType::Logout => "logout",
            AuditEventType::PermissionDenied => "permission_denied",
            AuditEventType::RoleChanged => "role_changed",
            AuditEventType::ApiKeyCreated => "api_key_created",
            AuditEventType::ApiKeyRevoked => "api_key_revoked",
            AuditEventType::WorkflowCreated => "workflow_created",
            AuditEventType::WorkflowUpdated => "workflow_updated",
            AuditEventType::WorkflowDeleted => "workflow_deleted",
            AuditEventType::ExecutionStarted => "execution_started",
            AuditEventType::ExecutionFinished => "execution_finished",
            AuditEventType::ExecutionCancelled => "execution_cancelled",
            AuditEventType::StepSandboxFailed => "step_sandbox_failed",
            AuditEventType::StepSeccompKilled => "step_seccomp_killed",
            AuditEventType::PluginRegistered => "plugin_registered",
            AuditEventType::PluginApproved => "plugin_approved",
            AuditEventType::PluginRemoved => "plugin_removed",
            AuditEventType::DigestMismatch => "digest_mismatch",
            AuditEventType::ConfigReloaded => "config_reloaded",
            AuditEventType::AccountLocked => "account_locked",
            AuditEventType::UserCreated => "user_created",
        }
    }

    /// Parses a snake_case name, for example from a `GET /audit` filter.
    pub fn parse(text: &str) -> Option<AuditEventType> {
        AuditEventType::ALL
            .into_iter()
            .find(|event_type| event_type.as_str() == text)
    }

    /// Returns the level an event of this type gets unless the builder sets
    /// one: `error` for signs of theft or tampering, `warn` for denials and
    /// sandbox failures, `info` otherwise.
    pub fn default_level(self) -> AuditLevel {
        match self {
            AuditEventType::RefreshTokenReused | AuditEventType::DigestMismatch => {
                AuditLevel::Error
            }
            AuditEventType::LoginFailed
            | AuditEventType::PermissionDenied
            | AuditEventType::AccountLocked
            | AuditEventType::StepSandboxFailed
            | AuditEventType::StepSeccompKilled => AuditLevel::Warn,
            _ => AuditLevel::Info,
        }
    }
}

/// Severity of an audit event, named as in `tracing`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuditLevel {
    Info,
    Warn,
    Error,
}

/// Result of the audited action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuditOutcome {
    Success,
    /// The action was attempted and failed.
    Failure,
    /// Authorization refused the action.
    Denied,
}

/// One audit event, as stored and as emitted on one JSON line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// Time of the event in UTC, written as RFC 3339 with milliseconds.
    #[serde(with = "super::timestamp")]
    pub timestamp: OffsetDateTime,
    pub level: AuditLevel,
    pub event_type: AuditEventType,
    /// Acting user, when known.
    pub user_id: Option<UserId>,
    pub workflow_id: Option<WorkflowId>,
    pub execution_id: Option<ExecutionId>,
    /// Client address as the server saw it.
    pub ip_address: Option<IpAddr>,
    pub user_agent: Option<String>,
    pub outcome: AuditOutcome,
    /// Event-specific facts, a JSON object; never secret values.
    pub details: Value,
}

impl AuditEvent {
    /// Starts an event of `event_type` with `outcome`, timestamped now.
    pub fn builder(event_type: AuditEventType, outcome: AuditOutcome) -> AuditEventBuilder {
        AuditEventBuilder {
            event: AuditEvent {
                timestamp: OffsetDateTime::now_utc(),
                level: event_type.default_level(),
                event_type,
                user_id: None,
                workflow_id: None,
                execution_id: None,
                ip_address: None,
                user_agent: None,
                outcome,
                details: Value::Object(Map::new()),
            },
        }
    }

    /// Masks secret shapes in the user agent and in `details`, and caps
    /// their sizes. [`super::AuditLog::record`] applies it to every event,
    /// including ones built without the builder.
    pub fn redacted(mut self) -> AuditEvent {
        self.user_agent = self
            .user_agent
            .map(|agent| truncate_chars(&redact_text(&agent), MAX_USER_AGENT_CHARS));
        self.details = cap_details(redact_json(&self.details));
        self
    }

    /// Serializes the event as one line of JSON, without a newline.
    pub fn to_json_line(&self) -> String {
        match serde_json::to_string(self) {
            Ok(line) => line,
            // Only a timestamp outside years 0..=9999 fails to serialize;
            // the line still names the event.
            Err(error) => serde_json::json!({
                "event_type": self.event_type,
                "outcome": self.outcome,
                "error": format!("failed to serialize audit event: {error}"),
            })
            .to_string(),
        }
    }
}

/// Builder of an [`AuditEvent`]; [`AuditEventBuilder::build`] redacts it.
#[derive(Debug, Clone)]
#[must_use]
pub struct AuditEventBuilder {
    event: AuditEvent,
}

impl AuditEventBuilder {
    /// Sets the level instead of the event type's default.
    pub fn level(mut self, level: AuditLevel) -> Self {
        self.event.level = level;
        self
    }

    /// Sets the acting user.
    pub fn user(mut self, user_id: UserId) -> Self {
        self.event.user_id = Some(user_id);
        self
    }

    /// Sets the workflow concerned.
    pub fn workflow(mut self, workflow_id: WorkflowId) -> Self {
        self.event.workflow_id = Some(workflow_id);
        self
    }

    /// Sets the execution concerned.
    pub fn execution(mut self, execution_id: ExecutionId) -> Self {
        self.event.execution_id = Some(execution_id);
        self
    }

    /// Sets the client address.
    pub fn ip_address(mut self, address: IpAddr) -> Self {
        self.event.ip_address = Some(address);
        self
    }

    /// Sets the client's `User-Agent`.
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.event.user_agent = Some(user_agent.into());
        self
    }

    /// Adds one field to `details`.
    pub fn detail(mut self, key: &str, value: impl Into<Value>) -> Self {
        if let Value::Object(map) = &mut self.event.details {
            map.insert(key.to_string(), value.into());
        }
        self
    }

    /// Replaces `details`; a value that is not an object is kept under the
    /// key `value`.
    pub fn details(mut self, details: Value) -> Self {
        self.event.details = match details {
            Value::Object(map) => Value::Object(map),
            other => serde_json::json!({ "value": other }),
        };
        self
    }

    /// Sets the timestamp instead of now; it is converted to UTC.
    pub fn timestamp(mut self, timestamp: OffsetDateTime) -> Self {
        self.event.timestamp = timestamp.to_offset(time::UtcOffset::UTC);
        self
    }

    /// Finishes the event, with secret shapes masked.
    pub fn build(self) -> AuditEvent {
        self.event.redacted()
    }
}

fn truncate_chars(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_string(),
    }
}

/// Truncates long strings, then replaces the whole object if it is still too
/// large.
fn cap_details(details: Value) -> Value {
    let details = truncate_strings(details);
    let size = serde_json::to_string(&details).map_or(0, |text| text.len());
    if size <= MAX_DETAILS_BYTES {
        return details;
    }
    serde_json::json!({
        "omitted": format!(
            "details of {size} bytes exceeded the {MAX_DETAILS_BYTES}-byte limit"
        ),
    })
}

fn truncate_strings(value: Value) -> Value {
    match value {
        Value::String(text) => Value::String(truncate_chars(&text, MAX_DETAIL_STRING_CHARS)),
        Value::Array(items) => Value::Array(items.into_iter().map(truncate_strings).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(key, value)| (key, truncate_strings(value)))
                .collect(),
        ),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> AuditEvent {
        AuditEvent::builder(AuditEventType::LoginFailed, AuditOutcome::Failure)
            .user(UserId::parse("3f2b8c1e-9d4a-4f6b-8e2a-1c5d7e9f0a3b").unwrap())
            .ip_address("192.0.2.7".parse().unwrap())
            .user_agent("curl/8.5.0")
            .detail("username", "alice")
            .timestamp(
                OffsetDateTime::from_unix_timestamp_nanos(1_700_000_000_123_456_789).unwrap(),
            )
            .build()
    }

    #[test]
    fn type_names_round_trip() {
        for event_type in AuditEventType::ALL {
            let json = serde_json::to_value(event_type).unwrap();
            assert_eq!(json.as_str(), Some(event_type.as_str()));
            assert_eq!(AuditEventType::parse(event_type.as_str()), Some(event_type));
        }
    }

    #[test]
    fn type_parse_rejects_unknown() {
        assert_eq!(AuditEventType::parse("LoginFailed"), None);
        assert_eq!(AuditEventType::parse(""), None);
    }

    #[test]
    fn default_levels() {
        assert_eq!(
            AuditEventType::LoginSucceeded.default_level(),
            AuditLevel::Info
        );
        assert_eq!(
            AuditEventType::PermissionDenied.default_level(),
            AuditLevel::Warn
        );
        assert_eq!(
            AuditEventType::RefreshTokenReused.default_level(),
            AuditLevel::Error
        );
    }

    #[test]
    fn json_line_fields() {
        let line = sample().to_json_line();
        assert!(!line.contains('\n'));
        let value: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(value["timestamp"], "2023-11-14T22:13:20.123Z");
        assert_eq!(value["level"], "warn");
        assert_eq!(value["event_type"], "login_failed");
        assert_eq!(value["user_id"], "3f2b8c1e-9d4a-4f6b-8e2a-1c5d7e9f0a3b");
        assert_eq!(value["workflow_id"], Value::Null);
        assert_eq!(value["ip_address"], "192.0.2.7");
        assert_eq!(value["user_agent"], "curl/8.5.0");
        assert_eq!(value["outcome"], "failure");
        assert_eq!(value["details"]["username"], "alice");
    }

    #[test]
    fn json_line_round_trips() {
        let event = sample();
        let parsed: AuditEvent = serde_json::from_str(&event.to_json_line()).unwrap();
        let millis = |event: &AuditEvent| event.timestamp.unix_timestamp_nanos() / 1_000_000;
        assert_eq!(millis(&parsed), millis(&event));
        assert_eq!(
            AuditEvent {
                timestamp: event.timestamp,
                ..parsed
            },
            event
        );
    }

    #[test]
    fn builder_redacts_details() {
        let event = AuditEvent::builder(AuditEventType::ApiKeyCreated, AuditOutcome::Success)
            .detail("note", "header was Authorization: Bearer abcdefghijklmnop")
            .detail("password", "hunter2")
            .build();
        assert_eq!(
            event.details["note"],
            "header was Authorization: Bearer ********"
        );
        assert_eq!(event.details["password"], "********");
    }

    #[test]
    fn builder_redacts_user_agent() {
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl";
        let event = AuditEvent::builder(AuditEventType::Logout, AuditOutcome::Success)
            .user_agent(format!("tool/1.0 {jwt}"))
            .build();
        assert_eq!(event.user_agent.as_deref(), Some("tool/1.0 ********"));
    }

    #[test]
    fn long_user_agent_truncated() {
        let event = AuditEvent::builder(AuditEventType::Logout, AuditOutcome::Success)
            .user_agent("x".repeat(10_000))
            .build();
        let agent = event.user_agent.unwrap();
        assert_eq!(agent.chars().count(), MAX_USER_AGENT_CHARS + 1);
        assert!(agent.ends_with('…'));
    }

    #[test]
    fn oversized_details_replaced() {
        let mut builder =
            AuditEvent::builder(AuditEventType::WorkflowUpdated, AuditOutcome::Success);
        for index in 0..20 {
            builder = builder.detail(&format!("field{index}"), "y".repeat(5000));
        }
        let event = builder.build();
        let omitted = event.details["omitted"].as_str().unwrap_or_default();
        assert!(
            omitted.contains("exceeded the 16384-byte limit"),
            "{omitted}"
        );
    }

    #[test]
    fn long_detail_string_truncated() {
        let event = AuditEvent::builder(AuditEventType::WorkflowUpdated, AuditOutcome::Success)
            .detail("error", "e".repeat(5000))
            .build();
        let text = event.details["error"].as_str().unwrap();
        assert_eq!(text.chars().count(), MAX_DETAIL_STRING_CHARS + 1);
    }

    #[test]
    fn non_object_details_wrapped() {
        let event = AuditEvent::builder(AuditEventType::ConfigReloaded, AuditOutcome::Success)
            .details(Value::from("profiles"))
            .build();
        assert_eq!(event.details, serde_json::json!({ "value": "profiles" }));
    }

    #[test]
    fn timestamp_converted_to_utc() {
        let local = OffsetDateTime::from_unix_timestamp(0)
            .unwrap()
            .to_offset(time::UtcOffset::from_hms(2, 0, 0).unwrap());
        let event = AuditEvent::builder(AuditEventType::Logout, AuditOutcome::Success)
            .timestamp(local)
            .build();
        let value: Value = serde_json::from_str(&event.to_json_line()).unwrap();
        assert_eq!(value["timestamp"], "1970-01-01T00:00:00.000Z");
    }
}
