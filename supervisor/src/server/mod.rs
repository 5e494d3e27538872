//! `vwmp serve`: the shared application state, startup wiring, background
//! tasks and graceful shutdown.
//!
//! Layout:
//! - `state.rs`: [`AppState`], which every request handler shares.
//! - `audit_sink.rs`: stores audit events in the database.

mod audit_sink;
mod state;

pub use audit_sink::{audit_entry, StoreAuditSink};
pub use state::{AppState, StateParts};
