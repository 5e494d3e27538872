//! Validation of a [`ParameterSchema`] itself, before any value is checked.

use std::collections::BTreeSet;

use super::pattern::compile_anchored;
use super::value::pattern_problem_text;
use super::{ParameterSchema, ParameterType, ValueError, MAX_STRING_VALUE_BYTES};

/// Error for a schema that is inconsistent or unusable.
///
/// [`SchemaError::field`] names the schema field at fault, so callers can
/// build a path such as `parameters[0].max_length`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SchemaError {
    /// A constraint is set that the parameter type does not use.
    #[error("`{field}` does not apply to a parameter of type {kind}; remove it or change `type`")]
    FieldNotApplicable {
        field: &'static str,
        kind: ParameterType,
    },

    /// `min` or `max` is NaN or infinite (possible in TOML).
    #[error("`{field}` is {value}, not a finite number; use a finite bound")]
    NonFiniteBound { field: &'static str, value: f64 },

    /// `min` is greater than `max`.
    #[error("`min` ({min}) is greater than `max` ({max}); swap or correct them")]
    MinAboveMax { min: f64, max: f64 },

    /// `min_length` is greater than `max_length`.
    #[error("`min_length` ({min_length}) is greater than `max_length` ({max_length}); swap or correct them")]
    MinLengthAboveMaxLength { min_length: u64, max_length: u64 },

    /// A length bound exceeds what any string value may reach.
    #[error("`{field}` is {value}, more than the limit of {limit} characters that any string value can reach; lower it")]
    LengthAboveLimit {
        field: &'static str,
        value: u64,
        limit: usize,
    },

    /// `pattern` is too long, too big once compiled, or not valid syntax.
    #[error("invalid `pattern`: {reason}")]
    InvalidPattern { reason: String },

    /// An enum parameter has no `values`, or an empty list.
    #[error("an enum parameter needs a non-empty `values` list; list the allowed strings")]
    MissingEnumValues,

    /// `values` contains the same string twice.
    #[error("`values` lists {value:?} more than once; remove the duplicate")]
    DuplicateEnumValue { value: String },

    /// A required parameter also has a default, which would never be used.
    #[error(
        "a required parameter cannot have a `default`; remove `default` or set `required` to false"
    )]
    RequiredWithDefault,

    /// `default` does not satisfy the schema.
    #[error("invalid `default`: {error}")]
    InvalidDefault { error: ValueError },
}

impl SchemaError {
    /// Returns the name of the schema field the error is about.
    pub fn field(&self) -> &'static str {
        match self {
            SchemaError::FieldNotApplicable { field, .. }
            | SchemaError::NonFiniteBound { field, .. }
            | SchemaError::LengthAboveLimit { field, .. } => field,
            SchemaError::MinAboveMax { .. } => "min",
            SchemaError::MinLengthAboveMaxLength { .. } => "min_length",
            SchemaError::InvalidPattern { .. } => "pattern",
            SchemaError::MissingEnumValues | SchemaError::DuplicateEnumValue { .. } => "values",
            SchemaError::RequiredWithDefault | SchemaError::InvalidDefault { .. } => "default",
        }
    }
}

impl ParameterSchema {
    /// Checks that the schema is usable: constraints fit the type, bounds are
    /// finite and ordered, the pattern compiles within the size limit, an
    /// enum lists its values and the default validates.
    ///
    /// Returns the first problem; [`ParameterSchema::check_all`] returns
    /// every problem.
    pub fn check(&self) -> Result<(), SchemaError> {
        match self.check_all().into_iter().next() {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }

    /// Lists every problem that [`ParameterSchema::check`] looks for, in
    /// field order. An empty list means the schema is usable.
    pub fn check_all(&self) -> Vec<SchemaError> {
        let mut errors = self.inapplicable_fields();
        errors.extend(self.bound_problems());
        errors.extend(self.length_problems());
        errors.extend(self.pattern_problem());
        errors.extend(self.enum_problems());

        // A default can only be judged against a schema that is otherwise
        // sound, for example one whose pattern compiles.
        if errors.is_empty() {
            errors.extend(self.default_problem());
        }
        errors
    }

    fn inapplicable_fields(&self) -> Vec<SchemaError> {
        let numeric = matches!(self.kind, ParameterType::Number | ParameterType::Integer);
        let string = self.kind == ParameterType::String;
        let enumeration = self.kind == ParameterType::Enum;
        let fields = [
            ("min", self.min.is_some(), numeric),
            ("max", self.max.is_some(), numeric),
            ("min_length", self.min_length.is_some(), string),
            ("max_length", self.max_length.is_some(), string),
            ("pattern", self.pattern.is_some(), string),
            ("values", self.values.is_some(), enumeration),
        ];
        fields
            .into_iter()
            .filter(|(_, present, applies)| *present && !*applies)
            .map(|(field, _, _)| SchemaError::FieldNotApplicable {
                field,
                kind: self.kind,
            })
            .collect()
    }

    fn bound_problems(&self) -> Vec<SchemaError> {
        let mut errors = Vec::new();
        for (field, bound) in [("min", self.min), ("max", self.max)] {
            if let Some(value) = bound.filter(|value| !value.is_finite()) {
                errors.push(SchemaError::NonFiniteBound { field, value });
            }
        }
        if let (Some(min), Some(max)) = (self.min, self.max) {
            if min > max {
                errors.push(SchemaError::MinAboveMax { min, max });
            }
        }
        errors
    }

    fn length_problems(&self) -> Vec<SchemaError> {
        let mut errors = Vec::new();

        // A character takes at least one byte, so a bound above the byte
        // limit is either unreachable (min) or has no effect (max).
        for (field, bound) in [
            ("min_length", self.min_length),
            ("max_length", self.max_length),
        ] {
            if let Some(value) = bound.filter(|value| *value > MAX_STRING_VALUE_BYTES as u64) {
                errors.push(SchemaError::LengthAboveLimit {
                    field,
                    value,
                    limit: MAX_STRING_VALUE_BYTES,
                });
            }
        }
        if let (Some(min_length), Some(max_length)) = (self.min_length, self.max_length) {
            if min_length > max_length {
                errors.push(SchemaError::MinLengthAboveMaxLength {
                    min_length,
                    max_length,
                });
            }
        }
        errors
    }

    fn pattern_problem(&self) -> Option<SchemaError> {
        let pattern = self.pattern.as_ref()?;
        let problem = compile_anchored(pattern).err()?;
        Some(SchemaError::InvalidPattern {
            reason: pattern_problem_text(&problem),
        })
    }

    fn enum_problems(&self) -> Vec<SchemaError> {
        if self.kind != ParameterType::Enum {
            return Vec::new();
        }
        let values = self.values.as_deref().unwrap_or_default();
        if values.is_empty() {
            return vec![SchemaError::MissingEnumValues];
        }

        let mut seen = BTreeSet::new();
        let mut errors = Vec::new();
        for value in values {
            if !seen.insert(value.as_str()) {
                errors.push(SchemaError::DuplicateEnumValue {
                    value: value.clone(),
                });
            }
        }
        errors
    }

    fn default_problem(&self) -> Option<SchemaError> {
        let default = self.default.as_ref()?;
        if self.required {
            return Some(SchemaError::RequiredWithDefault);
        }
        let error = self.validate_value(default).err()?;
        Some(SchemaError::InvalidDefault { error })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Returns `field: message` for every problem of the schema, or "ok".
    fn problems(schema_text: &str) -> String {
        let schema: ParameterSchema = serde_json::from_str(schema_text).unwrap();
        let errors = schema.check_all();
        if errors.is_empty() {
            return "ok".to_string();
        }
        errors
            .iter()
            .map(|error| format!("{}: {error}", error.field()))
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn check_cases() {
        let cases: &[(&str, &str)] = &[
            (r#"{"type":"string","min_length":1,"max_length":8,"pattern":"[a-z]*","default":"ab"}"#, "ok"),
            (r#"{"type":"integer","min":0,"max":10,"default":3}"#, "ok"),
            (r#"{"type":"enum","values":["a","b"],"default":"a"}"#, "ok"),
            (r#"{"type":"boolean","required":true}"#, "ok"),
            (r#"{"type":"string","min":1}"#, "min: `min` does not apply to a parameter of type string; remove it or change `type`"),
            (r#"{"type":"number","max_length":1}"#, "max_length: `max_length` does not apply to a parameter of type number; remove it or change `type`"),
            (r#"{"type":"integer","pattern":"a"}"#, "pattern: `pattern` does not apply to a parameter of type integer; remove it or change `type`"),
            (r#"{"type":"string","values":["a"]}"#, "values: `values` does not apply to a parameter of type string; remove it or change `type`"),
            (r#"{"type":"boolean","min_length":1}"#, "min_length: `min_length` does not apply to a parameter of type boolean; remove it or change `type`"),
            (r#"{"type":"number","min":3,"max":2}"#, "min: `min` (3) is greater than `max` (2); swap or correct them"),
            (r#"{"type":"string","min_length":3,"max_length":2}"#, "min_length: `min_length` (3) is greater than `max_length` (2); swap or correct them"),
            (r#"{"type":"string","max_length":65537}"#, "max_length: `max_length` is 65537, more than the limit of 65536 characters that any string value can reach; lower it"),
            (r#"{"type":"string","pattern":"(a"}"#, "pattern: invalid `pattern`: unclosed group"),
            (r#"{"type":"string","pattern":"\\w{1000}"}"#, "pattern: invalid `pattern`: the compiled pattern exceeds the size limit of 65536 bytes; use fewer or smaller repetitions"),
            (r#"{"type":"enum"}"#, "values: an enum parameter needs a non-empty `values` list; list the allowed strings"),
            (r#"{"type":"enum","values":[]}"#, "values: an enum parameter needs a non-empty `values` list; list the allowed strings"),
            (r#"{"type":"enum","values":["a","a"]}"#, "values: `values` lists \"a\" more than once; remove the duplicate"),
            (r#"{"type":"string","required":true,"default":"x"}"#, "default: a required parameter cannot have a `default`; remove `default` or set `required` to false"),
            (r#"{"type":"string","max_length":1,"default":"xy"}"#, "default: invalid `default`: value \"xy\" is longer than the maximum of 1 characters"),
            (r#"{"type":"integer","default":1.5}"#, "default: invalid `default`: value 1.5 is not a whole number"),
            (r#"{"type":"boolean","default":"yes"}"#, "default: invalid `default`: expected a boolean (true or false), found a string"),
        ];
        for (schema_text, expected) in cases {
            assert_eq!(problems(schema_text), *expected, "schema {schema_text}");
        }
    }

    #[test]
    fn check_reports_several_problems() {
        let report = problems(r#"{"type":"string","min":1,"min_length":3,"max_length":2}"#);
        assert_eq!(report.lines().count(), 2, "{report}");
    }

    #[test]
    fn check_returns_first_problem() {
        let schema: ParameterSchema = serde_json::from_str(r#"{"type":"enum"}"#).unwrap();
        assert_eq!(schema.check(), Err(SchemaError::MissingEnumValues));
    }

    #[test]
    fn non_finite_toml_bound_rejected() {
        let schema: ParameterSchema = toml::from_str("type = \"number\"\nmax = inf\n").unwrap();
        let error = schema.check().unwrap_err();
        assert_eq!(error.field(), "max");
        assert_eq!(
            error.to_string(),
            "`max` is inf, not a finite number; use a finite bound"
        );
    }

    #[test]
    fn secret_default_absent_from_message() {
        let schema: ParameterSchema = serde_json::from_str(
            r#"{"type":"string","secret":true,"max_length":2,"default":"hunter2"}"#,
        )
        .unwrap();
        let message = schema.check().unwrap_err().to_string();
        assert!(!message.contains("hunter2"), "{message}");
    }
}
