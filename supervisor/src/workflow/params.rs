//! Parameter values of one execution: conversion of command-line text,
//! validation, defaults, and the list of secrets to mask.

use std::collections::{BTreeMap, BTreeSet};
use std::num::IntErrorKind;

use serde_json::{Map, Number, Value};

use super::errors::{quoted, ValidationErrors};
use super::{Workflow, WorkflowParameter};
use crate::schema::{ParameterSchema, ParameterType, ValueError};

/// Resolves parameter values given as command-line text (`NAME=VALUE`,
/// already split): converts each by its declared type, validates it, fills
/// defaults and reports unknown and missing parameters.
///
/// Conversion: number parses as a finite f64 (kept as an integer when the
/// text is one), integer as i64, boolean as `true` or `false`, string and
/// enum as they are.
pub fn resolve_parameters(
    workflow: &Workflow,
    provided: &BTreeMap<String, String>,
) -> Result<Map<String, Value>, ValidationErrors> {
    let mut errors = ValidationErrors::default();
    let mut values = Map::new();
    for (name, text) in provided {
        let Some(parameter) = find_parameter(workflow, name) else {
            errors.push("parameters", unknown_parameter_message(workflow, name));
            continue;
        };
        match convert_text(&parameter.schema, text) {
            Ok(value) => {
                values.insert(name.clone(), value);
            }
            Err(error) => errors.push(format!("parameters.{name}"), error.to_string()),
        }
    }
    let passed = provided.keys().map(String::as_str).collect();
    complete(workflow, values, &passed, errors)
}

/// Resolves parameter values given as JSON (for example from an API
/// request): validates each, fills defaults and reports unknown and missing
/// parameters.
pub fn resolve_parameter_values(
    workflow: &Workflow,
    provided: &Map<String, Value>,
) -> Result<Map<String, Value>, ValidationErrors> {
    let mut errors = ValidationErrors::default();
    let mut values = Map::new();
    for (name, value) in provided {
        if find_parameter(workflow, name).is_none() {
            errors.push("parameters", unknown_parameter_message(workflow, name));
            continue;
        }
        values.insert(name.clone(), value.clone());
    }
    let passed = provided.keys().map(String::as_str).collect();
    complete(workflow, values, &passed, errors)
}

/// Returns the text of every secret parameter value in `values`, for
/// masking: strings as they are, other values as compact JSON. Empty strings
/// are left out (masking them would mask everything), repeats are removed,
/// and longer values come first so a value is masked before any value it
/// contains.
pub fn secret_values(workflow: &Workflow, values: &Map<String, Value>) -> Vec<String> {
    let mut secrets = BTreeSet::new();
    for parameter in &workflow.parameters {
        if !parameter.schema.secret {
            continue;
        }
        let text = match values.get(&parameter.name) {
            None => continue,
            Some(Value::String(text)) => text.clone(),
            Some(other) => other.to_string(),
        };
        if !text.is_empty() {
            secrets.insert(text);
        }
    }

    let mut secrets: Vec<String> = secrets.into_iter().collect();
    secrets.sort_by(|left, right| right.len().cmp(&left.len()).then_with(|| left.cmp(right)));
    secrets
}

fn find_parameter<'a>(workflow: &'a Workflow, name: &str) -> Option<&'a WorkflowParameter> {
    workflow
        .parameters
        .iter()
        .find(|parameter| parameter.name == name)
}

fn unknown_parameter_message(workflow: &Workflow, name: &str) -> String {
    if workflow.parameters.is_empty() {
        return format!(
            "unknown parameter {}; this workflow declares no parameters",
            quoted(name)
        );
    }
    let declared: Vec<&str> = workflow
        .parameters
        .iter()
        .map(|parameter| parameter.name.as_str())
        .collect();
    format!(
        "unknown parameter {}; this workflow declares: {}",
        quoted(name),
        declared.join(", ")
    )
}

/// Validates the converted values in declaration order, fills defaults and
/// reports required parameters without a value. `passed` contains every name the
/// caller passed, so a value that failed conversion is not also reported as
/// missing.
fn complete(
    workflow: &Workflow,
    mut values: Map<String, Value>,
    passed: &BTreeSet<&str>,
    mut errors: ValidationErrors,
) -> Result<Map<String, Value>, ValidationErrors> {
    for parameter in &workflow.parameters {
        let path = format!("parameters.{}", parameter.name);
        match values.get(&parameter.name) {
            Some(value) => {
                if let Err(error) = parameter.schema.validate_value(value) {
                    errors.push(path, error.to_string());
                }
            }
            None if passed.contains(parameter.name.as_str()) => {}
            None => {
                if let Some(default) = &parameter.schema.default {
                    values.insert(parameter.name.clone(), default.clone());
                } else if parameter.schema.required {
                    errors.push(path, "missing value for a required parameter; pass one");
                }
            }
        }
    }
    errors.into_result().map(|()| values)
}

/// Converts command-line text to a JSON value of the declared type.
fn convert_text(schema: &ParameterSchema, text: &str) -> Result<Value, ValueError> {
    let describe = || {
        if schema.secret {
            "secret value".to_string()
        } else {
            crate::schema::describe_value(&Value::from(text))
        }
    };
    let wrong_type = || ValueError::WrongType {
        expected: schema.kind,
        found: "text that does not parse as one",
    };

    match schema.kind {
        ParameterType::String | ParameterType::Enum => Ok(Value::from(text)),
        ParameterType::Boolean => match text {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            _ => Err(wrong_type()),
        },
        ParameterType::Integer => match text.parse::<i64>() {
            Ok(integer) => Ok(Value::from(integer)),
            Err(error) => match error.kind() {
                IntErrorKind::PosOverflow | IntErrorKind::NegOverflow => {
                    Err(ValueError::IntegerOutOfRange { value: describe() })
                }
                _ if text.parse::<f64>().is_ok_and(f64::is_finite) => {
                    Err(ValueError::NotInteger { value: describe() })
                }
                _ => Err(wrong_type()),
            },
        },
        ParameterType::Number => {
            if let Ok(integer) = text.parse::<i64>() {
                return Ok(Value::from(integer));
            }
            let float = text.parse::<f64>().map_err(|_| wrong_type())?;
            Number::from_f64(float)
                .map(Value::Number)
                .ok_or_else(|| ValueError::NotFinite { value: describe() })
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::workflow::testing::workflow_with;

    fn workflow() -> Workflow {
        workflow_with(json!({"parameters": [
            {"name": "who", "type": "string", "default": "world", "max_length": 8},
            {"name": "count", "type": "integer", "required": true, "min": 1},
            {"name": "ratio", "type": "number"},
            {"name": "loud", "type": "boolean", "default": false},
            {"name": "mode", "type": "enum", "values": ["fast", "slow"]},
            {"name": "token", "type": "string", "secret": true, "min_length": 8},
        ]}))
    }

    fn cli(pairs: &[(&str, &str)]) -> Result<Value, String> {
        let provided: BTreeMap<String, String> = pairs
            .iter()
            .map(|(name, text)| (name.to_string(), text.to_string()))
            .collect();
        resolve_parameters(&workflow(), &provided)
            .map(Value::Object)
            .map_err(|errors| errors.to_string())
    }

    #[test]
    fn cli_values_converted() {
        let resolved = cli(&[
            ("count", "3"),
            ("ratio", "2.5"),
            ("loud", "true"),
            ("mode", "slow"),
            ("who", "42"),
        ]);
        assert_eq!(
            resolved,
            Ok(json!({"count": 3, "ratio": 2.5, "loud": true, "mode": "slow", "who": "42"}))
        );
    }

    #[test]
    fn cli_defaults_filled() {
        assert_eq!(
            cli(&[("count", "1")]),
            Ok(json!({"count": 1, "who": "world", "loud": false}))
        );
    }

    #[test]
    fn cli_number_keeps_integer_text() {
        assert_eq!(
            cli(&[("count", "1"), ("ratio", "7")]).unwrap()["ratio"],
            json!(7)
        );
        assert_eq!(
            cli(&[("count", "1"), ("ratio", "1e3")]).unwrap()["ratio"],
            json!(1000.0)
        );
    }

    #[test]
    fn cli_error_cases() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[("count", "x")], "parameters.count: expected an integer, found text that does not parse as one"),
            (&[("count", "2.5")], "parameters.count: value \"2.5\" is not a whole number"),
            (&[("count", "99999999999999999999")], "parameters.count: value \"99999999999999999999\" does not fit a 64-bit signed integer"),
            (&[("count", "0")], "parameters.count: value 0 is less than the minimum 1"),
            (&[("count", "1"), ("ratio", "inf")], "parameters.ratio: value \"inf\" is not a finite number"),
            (&[("count", "1"), ("ratio", "NaN")], "parameters.ratio: value \"NaN\" is not a finite number"),
            (&[("count", "1"), ("ratio", "")], "parameters.ratio: expected a number, found text that does not parse as one"),
            (&[("count", "1"), ("loud", "yes")], "parameters.loud: expected a boolean (true or false), found text that does not parse as one"),
            (&[("count", "1"), ("mode", "medium")], "parameters.mode: value \"medium\" is not one of the allowed values: fast, slow"),
            (&[("count", "1"), ("who", "far too long")], "parameters.who: value \"far too long\" is longer than the maximum of 8 characters"),
            (&[("count", "1"), ("nope", "1")], "parameters: unknown parameter \"nope\"; this workflow declares: who, count, ratio, loud, mode, token"),
            (&[], "parameters.count: missing value for a required parameter; pass one"),
        ];
        for (pairs, expected) in cases {
            assert_eq!(cli(pairs), Err(expected.to_string()), "pairs {pairs:?}");
        }
    }

    #[test]
    fn cli_errors_collected() {
        let report = cli(&[("nope", "1"), ("loud", "maybe")]).unwrap_err();
        assert_eq!(report.lines().count(), 3, "{report}");
    }

    #[test]
    fn cli_secret_absent_from_messages() {
        let report = cli(&[("count", "1"), ("token", "hunter2")]).unwrap_err();
        assert_eq!(
            report,
            "parameters.token: secret value is shorter than the minimum of 8 characters"
        );
    }

    #[test]
    fn unknown_name_quoted_on_one_line() {
        let report = cli(&[("count", "1"), ("a\nb", "1")]).unwrap_err();
        assert_eq!(report.lines().count(), 1, "{report}");
    }

    #[test]
    fn no_parameters_declared_message() {
        let provided = BTreeMap::from([("x".to_string(), "1".to_string())]);
        let report = resolve_parameters(&workflow_with(json!({})), &provided).unwrap_err();
        assert_eq!(
            report.to_string(),
            "parameters: unknown parameter \"x\"; this workflow declares no parameters"
        );
    }

    fn api(provided: Value) -> Result<Value, String> {
        let Value::Object(provided) = provided else {
            unreachable!()
        };
        resolve_parameter_values(&workflow(), &provided)
            .map(Value::Object)
            .map_err(|errors| errors.to_string())
    }

    #[test]
    fn api_values_validated() {
        assert_eq!(
            api(json!({"count": 2, "ratio": -1.5, "token": "long enough"})),
            Ok(
                json!({"count": 2, "ratio": -1.5, "token": "long enough", "who": "world", "loud": false})
            )
        );
    }

    #[test]
    fn api_error_cases() {
        let cases = [
            (json!({"count": "2"}), "parameters.count: expected an integer, found a string"),
            (json!({"count": 2, "loud": "true"}), "parameters.loud: expected a boolean (true or false), found a string"),
            (json!({"count": 2, "who": null}), "parameters.who: expected a string, found null"),
            (json!({"count": 2, "token": "hunter2"}), "parameters.token: secret value is shorter than the minimum of 8 characters"),
            (json!({"count": 2, "extra": 1}), "parameters: unknown parameter \"extra\"; this workflow declares: who, count, ratio, loud, mode, token"),
            (json!({}), "parameters.count: missing value for a required parameter; pass one"),
        ];
        for (provided, expected) in cases {
            assert_eq!(
                api(provided.clone()),
                Err(expected.to_string()),
                "provided {provided}"
            );
        }
    }

    #[test]
    fn secrets_listed_for_masking() {
        let workflow = workflow_with(json!({"parameters": [
            {"name": "a", "type": "string", "secret": true},
            {"name": "b", "type": "integer", "secret": true},
            {"name": "c", "type": "string"},
            {"name": "d", "type": "string", "secret": true},
            {"name": "e", "type": "string", "secret": true},
            {"name": "f", "type": "string", "secret": true},
        ]}));
        let Value::Object(values) =
            json!({"a": "pw", "b": 12345, "c": "public", "d": "", "e": "longer-pw", "f": "pw"})
        else {
            unreachable!()
        };
        assert_eq!(
            secret_values(&workflow, &values),
            vec!["longer-pw", "12345", "pw"]
        );
    }
}
