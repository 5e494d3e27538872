//! Privilege drop: a root worker becomes the configured unprivileged user with
//! no supplementary groups; every worker ends with empty capability sets.

use vwmp_protocol::RunAs;

use super::SetupError;
use crate::sys;

/// Identity after the drop.
pub struct Dropped {
    pub uid: u32,
    pub gid: u32,
}

/// Switches a root worker to `run_as` (no supplementary groups, empty
/// bounding set) before it creates its namespaces, so that they belong to the
/// unprivileged user. [`drop_privileges`] with `as_root = false` then empties
/// the capabilities the new user namespace grants.
pub fn switch_identity_early(run_as: RunAs) -> Result<(), SetupError> {
    let fail = |what: &str, err: std::io::Error| {
        SetupError::new("privileges", format!("failed to {what}: {err}"))
    };
    if run_as.uid == 0 || run_as.gid == 0 {
        return Err(SetupError::new(
            "privileges",
            "the worker user must not be root; set run_as to an unprivileged uid and gid (default 65534)",
        ));
    }
    sys::clear_ambient_capabilities().map_err(|e| fail("clear ambient capabilities", e))?;
    drop_bounding_set()?;
    sys::clear_groups().map_err(|e| fail("clear supplementary groups", e))?;
    sys::set_gid(run_as.gid).map_err(|e| fail(&format!("switch to gid {}", run_as.gid), e))?;
    sys::set_uid(run_as.uid).map_err(|e| fail(&format!("switch to uid {}", run_as.uid), e))?;
    // The uid change made the process non-dumpable, which leaves its /proc
    // files owned by root; the namespace step must write its uid_map. The
    // no_new_privs step marks it non-dumpable again.
    sys::set_dumpable().map_err(|e| fail("mark the process dumpable", e))?;
    Ok(())
}

fn drop_bounding_set() -> Result<(), SetupError> {
    for cap in 0..=sys::last_capability() {
        // EINVAL means the kernel does not know this capability.
        if let Err(err) = sys::drop_bounding_capability(cap) {
            if err.raw_os_error() != Some(libc::EINVAL) {
                return Err(SetupError::new(
                    "privileges",
                    format!("failed to drop capability {cap} from the bounding set: {err}"),
                ));
            }
        }
    }
    Ok(())
}

/// Drops privileges. `as_root` is the identity the worker started with.
pub fn drop_privileges(run_as: RunAs, as_root: bool) -> Result<Dropped, SetupError> {
    let fail = |what: &str, err: std::io::Error| {
        SetupError::new("privileges", format!("failed to {what}: {err}"))
    };

    if as_root && (run_as.uid == 0 || run_as.gid == 0) {
        return Err(SetupError::new(
            "privileges",
            "the worker user must not be root; set run_as to an unprivileged uid and gid (default 65534)",
        ));
    }

    // The bounding set limits what any later exec could regain; clearing it
    // needs CAP_SETPCAP, which root and a fresh user namespace both have.
    sys::clear_ambient_capabilities().map_err(|e| fail("clear ambient capabilities", e))?;
    let has_setpcap = !sys::capabilities_are_empty().unwrap_or(true);
    if has_setpcap {
        for cap in 0..=sys::last_capability() {
            // EINVAL means the kernel does not know this capability.
            if let Err(err) = sys::drop_bounding_capability(cap) {
                if err.raw_os_error() != Some(libc::EINVAL) {
                    return Err(fail(
                        &format!("drop capability {cap} from the bounding set"),
                        err,
                    ));
                }
            }
        }
    }

    if as_root {
        sys::clear_groups().map_err(|e| fail("clear supplementary groups", e))?;
        sys::set_gid(run_as.gid).map_err(|e| fail(&format!("switch to gid {}", run_as.gid), e))?;
        sys::set_uid(run_as.uid).map_err(|e| fail(&format!("switch to uid {}", run_as.uid), e))?;
    }
    sys::clear_capabilities().map_err(|e| fail("clear capability sets", e))?;

    // Verify instead of trusting the calls above.
    let (real, effective, saved) = sys::uids();
    let (greal, geffective, gsaved) = sys::gids();
    if as_root
        && (real == 0
            || effective == 0
            || saved == 0
            || greal == 0
            || geffective == 0
            || gsaved == 0)
    {
        return Err(SetupError::new(
            "privileges",
            "still root after the switch; refusing to run the step",
        ));
    }
    match sys::capabilities_are_empty() {
        Ok(true) => {}
        Ok(false) => {
            return Err(SetupError::new(
                "privileges",
                "capability sets are not empty after the drop",
            ))
        }
        Err(err) => return Err(fail("read capability sets", err)),
    }
    Ok(Dropped {
        uid: effective,
        gid: geffective,
    })
}
