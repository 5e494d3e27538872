//! Checks a stored workflow revision and the caller's parameter values, and
//! builds the engine's plan and the masked parameters that the store keeps.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::StartError;
use crate::engine::redact::{Redactor, MASK};
use crate::engine::{Engine, ExecutionPlan};
use crate::model::ExecutionId;
use crate::plugins::RegistryCatalog;
use crate::store::WorkflowRecord;
use crate::workflow::{self, Workflow};

/// An execution that passed every check, ready to record and run.
pub(super) struct Prepared {
    pub plan: ExecutionPlan,
    /// Parameter values as stored: secret parameters replaced by the mask,
    /// and secret text inside other values masked too.
    pub stored_parameters: Value,
    /// Step ids in workflow order.
    pub step_ids: Vec<String>,
}

/// Parses and validates revision `record` against the engine's plugins, then
/// resolves `provided` against its parameter schema (defaults filled in).
pub(super) fn prepare(
    engine: &Engine,
    record: &WorkflowRecord,
    provided: &Map<String, Value>,
    execution_id: &ExecutionId,
) -> Result<Prepared, StartError> {
    let workflow_id = &record.summary.id;
    let workflow = Workflow::from_json(record.definition.as_bytes()).map_err(|err| {
        StartError::UnreadableDefinition {
            workflow_id: workflow_id.clone(),
            revision: record.version,
            reason: err.to_string(),
        }
    })?;

    // Plugins may have been removed or changed since the workflow was saved.
    let catalog = RegistryCatalog(engine.plugins());
    workflow::validate(&workflow, &catalog).map_err(|errors| StartError::InvalidWorkflow {
        workflow_id: workflow_id.clone(),
        revision: record.version,
        errors,
    })?;

    let parameters = workflow::resolve_parameter_values(&workflow, provided)
        .map_err(StartError::InvalidParameters)?;
    let secrets = workflow::secret_values(&workflow, &parameters);
    let stored_parameters = mask_parameters(&workflow, &parameters, &secrets);
    let step_ids = workflow.steps.iter().map(|step| step.id.clone()).collect();

    Ok(Prepared {
        plan: ExecutionPlan {
            execution_id: execution_id.to_string(),
            workflow: Arc::new(workflow),
            parameters,
            secrets,
        },
        stored_parameters,
        step_ids,
    })
}

/// Replaces the value of every secret parameter by [`MASK`], whatever its
/// length, and masks secret text that also appears in other values.
fn mask_parameters(workflow: &Workflow, values: &Map<String, Value>, secrets: &[String]) -> Value {
    let redactor = Redactor::new(secrets);
    let mut masked = Map::new();
    for (name, value) in values {
        let secret = workflow
            .parameters
            .iter()
            .any(|parameter| parameter.name == *name && parameter.schema.secret);
        let value = if secret {
            Value::String(MASK.to_string())
        } else {
            redactor.json(value)
        };
        masked.insert(name.clone(), value);
    }
    Value::Object(masked)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn workflow(parameters: Value) -> Workflow {
        let document = json!({
            "name": "masking", "version": "1.0.0", "type": "test",
            "parameters": parameters,
            "steps": [{"id": "one", "handler": "hello.greet", "inputs": {"name": "x"}}]
        });
        Workflow::from_json(document.to_string().as_bytes()).unwrap()
    }

    #[test]
    fn secret_parameters_masked() {
        let workflow = workflow(json!([
            {"name": "token", "type": "string", "secret": true},
            {"name": "pin", "type": "integer", "secret": true},
            {"name": "short", "type": "string", "secret": true},
            {"name": "note", "type": "string"}
        ]));
        let Value::Object(values) = json!({
            "token": "tok-123456", "pin": 4242, "short": "ab", "note": "uses tok-123456 twice"
        }) else {
            unreachable!()
        };
        let secrets = workflow::secret_values(&workflow, &values);
        let masked = mask_parameters(&workflow, &values, &secrets);
        assert_eq!(masked["token"], MASK);
        assert_eq!(masked["pin"], MASK);
        assert_eq!(masked["short"], MASK, "short secrets are masked by name");
        assert_eq!(masked["note"], format!("uses {MASK} twice"));
    }

    #[test]
    fn plain_parameters_kept() {
        let workflow = workflow(json!([{"name": "who", "type": "string"}]));
        let Value::Object(values) = json!({"who": "Ada"}) else {
            unreachable!()
        };
        let masked = mask_parameters(&workflow, &values, &[]);
        assert_eq!(masked, json!({"who": "Ada"}));
    }
}
