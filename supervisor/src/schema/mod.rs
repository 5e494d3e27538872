//! Parameter schemas: the typed description of one value that a workflow
//! parameter or a plugin handler input accepts.
//!
//! Workflows declare them in JSON (`parameters`), plugins in TOML
//! (`[handlers.parameters.NAME]`); both go through the same serde struct.
//!
//! Layout:
//! - `mod.rs`: the types and the limits.
//! - `check.rs`: validation of a schema itself ([`ParameterSchema::check`]).
//! - `value.rs`: validation of a value against a schema
//!   ([`ParameterSchema::validate_value`]).
//! - `pattern.rs`: compilation of `pattern` under a size limit.

mod check;
mod pattern;
mod value;

use std::fmt;

use serde::{Deserialize, Serialize};

pub use check::SchemaError;
pub(crate) use value::describe_value;
pub use value::ValueError;

/// Maximum size of a string value in bytes. Values travel to workers inside
/// step requests, whose control frames are capped at 1 MiB, and are copied
/// into rendered inputs and logs, so a single value stays well below that.
pub const MAX_STRING_VALUE_BYTES: usize = 64 * 1024;

/// Maximum length of a `pattern` source in bytes. Longer patterns are almost
/// always generated or hostile; 1 KiB is ample for a hand-written check.
pub const MAX_PATTERN_BYTES: usize = 1024;

/// Maximum size in bytes of a compiled `pattern` (`RegexBuilder::size_limit`).
/// The `regex` crate matches in linear time, but the program size still
/// bounds memory and time per byte; 64 KiB rejects blow-ups such as
/// `\w{1000}` while any plain validation pattern fits easily.
pub const PATTERN_COMPILED_SIZE_LIMIT: usize = 64 * 1024;

/// Value type of a parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ParameterType {
    /// A UTF-8 string.
    String,
    /// A finite floating-point number.
    Number,
    /// A whole number that fits a 64-bit signed integer.
    Integer,
    /// `true` or `false`.
    Boolean,
    /// One string out of a fixed list (`values`).
    Enum,
}

impl ParameterType {
    /// Returns the name used in schema files (`string`, `number`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ParameterType::String => "string",
            ParameterType::Number => "number",
            ParameterType::Integer => "integer",
            ParameterType::Boolean => "boolean",
            ParameterType::Enum => "enum",
        }
    }
}

impl fmt::Display for ParameterType {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// Schema of one parameter: its type, constraints, default and secrecy.
///
/// Which constraints apply depends on `kind`: `min`/`max` for number and
/// integer, `min_length`/`max_length`/`pattern` for string, `values` for
/// enum. [`ParameterSchema::check`] rejects a constraint on the wrong type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParameterSchema {
    /// Value type (`type` in files).
    #[serde(rename = "type")]
    pub kind: ParameterType,
    /// Human-readable description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Whether a value must be given; a required parameter has no default.
    #[serde(default, skip_serializing_if = "is_false")]
    pub required: bool,
    /// Value used when none is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<serde_json::Value>,
    /// Inclusive lower bound (number, integer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// Inclusive upper bound (number, integer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// Minimum length in characters (string).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_length: Option<u64>,
    /// Maximum length in characters (string).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<u64>,
    /// Regular expression (Rust `regex` syntax) that the whole value must
    /// match (string).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    /// Allowed values (enum).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<String>>,
    /// Whether the value is a secret: it is masked in logs and never shown
    /// in error messages.
    #[serde(default, skip_serializing_if = "is_false")]
    pub secret: bool,
}

fn is_false(value: &bool) -> bool {
    !*value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_parses_from_json() {
        let schema: ParameterSchema = serde_json::from_str(
            r#"{"type": "string", "max_length": 64, "pattern": "[a-z]+", "secret": true}"#,
        )
        .unwrap();
        assert_eq!(schema.kind, ParameterType::String);
        assert_eq!(schema.max_length, Some(64));
        assert_eq!(schema.pattern.as_deref(), Some("[a-z]+"));
        assert!(schema.secret);
        assert!(!schema.required);
    }

    #[test]
    fn schema_parses_from_toml() {
        let text = r#"
            [handlers.parameters.count]
            type = "integer"
            description = "how many"
            required = true
            min = 1
            max = 10.5

            [handlers.parameters.mode]
            type = "enum"
            values = ["fast", "slow"]
            default = "fast"
        "#;
        #[derive(Deserialize)]
        struct Handlers {
            parameters: std::collections::BTreeMap<String, ParameterSchema>,
        }
        #[derive(Deserialize)]
        struct Manifest {
            handlers: Handlers,
        }
        let manifest: Manifest = toml::from_str(text).unwrap();
        let count = &manifest.handlers.parameters["count"];
        assert_eq!(count.kind, ParameterType::Integer);
        assert!(count.required);
        assert_eq!(count.min, Some(1.0));
        assert_eq!(count.max, Some(10.5));
        let mode = &manifest.handlers.parameters["mode"];
        assert_eq!(mode.default, Some(serde_json::json!("fast")));
        assert_eq!(
            mode.values.as_deref(),
            Some(&["fast".to_string(), "slow".to_string()][..])
        );
    }

    #[test]
    fn schema_rejects_unknown_json_field() {
        let result = serde_json::from_str::<ParameterSchema>(r#"{"type": "string", "maxlen": 3}"#);
        assert!(result
            .unwrap_err()
            .to_string()
            .contains("unknown field `maxlen`"));
    }

    #[test]
    fn schema_rejects_unknown_toml_field() {
        let result = toml::from_str::<ParameterSchema>("type = \"string\"\nmaxlen = 3\n");
        assert!(result
            .unwrap_err()
            .to_string()
            .contains("unknown field `maxlen`"));
    }

    #[test]
    fn schema_rejects_unknown_type() {
        let result = serde_json::from_str::<ParameterSchema>(r#"{"type": "float"}"#);
        assert!(result.is_err());
    }

    #[test]
    fn schema_serializes_without_empty_fields() {
        let schema: ParameterSchema = serde_json::from_str(r#"{"type": "boolean"}"#).unwrap();
        assert_eq!(
            serde_json::to_string(&schema).unwrap(),
            r#"{"type":"boolean"}"#
        );
    }
}
