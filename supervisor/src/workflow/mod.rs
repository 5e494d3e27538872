//! Workflows: the JSON file format, its validation, parameter resolution and
//! the templates that pass values between steps.
//!
//! Typical use: [`Workflow::from_json`], then [`validate`] against a
//! [`HandlerCatalog`]; per execution [`resolve_parameters`] (or
//! [`resolve_parameter_values`]) and [`secret_values`]; per step, in
//! [`topological_order`], [`render_inputs`], [`fill_input_defaults`] and
//! [`validate_inputs`].
//!
//! Layout:
//! - `format.rs`: the document types and the size-checked parser.
//! - `validate.rs`: the rules on metadata, parameters, steps and the graph.
//! - `inputs.rs`: step inputs against handler schemas, templates included.
//! - `graph.rs`: execution order and cycle detection.
//! - `template.rs`: template parsing and rendering.
//! - `params.rs`: parameter values of one execution.
//! - `errors.rs`: field errors with their document paths.

mod errors;
mod format;
mod graph;
mod inputs;
mod params;
mod template;
#[cfg(test)]
mod testing;
mod validate;

pub use errors::{FieldError, ValidationErrors};
pub use format::{
    StepSpec, Workflow, WorkflowError, WorkflowParameter, MAX_DOCUMENT_BYTES, MAX_NESTING_DEPTH,
};
pub use graph::topological_order;
pub use inputs::{fill_input_defaults, validate_inputs};
pub use params::{resolve_parameter_values, resolve_parameters, secret_values};
pub use template::{
    render_inputs, template_references, TemplateContext, TemplateError, TemplateRef,
    MAX_RENDERED_BYTES,
};
pub use validate::{
    validate, HandlerCatalog, MAX_DESCRIPTION_CHARS, MAX_NAME_CHARS, MAX_STEPS, MAX_TIMEOUT_SECONDS,
};
