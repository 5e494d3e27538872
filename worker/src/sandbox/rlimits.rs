//! Resource limits. Core dumps are always off.

use vwmp_protocol::Limits;

use super::SetupError;
use crate::sys;

/// Applies the limits of the policy, hard and soft alike, so the plugin
/// cannot raise them again.
pub fn apply(limits: &Limits) -> Result<(), SetupError> {
    let table: [(&str, libc::__rlimit_resource_t, Option<u64>); 6] = [
        ("core", libc::RLIMIT_CORE, Some(0)),
        ("memory (RLIMIT_AS)", libc::RLIMIT_AS, limits.memory_bytes),
        (
            "cpu_time (RLIMIT_CPU)",
            libc::RLIMIT_CPU,
            limits.cpu_time_secs,
        ),
        (
            "max_file_size (RLIMIT_FSIZE)",
            libc::RLIMIT_FSIZE,
            limits.max_file_size,
        ),
        (
            "max_open_files (RLIMIT_NOFILE)",
            libc::RLIMIT_NOFILE,
            limits.max_open_files,
        ),
        (
            "max_processes (RLIMIT_NPROC)",
            libc::RLIMIT_NPROC,
            limits.max_processes,
        ),
    ];
    for (name, resource, value) in table {
        if let Some(value) = value {
            sys::set_rlimit(resource, value).map_err(|err| {
                SetupError::new("rlimits", format!("failed to set {name} to {value}: {err}"))
            })?;
        }
    }
    Ok(())
}
