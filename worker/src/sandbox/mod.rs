//! Confinement of the worker, applied in one fixed order:
//!
//! 1. die with the parent (`PR_SET_PDEATHSIG`), done at start-up;
//! 2. close every descriptor but the supervisor socket, done at start-up;
//! 3. namespaces;
//! 4. privilege drop (setgroups, setresgid, setresuid, empty capabilities);
//!    a root worker that can create a user namespace as the worker user
//!    switches identity before step 3 instead, and empties the namespace's
//!    capabilities here; the parent death signal, which the kernel clears
//!    when the uid or gid changes, is set again;
//! 5. rlimits (core dumps always off);
//! 6. `PR_SET_NO_NEW_PRIVS`;
//! 7. Landlock;
//! 8. seccomp, last, because it forbids the calls the earlier steps make.
//!
//! A mandatory layer that cannot be applied fails the whole step before any
//! plugin code runs. The returned [`Confinement`] states what actually holds.

pub mod landlock;
pub mod namespaces;
pub mod privileges;
pub mod rlimits;
pub mod seccomp;

use vwmp_protocol::{Confinement, KernelFeatures, NamespaceMode, SandboxFailure, SandboxPolicy};

use crate::sys;

/// A confinement layer that could not be applied.
#[derive(Debug)]
pub struct SetupError {
    pub layer: &'static str,
    pub reason: String,
}

impl SetupError {
    /// Creates an error for `layer`.
    pub fn new(layer: &'static str, reason: impl Into<String>) -> Self {
        Self {
            layer,
            reason: reason.into(),
        }
    }

    /// Converts the error into its wire form.
    pub fn into_failure(self) -> SandboxFailure {
        SandboxFailure {
            layer: self.layer.to_string(),
            reason: self.reason,
        }
    }
}

/// Applies steps 3 to 8 of the module documentation to the calling process.
pub fn confine(
    policy: &SandboxPolicy,
    features: &KernelFeatures,
) -> Result<Confinement, SetupError> {
    let as_root = features.running_as_root;
    let supervisor = sys::parent_pid();

    // A root worker switches to run_as before creating its namespaces when
    // the kernel lets an unprivileged user create a user namespace. The
    // namespaces then belong to that user, and RLIMIT_NPROC counts the step's
    // processes in its own user namespace rather than every process of the
    // uid, so one step's fork bomb cannot starve the others.
    let switch_first = as_root
        && policy.namespaces.user != NamespaceMode::Off
        && namespaces::unprivileged_user_namespaces();
    if switch_first {
        privileges::switch_identity_early(policy.run_as)?;
    }
    let privileged = as_root && !switch_first;

    // Otherwise namespaces come first because creating them needs the
    // privileges that the next step drops.
    let entered = namespaces::enter(&policy.namespaces, privileged)?;

    // Privilege drop: a root worker becomes run_as; every worker ends with no
    // capabilities, including those a new user namespace grants.
    let identity = privileges::drop_privileges(policy.run_as, privileged)?;
    if as_root && (identity.uid != policy.run_as.uid || identity.gid != policy.run_as.gid) {
        return Err(SetupError::new(
            "privileges",
            format!(
                "running as uid {} gid {} instead of run_as {} {}",
                identity.uid, identity.gid, policy.run_as.uid, policy.run_as.gid
            ),
        ));
    }

    // The kernel clears the parent death signal when the effective or
    // filesystem uid or gid changes (prctl(2), PR_SET_PDEATHSIG), so it is
    // set again here. A supervisor that exited in between left this process with
    // another parent, which ends the step.
    sys::set_parent_death_signal().map_err(|err| {
        SetupError::new("die_with_parent", format!("PR_SET_PDEATHSIG failed: {err}"))
    })?;
    if sys::parent_pid() != supervisor {
        return Err(SetupError::new(
            "die_with_parent",
            "the supervisor exited while the worker confined itself",
        ));
    }

    // Limits are set after the drop, so the plugin's uid cannot raise them.
    rlimits::apply(&policy.limits)?;

    // No exec can regain privileges after this, which both Landlock and
    // seccomp also require of an unprivileged caller.
    sys::set_no_new_privs()
        .map_err(|err| SetupError::new("no_new_privs", format!("prctl failed: {err}")))?;
    sys::set_not_dumpable()
        .map_err(|err| SetupError::new("no_new_privs", format!("PR_SET_DUMPABLE failed: {err}")))?;

    let enforced = match &policy.landlock {
        Some(rules) => Some(landlock::apply(
            rules,
            &policy.network,
            features.landlock_abi,
        )?),
        None => None,
    };

    // seccomp is last: it denies unshare, setns and the other calls above.
    let seccomp_instructions = match &policy.seccomp {
        Some(program) => {
            if !features.seccomp_filter {
                return Err(SetupError::new(
                    "seccomp",
                    "this kernel does not support seccomp filters; use a kernel built with \
                     CONFIG_SECCOMP_FILTER or the `trusted` profile",
                ));
            }
            Some(seccomp::apply(program)?)
        }
        None => None,
    };

    let kill_scope = if entered.pid_namespace {
        "pid-namespace"
    } else {
        "process-group"
    };
    Ok(Confinement {
        landlock_abi: enforced.as_ref().map(|e| e.abi),
        landlock_network: enforced.as_ref().is_some_and(|e| e.network),
        landlock_scoped: enforced.as_ref().is_some_and(|e| e.scoped),
        seccomp_instructions,
        namespaces: entered.names,
        cgroup: None,
        kill_scope: kill_scope.to_string(),
        uid: identity.uid,
        gid: identity.gid,
        no_new_privs: sys::no_new_privs(),
        capabilities_dropped: true,
        rlimits: true,
    })
}
