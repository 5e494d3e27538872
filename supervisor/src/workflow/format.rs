//! The workflow document: its serde types and the size-checked JSON parser.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::schema::{ParameterSchema, ParameterType};

/// Maximum size of a workflow document in bytes. It matches the HTTP API's
/// default body limit; real workflows are a few KiB.
pub const MAX_DOCUMENT_BYTES: usize = 1024 * 1024;

/// Maximum nesting depth of arrays and objects in a workflow document,
/// counting the top-level object as 1. The format itself needs 4 levels and
/// inputs rarely need more than a few; the cap keeps recursive walks of
/// inputs (templates, validation) shallow.
pub const MAX_NESTING_DEPTH: usize = 32;

/// Workflow definition: metadata, parameters and the steps to run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Workflow {
    /// Display name, 1 to 200 characters.
    pub name: String,
    /// Semantic version of the definition, such as `1.0.0`.
    pub version: String,
    /// Category, `^[a-z_]+$` (`type` in the document).
    #[serde(rename = "type")]
    pub kind: String,
    /// Optional description, at most 1000 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Free-form settings object, kept for clients and later use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<Map<String, Value>>,
    /// Parameters the caller passes when starting an execution.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<WorkflowParameter>,
    /// Steps, in declaration order.
    pub steps: Vec<StepSpec>,
}

/// Workflow parameter: a name and its schema.
///
/// In the document the schema fields sit beside `name` in one object
/// (`{"name": "who", "type": "string"}`); unknown fields are rejected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "FlatParameter", into = "FlatParameter")]
pub struct WorkflowParameter {
    /// Parameter name, `^[a-z_][a-z0-9_]{0,63}$`.
    pub name: String,
    /// Type, constraints, default and secrecy.
    pub schema: ParameterSchema,
}

/// Step of a workflow: one call of a plugin handler.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepSpec {
    /// Step id, `^[a-z][a-z0-9_-]{0,63}$`, unique in the workflow.
    pub id: String,
    /// Handler as `plugin.handler`.
    pub handler: String,
    /// Handler inputs; strings may contain templates.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub inputs: Map<String, Value>,
    /// Ids of the steps that must succeed before this one starts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
    /// Wall-clock limit in seconds, 1 to 86400; the profile's when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u64>,
    /// Sandbox profile the step requests; the plugin's when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
}

/// Error for a workflow document that cannot be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum WorkflowError {
    /// The document exceeds [`MAX_DOCUMENT_BYTES`].
    #[error("workflow document is {bytes} bytes, more than the limit of {limit} bytes; shorten it or split it into several workflows")]
    TooLarge { bytes: usize, limit: usize },

    /// The document is not valid JSON.
    #[error("invalid JSON at line {line}, column {column}: {reason}")]
    ParseJson {
        line: usize,
        column: usize,
        reason: String,
    },

    /// The document nests arrays and objects deeper than [`MAX_NESTING_DEPTH`].
    #[error("`{path}` is nested deeper than the limit of {limit} levels; flatten the structure")]
    TooDeep { path: String, limit: usize },

    /// The JSON does not have the shape of a workflow (unknown or missing
    /// field, wrong type). `path` is empty for the top level.
    #[error("invalid workflow{}: {reason}", location(path, *line, *column))]
    Decode {
        path: String,
        line: usize,
        column: usize,
        reason: String,
    },
}

impl Workflow {
    /// Parses a workflow document, enforcing the size and nesting caps.
    ///
    /// This checks the shape only; call [`crate::workflow::validate`] for the
    /// rules on names, references and handlers.
    pub fn from_json(bytes: &[u8]) -> Result<Workflow, WorkflowError> {
        if bytes.len() > MAX_DOCUMENT_BYTES {
            return Err(WorkflowError::TooLarge {
                bytes: bytes.len(),
                limit: MAX_DOCUMENT_BYTES,
            });
        }

        // serde_json stops at 128 levels by itself; a generic parse first
        // lets the lower cap be checked with a path before decoding.
        let value: Value =
            serde_json::from_slice(bytes).map_err(|error| WorkflowError::ParseJson {
                line: error.line(),
                column: error.column(),
                reason: reason_without_position(&error),
            })?;
        if let Some(path) = path_beyond_depth(&value, MAX_NESTING_DEPTH) {
            return Err(WorkflowError::TooDeep {
                path,
                limit: MAX_NESTING_DEPTH,
            });
        }

        // Decoding from the bytes again (not from `value`) keeps the line
        // and column in errors.
        let mut deserializer = serde_json::Deserializer::from_slice(bytes);
        serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
            let path = error.path().to_string();
            let inner = error.into_inner();
            WorkflowError::Decode {
                path: if path == "." { String::new() } else { path },
                line: inner.line(),
                column: inner.column(),
                reason: reason_without_position(&inner),
            }
        })
    }

    /// Serializes the workflow as pretty-printed JSON.
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string_pretty(self)
    }
}

fn location(path: &str, line: usize, column: usize) -> String {
    match (path.is_empty(), line) {
        (true, 0) => String::new(),
        (true, _) => format!(" (line {line}, column {column})"),
        (false, 0) => format!(" at `{path}`"),
        (false, _) => format!(" at `{path}` (line {line}, column {column})"),
    }
}

/// Returns the message of a serde_json error without the trailing
/// " at line L column C", which the caller reports separately.
fn reason_without_position(error: &serde_json::Error) -> String {
    let text = error.to_string();
    let suffix = format!(" at line {} column {}", error.line(), error.column());
    match text.strip_suffix(&suffix) {
        Some(reason) => reason.to_string(),
        None => text,
    }
}

/// Returns the path of the first array or object nested deeper than
/// `limit`, such as `steps[0].inputs.a.b`, or `None` when within the limit.
fn path_beyond_depth(value: &Value, limit: usize) -> Option<String> {
    fn walk(value: &Value, depth: usize, limit: usize, path: &mut String) -> bool {
        let children: Box<dyn Iterator<Item = (String, &Value)>> = match value {
            Value::Array(items) => Box::new(
                items
                    .iter()
                    .enumerate()
                    .map(|(index, item)| (format!("[{index}]"), item)),
            ),
            Value::Object(fields) => {
                Box::new(fields.iter().map(|(key, item)| (format!(".{key}"), item)))
            }
            _ => return false,
        };
        if depth > limit {
            return true;
        }
        for (segment, child) in children {
            let length = path.len();
            path.push_str(&segment);
            if walk(child, depth + 1, limit, path) {
                return true;
            }
            path.truncate(length);
        }
        false
    }

    let mut path = String::new();
    if !walk(value, 1, limit, &mut path) {
        return None;
    }
    let path = path.strip_prefix('.').unwrap_or(&path).to_string();
    Some(if path.is_empty() {
        "(top level)".to_string()
    } else {
        path
    })
}

/// Document form of [`WorkflowParameter`]: `name` and the schema fields in
/// one object. Serde's `flatten` cannot be combined with
/// `deny_unknown_fields`, so the fields are written out here.
///
/// The conversions below destructure [`ParameterSchema`] without `..`. A
/// new schema field therefore fails to compile until it is added here too.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FlatParameter {
    name: String,
    #[serde(rename = "type")]
    kind: ParameterType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    required: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    default: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    min: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    min_length: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max_length: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pattern: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    values: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "is_false")]
    secret: bool,
}

fn is_false(value: &bool) -> bool {
    !*value
}

impl From<FlatParameter> for WorkflowParameter {
    fn from(flat: FlatParameter) -> Self {
        let FlatParameter {
            name,
            kind,
            description,
            required,
            default,
            min,
            max,
            min_length,
            max_length,
            pattern,
            values,
            secret,
        } = flat;
        let schema = ParameterSchema {
            kind,
            description,
            required,
            default,
            min,
            max,
            min_length,
            max_length,
            pattern,
            values,
            secret,
        };
        WorkflowParameter { name, schema }
    }
}

impl From<WorkflowParameter> for FlatParameter {
    fn from(parameter: WorkflowParameter) -> Self {
        let ParameterSchema {
            kind,
            description,
            required,
            default,
            min,
            max,
            min_length,
            max_length,
            pattern,
            values,
            secret,
        } = parameter.schema;
        FlatParameter {
            name: parameter.name,
            kind,
            description,
            required,
            default,
            min,
            max,
            min_length,
            max_length,
            pattern,
            values,
            secret,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflow::testing::SAMPLE;

    fn decode_error(text: &str) -> WorkflowError {
        Workflow::from_json(text.as_bytes()).unwrap_err()
    }

    #[test]
    fn sample_parses() {
        let workflow = Workflow::from_json(SAMPLE.as_bytes()).unwrap();
        assert_eq!(workflow.name, "hello");
        assert_eq!(workflow.version, "1.0.0");
        assert_eq!(workflow.kind, "example");
        assert_eq!(workflow.description.as_deref(), Some("optional"));
        assert_eq!(workflow.config, Some(Map::new()));
        assert_eq!(workflow.parameters.len(), 1);
        assert_eq!(workflow.parameters[0].name, "who");
        assert_eq!(workflow.parameters[0].schema.kind, ParameterType::String);
        assert_eq!(workflow.parameters[0].schema.max_length, Some(64));
        assert_eq!(
            workflow.parameters[0].schema.default,
            Some(Value::from("world"))
        );
        assert_eq!(workflow.steps.len(), 2);
        assert_eq!(
            workflow.steps[0].inputs["name"],
            Value::from("${params.who}")
        );
        assert!(workflow.steps[0].depends_on.is_empty());
        assert_eq!(workflow.steps[1].depends_on, vec!["greet".to_string()]);
        assert_eq!(workflow.steps[1].timeout_seconds, Some(30));
        assert_eq!(workflow.steps[1].profile.as_deref(), Some("strict"));
    }

    #[test]
    fn sample_round_trips() {
        let workflow = Workflow::from_json(SAMPLE.as_bytes()).unwrap();
        let text = workflow.to_json().unwrap();
        assert_eq!(Workflow::from_json(text.as_bytes()).unwrap(), workflow);
    }

    #[test]
    fn minimal_document_parses() {
        let text =
            r#"{"name":"a","version":"1.0.0","type":"x","steps":[{"id":"s","handler":"p.h"}]}"#;
        let workflow = Workflow::from_json(text.as_bytes()).unwrap();
        assert!(workflow.parameters.is_empty());
        assert!(workflow.config.is_none());
        assert!(workflow.steps[0].inputs.is_empty());
    }

    #[test]
    fn unknown_fields_rejected_at_every_level() {
        let cases = [
            (
                r#"{"name":"a","version":"1.0.0","type":"x","steps":[],"extra":1}"#,
                "invalid workflow at `extra` (line 1, column 59): unknown field `extra`",
            ),
            (
                r#"{"name":"a","version":"1.0.0","type":"x","steps":[{"id":"s","handler":"p.h","retries":2}]}"#,
                "invalid workflow at `steps[0].retries` (line 1, column 85): unknown field `retries`",
            ),
            (
                r#"{"name":"a","version":"1.0.0","type":"x","parameters":[{"name":"p","type":"string","maxlen":3}],"steps":[]}"#,
                "invalid workflow at `parameters[0].maxlen` (line 1, column 91): unknown field `maxlen`",
            ),
        ];
        for (text, expected) in cases {
            let message = decode_error(text).to_string();
            assert!(message.starts_with(expected), "{message}");
        }
    }

    #[test]
    fn wrong_type_names_path() {
        let text = "{\"name\":\"a\",\"version\":\"1.0.0\",\"type\":\"x\",\n\"steps\":[{\"id\":\"s\",\"handler\":\"p.h\",\"timeout_seconds\":\"10\"}]}";
        let WorkflowError::Decode { path, line, .. } = decode_error(text) else {
            panic!("expected a decode error");
        };
        assert_eq!(path, "steps[0].timeout_seconds");
        assert_eq!(line, 2);
    }

    #[test]
    fn missing_field_has_no_path() {
        let message = decode_error(r#"{"name":"a","version":"1.0.0","type":"x"}"#).to_string();
        assert_eq!(
            message,
            "invalid workflow (line 1, column 41): missing field `steps`"
        );
    }

    #[test]
    fn syntax_error_names_position() {
        let error = decode_error("{\n  \"name\": \"a\",,\n}");
        assert_eq!(
            error,
            WorkflowError::ParseJson {
                line: 2,
                column: 15,
                reason: "key must be a string".to_string(),
            }
        );
    }

    #[test]
    fn empty_document_rejected() {
        assert!(matches!(decode_error(""), WorkflowError::ParseJson { .. }));
    }

    #[test]
    fn oversized_document_rejected() {
        let text = " ".repeat(MAX_DOCUMENT_BYTES + 1);
        assert_eq!(
            decode_error(&text),
            WorkflowError::TooLarge {
                bytes: MAX_DOCUMENT_BYTES + 1,
                limit: MAX_DOCUMENT_BYTES,
            }
        );
    }

    fn nested_inputs(levels: usize) -> String {
        let value = format!("{}1{}", "[".repeat(levels), "]".repeat(levels));
        format!(
            r#"{{"name":"a","version":"1.0.0","type":"x","steps":[{{"id":"s","handler":"p.h","inputs":{{"deep":{value}}}}}]}}"#
        )
    }

    #[test]
    fn nesting_at_limit_accepted() {
        // Top-level object, steps array, step object and inputs object take
        // four levels.
        let text = nested_inputs(MAX_NESTING_DEPTH - 4);
        assert!(Workflow::from_json(text.as_bytes()).is_ok());
    }

    #[test]
    fn nesting_beyond_limit_rejected() {
        let text = nested_inputs(MAX_NESTING_DEPTH - 3);
        let WorkflowError::TooDeep { path, limit } = decode_error(&text) else {
            panic!("expected a depth error");
        };
        assert_eq!(limit, MAX_NESTING_DEPTH);
        assert!(path.starts_with("steps[0].inputs.deep[0][0]"), "{path}");
    }

    #[test]
    fn nesting_beyond_serde_limit_rejected() {
        let text = nested_inputs(200);
        assert!(matches!(
            decode_error(&text),
            WorkflowError::ParseJson { .. }
        ));
    }

    #[test]
    fn top_level_array_rejected() {
        let message = decode_error("[]").to_string();
        assert!(message.starts_with("invalid workflow"), "{message}");
    }
}
