//! The JSON document a plugin reads on stdin (plugin stdio ABI v1).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Input of one plugin run, written to its stdin followed by EOF.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PluginInput {
    pub api_version: u32,
    pub execution_id: String,
    pub step_id: String,
    pub handler: String,
    /// Parameter values after template substitution.
    pub parameters: serde_json::Map<String, serde_json::Value>,
    pub workspace: PathBuf,
}
