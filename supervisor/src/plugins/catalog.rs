//! The registry seen as a handler catalog for workflow validation.

use std::collections::BTreeMap;

use super::Registry;
use crate::schema::ParameterSchema;
use crate::workflow::HandlerCatalog;

/// Adapts a [`Registry`] to [`HandlerCatalog`].
pub struct RegistryCatalog<'a>(pub &'a Registry);

impl HandlerCatalog for RegistryCatalog<'_> {
    fn handler_parameters(
        &self,
        handler: &str,
    ) -> Result<BTreeMap<String, ParameterSchema>, String> {
        self.0
            .resolve_handler(handler)
            .map(|(_, handler)| handler.parameters.clone())
            .map_err(|err| err.to_string())
    }
}
