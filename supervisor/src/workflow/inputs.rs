//! Step inputs against their handler: handler lookup, template references
//! and literal values at validation time, rendered values at run time.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::errors::ValidationErrors;
use super::template::{
    for_each_string, json_size, parse_string, render_literal, Piece, TemplateRef,
    MAX_RENDERED_BYTES,
};
use super::validate::{HandlerCatalog, HANDLER};
use super::{StepSpec, Workflow};
use crate::schema::ParameterSchema;

/// Parameter schemas of one handler, by parameter name.
type HandlerSchema = BTreeMap<String, ParameterSchema>;

/// Checks every step's handler and inputs: the handler exists, templates
/// are well formed and refer to declared parameters and direct
/// dependencies, inputs are known to the handler, literal inputs validate,
/// and required handler parameters are present.
pub(crate) fn check_handlers_and_inputs(
    workflow: &Workflow,
    catalog: &dyn HandlerCatalog,
    errors: &mut ValidationErrors,
) {
    let parameters: BTreeSet<&str> = workflow
        .parameters
        .iter()
        .map(|parameter| parameter.name.as_str())
        .collect();
    let step_ids: BTreeSet<&str> = workflow.steps.iter().map(|step| step.id.as_str()).collect();

    // Several steps often call the same handler; ask the catalog once.
    let mut lookups: BTreeMap<&str, Result<HandlerSchema, String>> = BTreeMap::new();

    for (index, step) in workflow.steps.iter().enumerate() {
        let scope = ReferenceScope {
            step,
            parameters: &parameters,
            step_ids: &step_ids,
        };
        let templated = check_templates(index, &scope, errors);

        // Templates can only grow the inputs, so inputs already over the cap
        // would fail at every run.
        let size = json_size(&step.inputs);
        if size > MAX_RENDERED_BYTES {
            errors.push(
                format!("steps[{index}].inputs"),
                format!("inputs are {size} bytes as JSON, more than the limit of {MAX_RENDERED_BYTES} bytes; pass large data as files in the workspace"),
            );
        }

        // A malformed handler name is already reported by the step checks.
        if !HANDLER.is_match(&step.handler) {
            continue;
        }
        let lookup = lookups
            .entry(step.handler.as_str())
            .or_insert_with(|| catalog.handler_parameters(&step.handler));
        match lookup {
            Ok(schema) => check_literal_inputs(index, step, schema, &templated, errors),
            Err(message) => errors.push(format!("steps[{index}].handler"), message.clone()),
        }
    }
}

/// Names that a step's templates may refer to.
struct ReferenceScope<'a> {
    step: &'a StepSpec,
    parameters: &'a BTreeSet<&'a str>,
    step_ids: &'a BTreeSet<&'a str>,
}

/// Checks the templates in a step's inputs. Returns the names of the inputs
/// that contain a template, well formed or not, because only the other
/// inputs are literal.
fn check_templates<'a>(
    index: usize,
    scope: &ReferenceScope<'a>,
    errors: &mut ValidationErrors,
) -> BTreeSet<&'a str> {
    let mut templated = BTreeSet::new();
    for (name, value) in &scope.step.inputs {
        let base = format!("steps[{index}].inputs.{name}");
        for_each_string(
            value,
            base.clone(),
            &mut |path, text| match parse_string(text) {
                Err(reason) => {
                    templated.insert(name.as_str());
                    errors.push(path, format!("invalid template: {reason}"));
                }
                Ok(pieces) => {
                    for piece in pieces {
                        if let Piece::Template(reference) = piece {
                            templated.insert(name.as_str());
                            if let Some(message) = reference_problem(&reference, scope) {
                                errors.push(path, message);
                            }
                        }
                    }
                }
            },
        );
    }
    templated
}

/// Returns why `reference` is not allowed in the step, if it is not.
fn reference_problem(reference: &TemplateRef, scope: &ReferenceScope) -> Option<String> {
    match reference {
        TemplateRef::Param { name } => {
            if scope.parameters.contains(name.as_str()) {
                return None;
            }
            Some(format!(
                "`{reference}` refers to parameter `{name}`, which is not declared; add it to `parameters`"
            ))
        }
        TemplateRef::StepOutput { step, .. } => {
            if *step == scope.step.id {
                return Some(format!(
                    "`{reference}` refers to this step's own outputs, which do not exist yet"
                ));
            }
            if !scope.step_ids.contains(step.as_str()) {
                return Some(format!(
                    "`{reference}` refers to step `{step}`, which does not exist"
                ));
            }
            if scope
                .step
                .depends_on
                .iter()
                .any(|dependency| dependency == step)
            {
                return None;
            }
            Some(format!(
                "`{reference}` refers to step `{step}`, which is not in this step's `depends_on`; add `{step}` to `depends_on` (a transitive dependency is not enough)"
            ))
        }
    }
}

/// Checks inputs against the handler schema before any template is
/// rendered: unknown inputs, literal values and required parameters.
fn check_literal_inputs(
    index: usize,
    step: &StepSpec,
    schema: &HandlerSchema,
    templated: &BTreeSet<&str>,
    errors: &mut ValidationErrors,
) {
    for (name, value) in &step.inputs {
        let path = format!("steps[{index}].inputs.{name}");
        let Some(parameter) = schema.get(name) else {
            errors.push(path, unknown_input_message(&step.handler, name, schema));
            continue;
        };
        if templated.contains(name.as_str()) {
            continue;
        }
        if let Some(literal) = render_literal(value) {
            if let Err(error) = parameter.validate_value(&literal) {
                errors.push(path, error.to_string());
            }
        }
    }

    push_missing_required(index, &step.handler, schema, &step.inputs, errors);
}

fn unknown_input_message(handler: &str, name: &str, schema: &HandlerSchema) -> String {
    if schema.is_empty() {
        return format!("handler `{handler}` has no parameter `{name}`; it takes no parameters, so remove this input");
    }
    let known: Vec<&str> = schema.keys().map(String::as_str).collect();
    format!(
        "handler `{handler}` has no parameter `{name}`; its parameters are: {}",
        known.join(", ")
    )
}

fn push_missing_required(
    index: usize,
    handler: &str,
    schema: &HandlerSchema,
    inputs: &Map<String, Value>,
    errors: &mut ValidationErrors,
) {
    for (name, parameter) in schema {
        if parameter.required && !inputs.contains_key(name) {
            errors.push(
                format!("steps[{index}].inputs.{name}"),
                format!(
                    "missing input required by handler `{handler}`; add it to the step's `inputs`"
                ),
            );
        }
    }
}

/// Validates a step's rendered inputs against its handler's schema at run
/// time: every input is known, every required parameter is present and
/// every value satisfies its schema. Paths read `steps[STEP_INDEX].inputs.NAME`.
///
/// Rendered values may contain substituted secrets, so messages never quote
/// a value.
pub fn validate_inputs(
    handler_schema: &BTreeMap<String, ParameterSchema>,
    rendered: &Map<String, Value>,
    step_index: usize,
) -> Result<(), ValidationErrors> {
    let mut errors = ValidationErrors::default();
    for (name, value) in rendered {
        let path = format!("steps[{step_index}].inputs.{name}");
        match handler_schema.get(name) {
            None => errors.push(path, format!("the handler has no parameter `{name}`")),
            Some(parameter) => {
                if let Err(error) = parameter.validate_value_hiding(value, true) {
                    errors.push(path, error.to_string());
                }
            }
        }
    }
    for (name, parameter) in handler_schema {
        if parameter.required && !rendered.contains_key(name) {
            errors.push(
                format!("steps[{step_index}].inputs.{name}"),
                "missing input required by the handler; add it to the step's `inputs`",
            );
        }
    }
    errors.into_result()
}

/// Inserts the handler's default for every parameter that has one and is
/// absent from `inputs`. The engine calls this after rendering and before
/// [`validate_inputs`].
pub fn fill_input_defaults(
    handler_schema: &BTreeMap<String, ParameterSchema>,
    inputs: &mut Map<String, Value>,
) {
    for (name, parameter) in handler_schema {
        if let Some(default) = &parameter.default {
            if !inputs.contains_key(name) {
                inputs.insert(name.clone(), default.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::workflow::testing::{typed_schemas, workflow_with, FakeCatalog};
    use crate::workflow::validate;

    /// Validates a document with the given steps and returns the error lines,
    /// or "ok".
    fn report(document: Value) -> String {
        let workflow = workflow_with(document);
        match validate(&workflow, &FakeCatalog::default()) {
            Ok(()) => "ok".to_string(),
            Err(errors) => errors.to_string(),
        }
    }

    fn typed_step(inputs: Value) -> Value {
        json!({"steps": [{"id": "a", "handler": "t.typed", "inputs": inputs}]})
    }

    #[test]
    fn handler_lookup_errors() {
        let cases = [
            (
                json!({"steps": [{"id": "a", "handler": "zz.run"}]}),
                "steps[0].handler: plugin `zz` not found in /plugins; add it with `vwmp plugin add DIR`",
            ),
            (
                json!({"steps": [{"id": "a", "handler": "t.plain"}, {"id": "b", "handler": "t.gone"}]}),
                "steps[1].handler: handler `gone` not found in plugin `t`; list handlers with `vwmp plugin show t`",
            ),
        ];
        for (document, expected) in cases {
            assert_eq!(report(document.clone()), expected, "document {document}");
        }
    }

    #[test]
    fn handler_looked_up_once() {
        let workflow = workflow_with(json!({"steps": [
            {"id": "a", "handler": "t.plain"},
            {"id": "b", "handler": "t.plain"},
            {"id": "c", "handler": "t.gone"},
            {"id": "d", "handler": "t.gone"},
        ]}));
        let catalog = FakeCatalog::default();
        let errors = validate(&workflow, &catalog).unwrap_err();
        assert_eq!(catalog.lookups.get(), 2);
        assert_eq!(errors.0.len(), 2);
    }

    #[test]
    fn malformed_handler_not_looked_up() {
        let workflow = workflow_with(json!({"steps": [{"id": "a", "handler": "Bad"}]}));
        let catalog = FakeCatalog::default();
        let errors = validate(&workflow, &catalog).unwrap_err();
        assert_eq!(catalog.lookups.get(), 0);
        assert_eq!(errors.0.len(), 1);
    }

    #[test]
    fn literal_input_cases() {
        let cases = [
            (json!({"count": 3}), "ok"),
            (json!({"count": 3, "mode": "slow", "label": "abc", "flag": true, "ratio": 1}), "ok"),
            (json!({"count": 3, "label": "$${x}"}), "steps[0].inputs.label: value \"${x}\" does not match the pattern `[a-z]+`"),
            (json!({"count": 0}), "steps[0].inputs.count: value 0 is less than the minimum 1"),
            (json!({"count": "3"}), "steps[0].inputs.count: expected an integer, found a string"),
            (json!({"count": 3, "mode": "medium"}), "steps[0].inputs.mode: value \"medium\" is not one of the allowed values: fast, slow"),
            (json!({"count": 3, "label": "ABC"}), "steps[0].inputs.label: value \"ABC\" does not match the pattern `[a-z]+`"),
            (json!({"count": 3, "token": "short"}), "steps[0].inputs.token: secret value is shorter than the minimum of 8 characters"),
            (json!({}), "steps[0].inputs.count: missing input required by handler `t.typed`; add it to the step's `inputs`"),
            (
                json!({"count": 3, "colour": "red"}),
                "steps[0].inputs.colour: handler `t.typed` has no parameter `colour`; its parameters are: count, flag, label, mode, ratio, token",
            ),
        ];
        for (inputs, expected) in cases {
            assert_eq!(
                report(typed_step(inputs.clone())),
                expected,
                "inputs {inputs}"
            );
        }
    }

    #[test]
    fn oversized_inputs_rejected() {
        let items = vec![json!("x".repeat(1000)); MAX_RENDERED_BYTES / 1000];
        let document =
            json!({"steps": [{"id": "a", "handler": "t.plain", "inputs": {"items": items}}]});
        let report = report(document);
        assert!(
            report.starts_with("steps[0].inputs: inputs are 525583 bytes as JSON, more than the limit of 524288 bytes"),
            "{report}"
        );
    }

    #[test]
    fn input_for_parameterless_handler() {
        let document = json!({"steps": [{"id": "a", "handler": "t.plain", "inputs": {"x": 1}}]});
        assert_eq!(
            report(document),
            "steps[0].inputs.x: handler `t.plain` has no parameter `x`; it takes no parameters, so remove this input"
        );
    }

    #[test]
    fn templated_inputs_checked_at_run_time() {
        let document = json!({
            "parameters": [{"name": "n", "type": "string"}],
            "steps": [{"id": "a", "handler": "t.typed", "inputs": {"count": "${params.n}", "label": "x${params.n}"}}],
        });
        assert_eq!(report(document), "ok");
    }

    #[test]
    fn template_reference_cases() {
        let cases = [
            (
                json!({"steps": [{"id": "a", "handler": "upper.run", "inputs": {"text": "${params.nope}"}}]}),
                "steps[0].inputs.text: `${params.nope}` refers to parameter `nope`, which is not declared; add it to `parameters`",
            ),
            (
                json!({"steps": [{"id": "a", "handler": "upper.run", "inputs": {"text": "${steps.a.outputs.x}"}}]}),
                "steps[0].inputs.text: `${steps.a.outputs.x}` refers to this step's own outputs, which do not exist yet",
            ),
            (
                json!({"steps": [{"id": "a", "handler": "upper.run", "inputs": {"text": "${steps.zz.outputs.x}"}}]}),
                "steps[0].inputs.text: `${steps.zz.outputs.x}` refers to step `zz`, which does not exist",
            ),
            (
                json!({"steps": [
                    {"id": "a", "handler": "t.plain"},
                    {"id": "b", "handler": "t.plain", "depends_on": ["a"]},
                    {"id": "c", "handler": "upper.run", "depends_on": ["b"], "inputs": {"text": "${steps.a.outputs.x}"}},
                ]}),
                "steps[2].inputs.text: `${steps.a.outputs.x}` refers to step `a`, which is not in this step's `depends_on`; add `a` to `depends_on` (a transitive dependency is not enough)",
            ),
            (
                json!({"steps": [{"id": "a", "handler": "upper.run", "inputs": {"text": "${params.x"}}]}),
                "steps[0].inputs.text: invalid template: `${` has no closing `}`; close the template, or write `$${` for a literal `${`",
            ),
            (
                json!({"steps": [
                    {"id": "a", "handler": "t.plain"},
                    {"id": "b", "handler": "upper.run", "depends_on": ["a"], "inputs": {"text": "${steps.a.outputs.x.y}"}},
                ]}),
                "ok",
            ),
        ];
        for (document, expected) in cases {
            assert_eq!(report(document.clone()), expected, "document {document}");
        }
    }

    #[test]
    fn nested_template_path_named() {
        let document = json!({"steps": [{"id": "a", "handler": "upper.run", "inputs": {
            "text": ["ok", {"inner": "${env.HOME}"}]
        }}]});
        let report = report(document);
        assert!(
            report.starts_with("steps[0].inputs.text[1].inner: invalid template: "),
            "{report}"
        );
        assert_eq!(report.lines().count(), 1, "{report}");
    }

    #[test]
    fn run_time_cases() {
        let schema = typed_schemas();
        let cases = [
            (json!({"count": 3}), "ok"),
            (json!({"count": 11}), "steps[4].inputs.count: rendered value is greater than the maximum 10"),
            (json!({"count": 3, "label": "Hunter2"}), "steps[4].inputs.label: rendered value does not match the pattern `[a-z]+`"),
            (json!({"count": 3, "token": "hunter2"}), "steps[4].inputs.token: secret value is shorter than the minimum of 8 characters"),
            (json!({"count": 3, "extra": 1}), "steps[4].inputs.extra: the handler has no parameter `extra`"),
            (json!({}), "steps[4].inputs.count: missing input required by the handler; add it to the step's `inputs`"),
        ];
        for (rendered, expected) in cases {
            let Value::Object(rendered) = rendered else {
                unreachable!()
            };
            let actual = match validate_inputs(&schema, &rendered, 4) {
                Ok(()) => "ok".to_string(),
                Err(errors) => errors.to_string(),
            };
            assert_eq!(actual, expected);
        }
    }

    #[test]
    fn defaults_filled_when_absent() {
        let Value::Object(mut inputs) = json!({"count": 3, "mode": "slow"}) else {
            unreachable!()
        };
        fill_input_defaults(&typed_schemas(), &mut inputs);
        assert_eq!(
            Value::Object(inputs),
            json!({"count": 3, "mode": "slow", "ratio": 0.5})
        );
    }
}
