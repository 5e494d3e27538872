//! Namespace creation: pid (so the whole step dies with its init), ipc, uts,
//! net and mount as the policy asks, inside a user namespace when the worker
//! is not root.

use std::fs;

use vwmp_protocol::{NamespaceMode, NamespacePolicy};

use super::SetupError;
use crate::sys;

/// Namespaces that hold after [`enter`], and whether a user namespace is one.
pub struct Entered {
    pub names: Vec<String>,
    pub user_namespace: bool,
    pub pid_namespace: bool,
}

const APPARMOR_USERNS_SYSCTL: &str = "/proc/sys/kernel/apparmor_restrict_unprivileged_userns";

/// Creates the namespaces of `policy`; `as_root` says whether the worker has
/// the privilege to create them without a user namespace.
pub fn enter(policy: &NamespacePolicy, as_root: bool) -> Result<Entered, SetupError> {
    let wanted = [
        ("pid", policy.pid, libc::CLONE_NEWPID),
        ("ipc", policy.ipc, libc::CLONE_NEWIPC),
        ("uts", policy.uts, libc::CLONE_NEWUTS),
        ("net", policy.net, libc::CLONE_NEWNET),
        ("mount", policy.mount, libc::CLONE_NEWNS),
    ];
    let requested: Vec<_> = wanted
        .iter()
        .filter(|(_, mode, _)| *mode != NamespaceMode::Off)
        .collect();

    // A root worker needs no user namespace: it drops to an unprivileged uid
    // right after. An unprivileged worker needs one to create any other.
    let need_user = !as_root && (!requested.is_empty() || policy.user != NamespaceMode::Off);
    let user_allowed = as_root || policy.user != NamespaceMode::Off || requested.is_empty();
    if need_user && !user_allowed {
        return Err(SetupError::new(
            "namespaces",
            "an unprivileged worker needs a user namespace to create the others; set \
             namespaces.user to \"optional\" or run the supervisor as root",
        ));
    }

    let mut flags = requested.iter().fold(0, |acc, (_, _, flag)| acc | flag);
    if need_user {
        flags |= libc::CLONE_NEWUSER;
    }
    if flags == 0 {
        return Ok(Entered {
            names: Vec::new(),
            user_namespace: false,
            pid_namespace: false,
        });
    }

    let (uid, _, _) = sys::uids();
    let (gid, _, _) = sys::gids();
    let mut result = sys::unshare(flags);
    if result.is_err() {
        // Retry with only the required namespaces (and the user namespace
        // they need) before giving up.
        let required = requested
            .iter()
            .filter(|(_, mode, _)| *mode == NamespaceMode::Required)
            .fold(0, |acc, (_, _, flag)| acc | flag);
        let mut retry = required;
        if need_user && (required != 0 || policy.user == NamespaceMode::Required) {
            retry |= libc::CLONE_NEWUSER;
        }
        if retry != flags {
            flags = retry;
            result = if retry == 0 {
                Ok(())
            } else {
                sys::unshare(retry)
            };
        }
    }
    if let Err(err) = result {
        let mut reason = format!("unshare failed: {err}");
        if flags & libc::CLONE_NEWUSER != 0 && apparmor_restricts_userns() {
            reason.push_str(
                "; AppArmor restricts unprivileged user namespaces on this host \
                 (kernel.apparmor_restrict_unprivileged_userns=1): run the supervisor as root, \
                 allow user namespaces for vwmp-worker in AppArmor, or mark the namespaces optional",
            );
        } else {
            reason.push_str("; mark the namespace \"optional\" in the profile or run as root");
        }
        return Err(SetupError::new("namespaces", reason));
    }

    if flags & libc::CLONE_NEWUSER != 0 {
        map_identity(uid, gid)?;
    }

    let mut names: Vec<String> = wanted
        .iter()
        .filter(|(_, _, flag)| flags & flag != 0)
        .map(|(name, _, _)| (*name).to_string())
        .collect();
    if flags & libc::CLONE_NEWUSER != 0 {
        names.insert(0, "user".to_string());
    }
    Ok(Entered {
        names,
        user_namespace: flags & libc::CLONE_NEWUSER != 0,
        pid_namespace: flags & libc::CLONE_NEWPID != 0,
    })
}

/// Maps the worker's own uid and gid into its new user namespace, so it keeps
/// its identity and gains nothing outside.
fn map_identity(uid: u32, gid: u32) -> Result<(), SetupError> {
    let write = |path: &str, content: String| {
        fs::write(path, content)
            .map_err(|err| SetupError::new("namespaces", format!("failed to write {path}: {err}")))
    };
    write("/proc/self/setgroups", "deny".to_string())?;
    write("/proc/self/uid_map", format!("{uid} {uid} 1"))?;
    write("/proc/self/gid_map", format!("{gid} {gid} 1"))?;
    Ok(())
}

/// Returns true when an unprivileged process may create a user namespace:
/// the limit of user namespaces is not zero, Debian's
/// `kernel.unprivileged_userns_clone` is not 0, and AppArmor does not
/// restrict them.
pub fn unprivileged_user_namespaces() -> bool {
    let read = |path: &str| {
        fs::read_to_string(path)
            .ok()
            .map(|text| text.trim().to_string())
    };
    if read("/proc/sys/user/max_user_namespaces").as_deref() == Some("0") {
        return false;
    }
    if read("/proc/sys/kernel/unprivileged_userns_clone").as_deref() == Some("0") {
        return false;
    }
    !apparmor_restricts_userns()
}

fn apparmor_restricts_userns() -> bool {
    fs::read_to_string(APPARMOR_USERNS_SYSCTL)
        .map(|value| value.trim() == "1")
        .unwrap_or(false)
}
