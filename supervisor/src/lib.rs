//! The VWMP supervisor library: everything behind the `vwmp` command.
//!
//! Layout, one folder per concern:
//! - `schema/`: parameter schemas shared by workflows and plugin handlers.
//! - `workflow/`: the workflow file format, its validation and templates.
//! - `plugins/`: plugin manifests, digests and the plugin registry.
//! - `profiles/`: sandbox profile files, their resolution and seccomp compilation.
//! - `launcher/`: spawns one confined worker per step and supervises it.
//! - `engine/`: the DAG scheduler that runs a workflow's steps.
//! - `cli/`: the `vwmp` command line.
#![deny(unsafe_code)]

pub mod cli;
pub mod engine;
pub mod launcher;
pub mod plugins;
pub mod profiles;
pub mod schema;
pub mod workflow;
