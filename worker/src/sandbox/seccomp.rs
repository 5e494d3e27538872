//! seccomp: installs the BPF program the supervisor compiled for the profile.
//!
//! The program already carries the checks seccompiler lacks (architecture,
//! x32 bit, `clone3` answering ENOSYS), so the worker only installs it.

use vwmp_protocol::SeccompProgram;

use super::SetupError;
use crate::sys;

/// Installs `program`; returns its instruction count.
pub fn apply(program: &SeccompProgram) -> Result<u32, SetupError> {
    if program.instructions.is_empty() {
        return Err(SetupError::new("seccomp", "the compiled filter is empty"));
    }
    sys::install_seccomp(&program.instructions).map_err(|err| {
        SetupError::new(
            "seccomp",
            format!(
                "failed to install a filter of {} instructions: {err}",
                program.instructions.len()
            ),
        )
    })?;
    Ok(program.instructions.len() as u32)
}
