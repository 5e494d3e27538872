//! Validation of one JSON value against a [`ParameterSchema`].

use serde_json::Value;

use super::pattern::{compile_anchored, PatternProblem};
use super::{ParameterSchema, ParameterType, MAX_STRING_VALUE_BYTES};

/// Maximum number of characters of a value quoted in an error message, so a
/// long value does not flood logs and API responses.
const MAX_SHOWN_VALUE_CHARS: usize = 80;

/// Error for a value that does not satisfy its schema.
///
/// Each `value` field describes the value for the message: `value "abc"`,
/// `secret value` when the schema is secret (so a secret never appears), or
/// `rendered value` when the caller hides it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ValueError {
    /// The JSON type differs from the declared type.
    #[error("expected {}, found {found}", expected_phrase(*expected))]
    WrongType {
        expected: ParameterType,
        found: &'static str,
    },

    /// A number is NaN or infinite.
    #[error("{value} is not a finite number")]
    NotFinite { value: String },

    /// An integer parameter received a number with a fractional part.
    #[error("{value} is not a whole number")]
    NotInteger { value: String },

    /// An integer parameter received a number outside the i64 range.
    #[error("{value} does not fit a 64-bit signed integer")]
    IntegerOutOfRange { value: String },

    /// A number is below `min`.
    #[error("{value} is less than the minimum {min}")]
    BelowMin { value: String, min: f64 },

    /// A number is above `max`.
    #[error("{value} is greater than the maximum {max}")]
    AboveMax { value: String, max: f64 },

    /// A string has fewer characters than `min_length`.
    #[error("{value} is shorter than the minimum of {min_length} characters")]
    TooShort { value: String, min_length: u64 },

    /// A string has more characters than `max_length`.
    #[error("{value} is longer than the maximum of {max_length} characters")]
    TooLong { value: String, max_length: u64 },

    /// A string exceeds [`MAX_STRING_VALUE_BYTES`], whatever the schema allows.
    #[error("string is {bytes} bytes long, more than the limit of {limit} bytes for any value; pass large data as a file in the workspace")]
    StringTooLarge { bytes: usize, limit: usize },

    /// A string does not match `pattern`.
    #[error("{value} does not match the pattern `{pattern}`")]
    PatternMismatch { value: String, pattern: String },

    /// The schema's own pattern does not compile; the schema was not checked.
    #[error("the schema pattern `{pattern}` is invalid ({reason}); fix the schema")]
    InvalidPattern { pattern: String, reason: String },

    /// An enum value is not in `values`.
    #[error("{value} is not one of the allowed values: {allowed}")]
    NotAllowed { value: String, allowed: String },
}

impl ParameterSchema {
    /// Validates `value` against this schema: type, finiteness, integer
    /// range, bounds, lengths, pattern and enum membership.
    ///
    /// Messages quote the value unless the schema is `secret`.
    pub fn validate_value(&self, value: &Value) -> Result<(), ValueError> {
        self.validate_value_hiding(value, self.secret)
    }

    /// Validates `value` like [`ParameterSchema::validate_value`]; when
    /// `hide` is true, messages use `rendered value` in place of the value.
    /// Callers use this for values that may contain substituted secrets.
    pub(crate) fn validate_value_hiding(
        &self,
        value: &Value,
        hide: bool,
    ) -> Result<(), ValueError> {
        let describe = || {
            if self.secret {
                "secret value".to_string()
            } else if hide {
                "rendered value".to_string()
            } else {
                describe_value(value)
            }
        };
        match self.kind {
            ParameterType::String => self.validate_string(value, &describe),
            ParameterType::Number => self.validate_number(value, false, &describe),
            ParameterType::Integer => self.validate_number(value, true, &describe),
            ParameterType::Boolean => match value {
                Value::Bool(_) => Ok(()),
                other => Err(self.wrong_type(other)),
            },
            ParameterType::Enum => self.validate_enum(value, &describe),
        }
    }

    fn wrong_type(&self, value: &Value) -> ValueError {
        ValueError::WrongType {
            expected: self.kind,
            found: json_type_name(value),
        }
    }

    fn validate_string(
        &self,
        value: &Value,
        describe: &dyn Fn() -> String,
    ) -> Result<(), ValueError> {
        let Value::String(text) = value else {
            return Err(self.wrong_type(value));
        };

        if text.len() > MAX_STRING_VALUE_BYTES {
            return Err(ValueError::StringTooLarge {
                bytes: text.len(),
                limit: MAX_STRING_VALUE_BYTES,
            });
        }

        let length = text.chars().count() as u64;
        if let Some(min_length) = self.min_length {
            if length < min_length {
                return Err(ValueError::TooShort {
                    value: describe(),
                    min_length,
                });
            }
        }
        if let Some(max_length) = self.max_length {
            if length > max_length {
                return Err(ValueError::TooLong {
                    value: describe(),
                    max_length,
                });
            }
        }

        if let Some(pattern) = &self.pattern {
            let regex =
                compile_anchored(pattern).map_err(|problem| ValueError::InvalidPattern {
                    pattern: pattern.clone(),
                    reason: pattern_problem_text(&problem),
                })?;
            if !regex.is_match(text) {
                return Err(ValueError::PatternMismatch {
                    value: describe(),
                    pattern: pattern.clone(),
                });
            }
        }
        Ok(())
    }

    fn validate_number(
        &self,
        value: &Value,
        integer: bool,
        describe: &dyn Fn() -> String,
    ) -> Result<(), ValueError> {
        let Value::Number(number) = value else {
            return Err(self.wrong_type(value));
        };

        // Without serde_json's `arbitrary_precision` feature (not enabled
        // here) a number is an i64, u64 or finite f64, so `as_f64` succeeds.
        // The checks below guard against that feature being turned on.
        let Some(float) = number.as_f64() else {
            return Err(ValueError::NotFinite { value: describe() });
        };
        if !float.is_finite() {
            return Err(ValueError::NotFinite { value: describe() });
        }

        if integer && !number.is_i64() {
            if number.is_u64() || (float.fract() == 0.0 && !fits_i64(float)) {
                return Err(ValueError::IntegerOutOfRange { value: describe() });
            }
            if float.fract() != 0.0 {
                return Err(ValueError::NotInteger { value: describe() });
            }
        }

        if let Some(min) = self.min {
            if float < min {
                return Err(ValueError::BelowMin {
                    value: describe(),
                    min,
                });
            }
        }
        if let Some(max) = self.max {
            if float > max {
                return Err(ValueError::AboveMax {
                    value: describe(),
                    max,
                });
            }
        }
        Ok(())
    }

    fn validate_enum(
        &self,
        value: &Value,
        describe: &dyn Fn() -> String,
    ) -> Result<(), ValueError> {
        let Value::String(text) = value else {
            return Err(self.wrong_type(value));
        };

        let allowed = self.values.as_deref().unwrap_or_default();
        if allowed.iter().any(|candidate| candidate == text) {
            return Ok(());
        }
        Err(ValueError::NotAllowed {
            value: describe(),
            allowed: allowed.join(", "),
        })
    }
}

/// Returns true when `value` (already known to have no fraction) lies in the
/// i64 range. `i64::MAX as f64` rounds up to 2^63, hence the strict bound.
fn fits_i64(value: f64) -> bool {
    value >= i64::MIN as f64 && value < i64::MAX as f64
}

/// Formats a pattern problem as the reason part of a message.
pub(crate) fn pattern_problem_text(problem: &PatternProblem) -> String {
    match problem {
        PatternProblem::TooLong { bytes } => format!(
            "the pattern is {bytes} bytes long, more than the limit of {} bytes",
            super::MAX_PATTERN_BYTES
        ),
        PatternProblem::TooBig => format!(
            "the compiled pattern exceeds the size limit of {} bytes; use fewer or smaller repetitions",
            super::PATTERN_COMPILED_SIZE_LIMIT
        ),
        PatternProblem::Syntax { reason } => reason.clone(),
    }
}

fn expected_phrase(kind: ParameterType) -> &'static str {
    match kind {
        ParameterType::String => "a string",
        ParameterType::Number => "a number",
        ParameterType::Integer => "an integer",
        ParameterType::Boolean => "a boolean (true or false)",
        ParameterType::Enum => "a string from the enum values",
    }
}

/// Returns the JSON type of `value` with its article, for messages.
pub(crate) fn json_type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Describes `value` for a message: `value "abc"`, as compact JSON and
/// shortened.
pub(crate) fn describe_value(value: &Value) -> String {
    format!("value {}", shorten(&value.to_string()))
}

fn shorten(text: &str) -> String {
    if text.chars().count() <= MAX_SHOWN_VALUE_CHARS {
        return text.to_string();
    }
    let mut shortened: String = text.chars().take(MAX_SHOWN_VALUE_CHARS).collect();
    shortened.push_str("...");
    shortened
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn schema(text: &str) -> ParameterSchema {
        serde_json::from_str(text).unwrap()
    }

    /// Returns the error message of validating `value`, or "ok".
    fn outcome(schema_text: &str, value: Value) -> String {
        match schema(schema_text).validate_value(&value) {
            Ok(()) => "ok".to_string(),
            Err(error) => error.to_string(),
        }
    }

    #[test]
    fn value_cases() {
        let cases: &[(&str, Value, &str)] = &[
            (r#"{"type":"string"}"#, json!("x"), "ok"),
            (
                r#"{"type":"string"}"#,
                json!(1),
                "expected a string, found a number",
            ),
            (
                r#"{"type":"string"}"#,
                json!(null),
                "expected a string, found null",
            ),
            (
                r#"{"type":"string","min_length":2}"#,
                json!("é"),
                r#"value "é" is shorter than the minimum of 2 characters"#,
            ),
            (r#"{"type":"string","max_length":2}"#, json!("éé"), "ok"),
            (
                r#"{"type":"string","max_length":2}"#,
                json!("abc"),
                r#"value "abc" is longer than the maximum of 2 characters"#,
            ),
            (
                r#"{"type":"string","pattern":"[a-z]+"}"#,
                json!("abc"),
                "ok",
            ),
            (
                r#"{"type":"string","pattern":"[a-z]+"}"#,
                json!("abc1"),
                r#"value "abc1" does not match the pattern `[a-z]+`"#,
            ),
            (
                r#"{"type":"string","pattern":"("}"#,
                json!("x"),
                "the schema pattern `(` is invalid (unclosed group); fix the schema",
            ),
            (r#"{"type":"number"}"#, json!(1.5), "ok"),
            (
                r#"{"type":"number"}"#,
                json!("1.5"),
                "expected a number, found a string",
            ),
            (
                r#"{"type":"number","min":2}"#,
                json!(1.5),
                "value 1.5 is less than the minimum 2",
            ),
            (
                r#"{"type":"number","max":2}"#,
                json!(2.5),
                "value 2.5 is greater than the maximum 2",
            ),
            (r#"{"type":"number","min":2,"max":2}"#, json!(2), "ok"),
            (r#"{"type":"integer"}"#, json!(7), "ok"),
            (r#"{"type":"integer"}"#, json!(-7), "ok"),
            (r#"{"type":"integer"}"#, json!(2.0), "ok"),
            (
                r#"{"type":"integer"}"#,
                json!(2.5),
                "value 2.5 is not a whole number",
            ),
            (
                r#"{"type":"integer"}"#,
                json!(u64::MAX),
                "value 18446744073709551615 does not fit a 64-bit signed integer",
            ),
            (
                r#"{"type":"integer"}"#,
                json!(1e19),
                "value 1e+19 does not fit a 64-bit signed integer",
            ),
            (
                r#"{"type":"integer"}"#,
                json!(true),
                "expected an integer, found a boolean",
            ),
            (
                r#"{"type":"integer","max":10}"#,
                json!(11),
                "value 11 is greater than the maximum 10",
            ),
            (r#"{"type":"boolean"}"#, json!(false), "ok"),
            (
                r#"{"type":"boolean"}"#,
                json!("true"),
                "expected a boolean (true or false), found a string",
            ),
            (r#"{"type":"enum","values":["a","b"]}"#, json!("b"), "ok"),
            (
                r#"{"type":"enum","values":["a","b"]}"#,
                json!("c"),
                r#"value "c" is not one of the allowed values: a, b"#,
            ),
            (
                r#"{"type":"enum","values":["a","b"]}"#,
                json!(["a"]),
                "expected a string from the enum values, found an array",
            ),
        ];
        for (schema_text, value, expected) in cases {
            let actual = outcome(schema_text, value.clone());
            assert_eq!(actual, *expected, "schema {schema_text}, value {value}");
        }
    }

    #[test]
    fn oversized_string_rejected() {
        let value = json!("a".repeat(MAX_STRING_VALUE_BYTES + 1));
        let message = outcome(r#"{"type":"string"}"#, value);
        assert_eq!(
            message,
            "string is 65537 bytes long, more than the limit of 65536 bytes for any value; pass large data as a file in the workspace"
        );
    }

    #[test]
    fn long_value_shortened_in_message() {
        let value = json!("a".repeat(200));
        let message = outcome(r#"{"type":"string","max_length":3}"#, value);
        assert!(message.contains("..."), "{message}");
        assert!(message.len() < 200, "{message}");
    }

    #[test]
    fn secret_values_absent_from_messages() {
        let cases: &[(&str, Value)] = &[
            (
                r#"{"type":"string","secret":true,"min_length":20}"#,
                json!("hunter2"),
            ),
            (
                r#"{"type":"string","secret":true,"max_length":2}"#,
                json!("hunter2"),
            ),
            (
                r#"{"type":"string","secret":true,"pattern":"[0-9]+"}"#,
                json!("hunter2"),
            ),
            (
                r#"{"type":"enum","secret":true,"values":["a"]}"#,
                json!("hunter2"),
            ),
            (
                r#"{"type":"integer","secret":true,"min":99999999}"#,
                json!(4242),
            ),
            (r#"{"type":"integer","secret":true}"#, json!(4242.5)),
            (r#"{"type":"number","secret":true,"max":1}"#, json!(4242)),
        ];
        for (schema_text, value) in cases {
            let message = outcome(schema_text, value.clone());
            let secret_text = match value {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            assert_ne!(message, "ok", "schema {schema_text}");
            assert!(!message.contains(&secret_text), "{message}");
            assert!(message.starts_with("secret value"), "{message}");
        }
    }

    #[test]
    fn hiding_masks_plain_schema() {
        let error = schema(r#"{"type":"string","max_length":2}"#)
            .validate_value_hiding(&json!("hunter2"), true)
            .unwrap_err();
        assert!(!error.to_string().contains("hunter2"));
    }
}
