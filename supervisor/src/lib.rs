//! The VWMP supervisor library: everything behind the `vwmp` command.
//!
//! Layout, one folder per concern:
//! - `schema/`: parameter schemas shared by workflows and plugin handlers.
//! - `workflow/`: the workflow file format, its validation and templates.
//! - `plugins/`: plugin manifests, digests and the plugin registry.
//! - `profiles/`: sandbox profile files, their resolution and seccomp compilation.
//! - `launcher/`: spawns one confined worker per step and supervises it.
//! - `engine/`: the DAG scheduler that runs a workflow's steps.
//! - `executions/`: the server's execution service: queue, background runs,
//!   cancel, live events and shutdown.
//! - `model/`: validated ids and roles shared by the store, auth and API.
//! - `store/`: SQLite storage of users, workflows, executions, logs and audit.
//! - `auth/`: passwords, tokens, API keys, throttling and role checks.
//! - `config/`: the server configuration file and `VWMP_*` overrides.
//! - `audit/`: audit events and redaction of secret shapes.
//! - `metrics/`: counters and histograms for `GET /metrics` (Prometheus text).
//! - `api/`: the HTTP API routes (warp).
//! - `server/`: `vwmp serve`: wiring, background tasks and shutdown.
//! - `client/`: a small HTTP client of the API, for `vwmp demo` and benchmarks.
//! - `cli/`: the `vwmp` command line.
#![deny(unsafe_code)]

pub mod api;
pub mod audit;
pub mod auth;
pub mod cli;
pub mod client;
pub mod config;
pub mod engine;
pub mod executions;
pub mod launcher;
pub mod metrics;
pub mod model;
pub mod plugins;
pub mod profiles;
pub mod schema;
pub mod server;
pub mod store;
pub mod workflow;
