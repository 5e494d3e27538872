//! Fixtures shared by the workflow tests: the sample document, a document
//! builder and a fake handler catalog.

use std::cell::Cell;
use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::{HandlerCatalog, Workflow};
use crate::schema::ParameterSchema;

/// The example document of the workflow format.
pub(crate) const SAMPLE: &str = r#"{
  "name": "hello", "version": "1.0.0", "type": "example", "description": "optional",
  "config": {},
  "parameters": [{"name": "who", "type": "string", "default": "world", "max_length": 64}],
  "steps": [
    {"id": "greet", "handler": "hello.greet", "inputs": {"name": "${params.who}"}},
    {"id": "shout", "handler": "upper.run", "inputs": {"text": "${steps.greet.outputs.message}"},
     "depends_on": ["greet"], "timeout_seconds": 30, "profile": "strict"}
  ]
}"#;

/// Builds a valid one-step workflow, then replaces its top-level fields with
/// those of `overrides`.
pub(crate) fn workflow_with(overrides: Value) -> Workflow {
    let mut document = json!({
        "name": "w",
        "version": "1.0.0",
        "type": "test",
        "steps": [{"id": "a", "handler": "t.plain"}],
    });
    if let (Value::Object(base), Value::Object(changes)) = (&mut document, overrides) {
        base.extend(changes);
    }
    match serde_json::from_value(document) {
        Ok(workflow) => workflow,
        Err(error) => panic!("test document does not decode: {error}"),
    }
}

fn schemas(table: Value) -> BTreeMap<String, ParameterSchema> {
    match serde_json::from_value(table) {
        Ok(schemas) => schemas,
        Err(error) => panic!("test schema does not decode: {error}"),
    }
}

/// Catalog with a few fixed handlers; counts lookups.
#[derive(Default)]
pub(crate) struct FakeCatalog {
    pub(crate) lookups: Cell<usize>,
}

impl HandlerCatalog for FakeCatalog {
    fn handler_parameters(
        &self,
        handler: &str,
    ) -> Result<BTreeMap<String, ParameterSchema>, String> {
        self.lookups.set(self.lookups.get() + 1);
        match handler {
            "hello.greet" => Ok(schemas(json!({"name": {"type": "string", "max_length": 64}}))),
            "upper.run" => Ok(schemas(json!({"text": {"type": "string", "required": true}}))),
            "t.plain" => Ok(BTreeMap::new()),
            "t.typed" => Ok(typed_schemas()),
            other => match other.split_once('.') {
                Some(("t", name)) => Err(format!(
                    "handler `{name}` not found in plugin `t`; list handlers with `vwmp plugin show t`"
                )),
                Some((plugin, _)) => Err(format!(
                    "plugin `{plugin}` not found in /plugins; add it with `vwmp plugin add DIR`"
                )),
                None => Err(format!("invalid handler `{other}`")),
            },
        }
    }
}

/// Schemas of the `t.typed` handler: one parameter of each kind.
pub(crate) fn typed_schemas() -> BTreeMap<String, ParameterSchema> {
    schemas(json!({
        "count": {"type": "integer", "required": true, "min": 1, "max": 10},
        "ratio": {"type": "number", "default": 0.5},
        "mode": {"type": "enum", "values": ["fast", "slow"], "default": "fast"},
        "label": {"type": "string", "pattern": "[a-z]+"},
        "token": {"type": "string", "secret": true, "min_length": 8},
        "flag": {"type": "boolean"},
    }))
}
