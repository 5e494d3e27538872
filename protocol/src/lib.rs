//! Wire types shared by the VWMP supervisor and its workers.
//!
//! Layout:
//! - [`codec`]: length-prefixed bincode frames with explicit size limits.
//! - [`messages`]: the handshake, step request, sandbox report, logs and outcome.
//! - [`policy`]: the resolved sandbox policy that travels to a worker.
//! - [`stdio`]: the JSON document a plugin reads on stdin (plugin ABI v1).
//!
//! This crate performs no I/O policy of its own and starts no async runtime, so
//! both the synchronous worker and the tokio-based supervisor can use it.
#![forbid(unsafe_code)]

pub mod codec;
pub mod messages;
pub mod policy;
pub mod stdio;

pub use codec::{decode, encode, CodecError, FrameReader, FrameWriter, MAX_CONTROL_FRAME};
pub use messages::*;
pub use policy::*;

/// Version of the supervisor-worker protocol; both sides must agree exactly.
pub const PROTOCOL_VERSION: u32 = 1;

/// Version of the plugin stdio ABI this release speaks.
pub const PLUGIN_API_VERSION: u32 = 1;
