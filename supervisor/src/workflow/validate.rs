//! Validation of a parsed workflow: metadata, parameters, steps, the
//! dependency graph, and (through `inputs.rs`) handlers and their inputs.
//!
//! Every problem is collected, not just the first, and each names the path
//! of the field at fault, such as `steps[2].depends_on[0]`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

use regex::Regex;

use super::errors::{quoted, ValidationErrors};
use super::graph::find_cycles;
use super::inputs::check_handlers_and_inputs;
use super::Workflow;
use crate::schema::ParameterSchema;

/// Maximum number of steps in a workflow. Each step starts a worker
/// process, and the execution view lists every step; beyond a thousand a
/// workflow should be split.
pub const MAX_STEPS: usize = 1000;

/// Maximum length of the workflow `name` in characters.
pub const MAX_NAME_CHARS: usize = 200;

/// Maximum length of the workflow `description` in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 1000;

/// Longest `timeout_seconds` a step may ask for: one day.
pub const MAX_TIMEOUT_SECONDS: u64 = 86_400;

/// Builds a regex from a constant pattern, checked by the tests below.
fn constant_regex(pattern: &str) -> Regex {
    Regex::new(pattern).expect("constant pattern compiles")
}

/// Step ids and profile names.
pub(crate) static STEP_ID: LazyLock<Regex> =
    LazyLock::new(|| constant_regex(r"^[a-z][a-z0-9_-]{0,63}$"));
static PROFILE_NAME: LazyLock<Regex> = LazyLock::new(|| constant_regex(r"^[a-z][a-z0-9_-]{0,63}$"));
static PARAMETER_NAME: LazyLock<Regex> =
    LazyLock::new(|| constant_regex(r"^[a-z_][a-z0-9_]{0,63}$"));
static WORKFLOW_TYPE: LazyLock<Regex> = LazyLock::new(|| constant_regex(r"^[a-z_]+$"));
/// `plugin.handler`, each part shaped like a plugin name.
pub(crate) static HANDLER: LazyLock<Regex> =
    LazyLock::new(|| constant_regex(r"^[a-z][a-z0-9_-]{0,63}\.[a-z][a-z0-9_-]{0,63}$"));

/// Source of the parameter schemas of plugin handlers.
pub trait HandlerCatalog {
    /// Returns the parameter schemas of `handler` (`plugin.handler`), or a
    /// message saying why it cannot be used (not found, plugin not approved),
    /// such as "plugin `x` not found in /path; add it with ...". Validation
    /// prefixes the field path.
    fn handler_parameters(
        &self,
        handler: &str,
    ) -> Result<BTreeMap<String, ParameterSchema>, String>;
}

/// Validates `workflow` against every rule of the format and against the
/// handlers in `catalog`, and returns all problems found.
pub fn validate(workflow: &Workflow, catalog: &dyn HandlerCatalog) -> Result<(), ValidationErrors> {
    let mut errors = ValidationErrors::default();
    check_metadata(workflow, &mut errors);
    check_parameters(workflow, &mut errors);
    check_steps(workflow, &mut errors);
    check_cycles(workflow, &mut errors);
    check_handlers_and_inputs(workflow, catalog, &mut errors);
    errors.into_result()
}

fn check_metadata(workflow: &Workflow, errors: &mut ValidationErrors) {
    let name_chars = workflow.name.chars().count();
    if name_chars == 0 {
        errors.push("name", "must not be empty; give the workflow a name");
    } else if name_chars > MAX_NAME_CHARS {
        errors.push(
            "name",
            format!("is {name_chars} characters long, more than the limit of {MAX_NAME_CHARS}; shorten it"),
        );
    }
    if workflow.name.chars().any(char::is_control) {
        errors.push(
            "name",
            "contains a control character such as a newline; use printable text",
        );
    }

    if let Err(error) = semver::Version::parse(&workflow.version) {
        errors.push(
            "version",
            format!(
                "{} is not a semantic version ({error}); use MAJOR.MINOR.PATCH such as 1.0.0",
                quoted(&workflow.version)
            ),
        );
    }

    if !WORKFLOW_TYPE.is_match(&workflow.kind) {
        errors.push(
            "type",
            format!(
                "invalid type {}; use lowercase letters and `_` only",
                quoted(&workflow.kind)
            ),
        );
    }

    if let Some(description) = &workflow.description {
        let chars = description.chars().count();
        if chars > MAX_DESCRIPTION_CHARS {
            errors.push(
                "description",
                format!("is {chars} characters long, more than the limit of {MAX_DESCRIPTION_CHARS}; shorten it"),
            );
        }
    }
}

fn check_parameters(workflow: &Workflow, errors: &mut ValidationErrors) {
    let mut first_use: BTreeMap<&str, usize> = BTreeMap::new();
    for (index, parameter) in workflow.parameters.iter().enumerate() {
        let path = format!("parameters[{index}]");

        if !PARAMETER_NAME.is_match(&parameter.name) {
            errors.push(
                format!("{path}.name"),
                format!(
                    "invalid parameter name {}; use 1 to 64 lowercase letters, digits or `_`, not starting with a digit",
                    quoted(&parameter.name)
                ),
            );
        } else if let Some(first) = first_use.get(parameter.name.as_str()) {
            errors.push(
                format!("{path}.name"),
                format!(
                    "duplicate parameter name {}; parameters[{first}] already uses it",
                    quoted(&parameter.name)
                ),
            );
        } else {
            first_use.insert(&parameter.name, index);
        }

        for problem in parameter.schema.check_all() {
            errors.push(format!("{path}.{}", problem.field()), problem.to_string());
        }
    }
}

fn check_steps(workflow: &Workflow, errors: &mut ValidationErrors) {
    let steps = &workflow.steps;
    if steps.is_empty() {
        errors.push("steps", "a workflow needs at least one step");
    } else if steps.len() > MAX_STEPS {
        errors.push(
            "steps",
            format!(
                "has {} steps, more than the limit of {MAX_STEPS}; split the workflow",
                steps.len()
            ),
        );
    }

    let mut first_use: BTreeMap<&str, usize> = BTreeMap::new();
    for (index, step) in steps.iter().enumerate() {
        let path = format!("steps[{index}]");

        if !STEP_ID.is_match(&step.id) {
            errors.push(
                format!("{path}.id"),
                format!(
                    "invalid step id {}; use 1 to 64 lowercase letters, digits, `_` or `-`, starting with a letter",
                    quoted(&step.id)
                ),
            );
        } else if let Some(first) = first_use.get(step.id.as_str()) {
            errors.push(
                format!("{path}.id"),
                format!(
                    "duplicate step id {}; steps[{first}] already uses it",
                    quoted(&step.id)
                ),
            );
        } else {
            first_use.insert(&step.id, index);
        }

        if !HANDLER.is_match(&step.handler) {
            errors.push(
                format!("{path}.handler"),
                format!(
                    "invalid handler {}; use `plugin.handler`, each part 1 to 64 lowercase letters, digits, `_` or `-`, starting with a letter",
                    quoted(&step.handler)
                ),
            );
        }

        if let Some(timeout) = step.timeout_seconds {
            if !(1..=MAX_TIMEOUT_SECONDS).contains(&timeout) {
                errors.push(
                    format!("{path}.timeout_seconds"),
                    format!("is {timeout}, outside the allowed range of 1 to {MAX_TIMEOUT_SECONDS} seconds"),
                );
            }
        }

        if let Some(profile) = &step.profile {
            if !PROFILE_NAME.is_match(profile) {
                errors.push(
                    format!("{path}.profile"),
                    format!(
                        "invalid profile name {}; use 1 to 64 lowercase letters, digits, `_` or `-`, starting with a letter",
                        quoted(profile)
                    ),
                );
            }
        }
    }

    let ids: BTreeSet<&str> = steps.iter().map(|step| step.id.as_str()).collect();
    for (index, step) in steps.iter().enumerate() {
        check_depends_on(index, step, &ids, errors);
    }
}

fn check_depends_on(
    index: usize,
    step: &super::StepSpec,
    ids: &BTreeSet<&str>,
    errors: &mut ValidationErrors,
) {
    let mut seen = BTreeSet::new();
    for (position, dependency) in step.depends_on.iter().enumerate() {
        let path = format!("steps[{index}].depends_on[{position}]");
        if *dependency == step.id {
            errors.push(path, "a step cannot depend on itself; remove this entry");
        } else if !ids.contains(dependency.as_str()) {
            errors.push(
                path,
                format!(
                    "unknown step {}; name the id of a step in this workflow",
                    quoted(dependency)
                ),
            );
        } else if !seen.insert(dependency.as_str()) {
            errors.push(
                path,
                format!("{} is listed twice; remove the repeat", quoted(dependency)),
            );
        }
    }
}

fn check_cycles(workflow: &Workflow, errors: &mut ValidationErrors) {
    for cycle in find_cycles(workflow) {
        let names: Vec<&str> = cycle
            .iter()
            .map(|index| workflow.steps[*index].id.as_str())
            .collect();
        let first = cycle.first().copied().unwrap_or_default();
        errors.push(
            format!("steps[{first}].depends_on"),
            format!(
                "dependency cycle {}; remove one of these dependencies",
                names.join(" -> ")
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflow::testing::{workflow_with, FakeCatalog};

    /// Validates the document and returns the error lines, or "ok".
    fn report(document: serde_json::Value) -> String {
        let workflow = workflow_with(document);
        match validate(&workflow, &FakeCatalog::default()) {
            Ok(()) => "ok".to_string(),
            Err(errors) => errors.to_string(),
        }
    }

    #[test]
    fn constant_patterns_compile() {
        for regex in [
            &STEP_ID,
            &PROFILE_NAME,
            &PARAMETER_NAME,
            &WORKFLOW_TYPE,
            &HANDLER,
        ] {
            assert!(!regex.as_str().is_empty());
        }
    }

    #[test]
    fn sample_validates() {
        let workflow =
            crate::workflow::Workflow::from_json(crate::workflow::testing::SAMPLE.as_bytes())
                .unwrap();
        assert_eq!(validate(&workflow, &FakeCatalog::default()), Ok(()));
    }

    #[test]
    fn metadata_cases() {
        use serde_json::json;
        let long_name = "n".repeat(MAX_NAME_CHARS + 1);
        let long_description = "d".repeat(MAX_DESCRIPTION_CHARS + 1);
        let cases = [
            (json!({"name": "é".repeat(MAX_NAME_CHARS)}), "ok".to_string()),
            (json!({"name": ""}), "name: must not be empty; give the workflow a name".to_string()),
            (
                json!({"name": long_name}),
                "name: is 201 characters long, more than the limit of 200; shorten it".to_string(),
            ),
            (
                json!({"name": "a\nb"}),
                "name: contains a control character such as a newline; use printable text".to_string(),
            ),
            (json!({"version": "1.2.3-rc.1+build"}), "ok".to_string()),
            (
                json!({"version": "1.0"}),
                "version: \"1.0\" is not a semantic version (unexpected end of input while parsing minor version number); use MAJOR.MINOR.PATCH such as 1.0.0".to_string(),
            ),
            (json!({"type": "data_sync"}), "ok".to_string()),
            (
                json!({"type": "Data"}),
                "type: invalid type \"Data\"; use lowercase letters and `_` only".to_string(),
            ),
            (
                json!({"type": ""}),
                "type: invalid type \"\"; use lowercase letters and `_` only".to_string(),
            ),
            (json!({"description": "d".repeat(MAX_DESCRIPTION_CHARS)}), "ok".to_string()),
            (
                json!({"description": long_description}),
                "description: is 1001 characters long, more than the limit of 1000; shorten it".to_string(),
            ),
        ];
        for (document, expected) in cases {
            assert_eq!(report(document.clone()), expected, "document {document}");
        }
    }

    #[test]
    fn parameter_cases() {
        use serde_json::json;
        let cases = [
            (json!({"parameters": [{"name": "_x1", "type": "string"}]}), "ok"),
            (
                json!({"parameters": [{"name": "1x", "type": "string"}]}),
                "parameters[0].name: invalid parameter name \"1x\"; use 1 to 64 lowercase letters, digits or `_`, not starting with a digit",
            ),
            (
                json!({"parameters": [{"name": "a-b", "type": "string"}]}),
                "parameters[0].name: invalid parameter name \"a-b\"; use 1 to 64 lowercase letters, digits or `_`, not starting with a digit",
            ),
            (
                json!({"parameters": [{"name": "x", "type": "string"}, {"name": "x", "type": "number"}]}),
                "parameters[1].name: duplicate parameter name \"x\"; parameters[0] already uses it",
            ),
            (
                json!({"parameters": [{"name": "x", "type": "string", "min_length": 5, "max_length": 2}]}),
                "parameters[0].min_length: `min_length` (5) is greater than `max_length` (2); swap or correct them",
            ),
            (
                json!({"parameters": [{"name": "x", "type": "integer", "max_length": 2}]}),
                "parameters[0].max_length: `max_length` does not apply to a parameter of type integer; remove it or change `type`",
            ),
            (
                json!({"parameters": [{"name": "x", "type": "enum", "values": ["a"], "default": "b"}]}),
                "parameters[0].default: invalid `default`: value \"b\" is not one of the allowed values: a",
            ),
        ];
        for (document, expected) in cases {
            assert_eq!(report(document.clone()), expected, "document {document}");
        }
    }

    #[test]
    fn parameter_name_length_limit() {
        let ok = serde_json::json!({"parameters": [{"name": "p".repeat(64), "type": "string"}]});
        let too_long =
            serde_json::json!({"parameters": [{"name": "p".repeat(65), "type": "string"}]});
        assert_eq!(report(ok), "ok");
        assert!(report(too_long).starts_with("parameters[0].name: invalid parameter name"));
    }

    /// Step ids with their `depends_on` lists.
    type StepGraph<'a> = &'a [(&'a str, &'a [&'a str])];

    /// Builds a document whose steps are given as (id, depends_on) pairs
    /// calling the `t.plain` handler without inputs.
    fn steps(spec: StepGraph) -> serde_json::Value {
        let steps: Vec<serde_json::Value> = spec
            .iter()
            .map(|(id, depends_on)| serde_json::json!({"id": id, "handler": "t.plain", "depends_on": depends_on}))
            .collect();
        serde_json::json!({ "steps": steps })
    }

    #[test]
    fn step_cases() {
        use serde_json::json;
        let cases = [
            (json!({"steps": []}), "steps: a workflow needs at least one step"),
            (
                json!({"steps": [{"id": "Bad", "handler": "t.plain"}]}),
                "steps[0].id: invalid step id \"Bad\"; use 1 to 64 lowercase letters, digits, `_` or `-`, starting with a letter",
            ),
            (
                json!({"steps": [{"id": "a", "handler": "t.plain"}, {"id": "b", "handler": "t.plain"}, {"id": "a", "handler": "t.plain"}]}),
                "steps[2].id: duplicate step id \"a\"; steps[0] already uses it",
            ),
            (
                json!({"steps": [{"id": "a", "handler": "plain"}]}),
                "steps[0].handler: invalid handler \"plain\"; use `plugin.handler`, each part 1 to 64 lowercase letters, digits, `_` or `-`, starting with a letter",
            ),
            (
                json!({"steps": [{"id": "a", "handler": "t.plain.x"}]}),
                "steps[0].handler: invalid handler \"t.plain.x\"; use `plugin.handler`, each part 1 to 64 lowercase letters, digits, `_` or `-`, starting with a letter",
            ),
            (
                json!({"steps": [{"id": "a", "handler": "t.missing"}]}),
                "steps[0].handler: handler `missing` not found in plugin `t`; list handlers with `vwmp plugin show t`",
            ),
            (json!({"steps": [{"id": "a", "handler": "t.plain", "timeout_seconds": 1}]}), "ok"),
            (json!({"steps": [{"id": "a", "handler": "t.plain", "timeout_seconds": 86400}]}), "ok"),
            (
                json!({"steps": [{"id": "a", "handler": "t.plain", "timeout_seconds": 0}]}),
                "steps[0].timeout_seconds: is 0, outside the allowed range of 1 to 86400 seconds",
            ),
            (
                json!({"steps": [{"id": "a", "handler": "t.plain", "timeout_seconds": 86401}]}),
                "steps[0].timeout_seconds: is 86401, outside the allowed range of 1 to 86400 seconds",
            ),
            (json!({"steps": [{"id": "a", "handler": "t.plain", "profile": "net-2_x"}]}), "ok"),
            (
                json!({"steps": [{"id": "a", "handler": "t.plain", "profile": "Strict"}]}),
                "steps[0].profile: invalid profile name \"Strict\"; use 1 to 64 lowercase letters, digits, `_` or `-`, starting with a letter",
            ),
        ];
        for (document, expected) in cases {
            assert_eq!(report(document.clone()), expected, "document {document}");
        }
    }

    #[test]
    fn step_count_limit() {
        let ids: Vec<String> = (0..=MAX_STEPS).map(|index| format!("s{index}")).collect();
        let spec: Vec<(&str, &[&str])> = ids.iter().map(|id| (id.as_str(), &[][..])).collect();
        assert_eq!(
            report(steps(&spec)),
            "steps: has 1001 steps, more than the limit of 1000; split the workflow"
        );
        assert_eq!(report(steps(&spec[..MAX_STEPS])), "ok");
    }

    #[test]
    fn depends_on_cases() {
        let cases: [(StepGraph, &str); 5] = [
            (&[("a", &[]), ("b", &["a"])], "ok"),
            (
                &[("a", &[]), ("b", &["a", "zz"])],
                "steps[1].depends_on[1]: unknown step \"zz\"; name the id of a step in this workflow",
            ),
            (&[("a", &["a"])], "steps[0].depends_on[0]: a step cannot depend on itself; remove this entry"),
            (
                &[("a", &[]), ("b", &["a", "a"])],
                "steps[1].depends_on[1]: \"a\" is listed twice; remove the repeat",
            ),
            (
                &[("a", &[]), ("b", &[]), ("c", &[]), ("d", &["a", "b", "c", "x"])],
                "steps[3].depends_on[3]: unknown step \"x\"; name the id of a step in this workflow",
            ),
        ];
        for (spec, expected) in cases {
            assert_eq!(report(steps(spec)), expected);
        }
    }

    #[test]
    fn cycle_reported() {
        let report = report(steps(&[("a", &["b"]), ("b", &["a"])]));
        assert_eq!(
            report,
            "steps[0].depends_on: dependency cycle a -> b -> a; remove one of these dependencies"
        );
    }

    #[test]
    fn long_cycle_reported() {
        let report = report(steps(&[
            ("x", &[]),
            ("a", &["c", "x"]),
            ("b", &["a"]),
            ("c", &["b"]),
        ]));
        assert_eq!(
            report,
            "steps[1].depends_on: dependency cycle a -> c -> b -> a; remove one of these dependencies"
        );
    }

    #[test]
    fn all_errors_collected() {
        let document = serde_json::json!({
            "name": "",
            "version": "x",
            "type": "X",
            "steps": [{"id": "A", "handler": "bad", "timeout_seconds": 0}],
        });
        let report = report(document);
        let paths: Vec<&str> = report
            .lines()
            .map(|line| line.split(':').next().unwrap_or_default())
            .collect();
        assert_eq!(
            paths,
            vec![
                "name",
                "version",
                "type",
                "steps[0].id",
                "steps[0].handler",
                "steps[0].timeout_seconds"
            ]
        );
    }
}
