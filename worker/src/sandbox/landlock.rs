//! Landlock: filesystem rules, TCP port rules (ABI 4+) and scoping of abstract
//! Unix sockets and signals (ABI 6+).
//!
//! The ruleset uses the best ABI the kernel offers, as a hard requirement, so
//! no requested right is dropped silently. The profile's `min_abi` is checked
//! first and refuses the step on an older kernel.

use std::path::Path;

use landlock::{
    Access, AccessFs, AccessNet, BitFlags, CompatLevel, Compatible, NetPort, PathBeneath, PathFd,
    Ruleset, RulesetAttr, RulesetCreatedAttr, RulesetStatus, Scope, ABI,
};
use vwmp_protocol::{LandlockPolicy, NetworkPolicy};

use super::SetupError;

/// What Landlock enforces after [`apply`].
pub struct Enforced {
    pub abi: u32,
    pub network: bool,
    pub scoped: bool,
}

fn abi_from_version(version: u32) -> ABI {
    match version {
        0 => ABI::Unsupported,
        1 => ABI::V1,
        2 => ABI::V2,
        3 => ABI::V3,
        4 => ABI::V4,
        5 => ABI::V5,
        6 => ABI::V6,
        7 => ABI::V7,
        8 => ABI::V8,
        9 => ABI::V9,
        _ => ABI::V10,
    }
}

/// Highest ABI version this build of the landlock crate knows.
const CRATE_MAX_ABI: u32 = 10;

/// Restricts the calling process with `policy` at the kernel's ABI `kernel_abi`.
pub fn apply(
    policy: &LandlockPolicy,
    network: &NetworkPolicy,
    kernel_abi: u32,
) -> Result<Enforced, SetupError> {
    if kernel_abi == 0 {
        return Err(SetupError::new(
            "landlock",
            "this kernel does not offer Landlock (not built in, or missing from the lsm= boot \
             parameter); use a kernel with Landlock enabled or the `trusted` profile",
        ));
    }
    if kernel_abi < policy.min_abi {
        return Err(SetupError::new(
            "landlock",
            format!(
                "the kernel offers Landlock ABI {kernel_abi} but the profile requires at least {}; \
                 lower landlock.min_abi in the profile or upgrade the kernel",
                policy.min_abi
            ),
        ));
    }
    let version = kernel_abi.min(CRATE_MAX_ABI);
    let abi = abi_from_version(version);
    let fail = |what: &str, err: &dyn std::fmt::Display| {
        SetupError::new("landlock", format!("failed to {what}: {err}"))
    };

    let all_fs = AccessFs::from_all(abi);
    let read_files = AccessFs::ReadFile | AccessFs::ReadDir;
    let exec = read_files | AccessFs::Execute;
    let read_write = all_fs & !BitFlags::from(AccessFs::Execute);

    // Network rules exist from ABI 4 and cover TCP only; UDP and raw sockets
    // are left to seccomp's socket rules.
    let handle_net = version >= 4 && !matches!(network, NetworkPolicy::Host);
    if matches!(network, NetworkPolicy::Tcp { .. }) && version < 4 {
        return Err(SetupError::new(
            "landlock",
            format!(
                "network mode \"tcp\" needs Landlock ABI 4, and the kernel offers {kernel_abi}; \
                 use network mode \"none\" or \"host\", or upgrade the kernel"
            ),
        ));
    }
    // Scopes (ABI 6) keep the plugin from reaching abstract Unix sockets and
    // signalling processes outside its Landlock domain.
    let scopes = if matches!(network, NetworkPolicy::Host) {
        Scope::from_all(abi) & !BitFlags::from(Scope::AbstractUnixSocket)
    } else {
        Scope::from_all(abi)
    };

    let mut ruleset = Ruleset::default()
        .set_compatibility(CompatLevel::HardRequirement)
        .handle_access(all_fs)
        .map_err(|e| fail("handle filesystem access", &e))?;
    if handle_net {
        ruleset = ruleset
            .handle_access(AccessNet::from_all(abi))
            .map_err(|e| fail("handle network access", &e))?;
    }
    if !scopes.is_empty() {
        ruleset = ruleset.scope(scopes).map_err(|e| fail("set scopes", &e))?;
    }
    let mut created = ruleset
        .create()
        .map_err(|e| fail("create the ruleset", &e))?;

    let groups = [
        (&policy.read_only, read_files),
        (&policy.read_write, read_write),
        (&policy.executable, exec),
    ];
    for (paths, access) in groups {
        for path in paths {
            let Some(fd) = open_path(path, policy.ignore_missing_paths)? else {
                continue;
            };
            // Directory-only rights are invalid on a file.
            let access = if Path::new(path).is_dir() {
                access
            } else {
                access & AccessFs::from_file(abi)
            };
            created = created
                .add_rule(PathBeneath::new(fd, access))
                .map_err(|e| fail(&format!("add a rule for {}", path.display()), &e))?;
        }
    }
    if let NetworkPolicy::Tcp { connect, bind } = network {
        for port in connect {
            created = created
                .add_rule(NetPort::new(*port, AccessNet::ConnectTcp))
                .map_err(|e| fail(&format!("allow TCP connect to port {port}"), &e))?;
        }
        for port in bind {
            created = created
                .add_rule(NetPort::new(*port, AccessNet::BindTcp))
                .map_err(|e| fail(&format!("allow TCP bind to port {port}"), &e))?;
        }
    }

    let status = created
        .restrict_self()
        .map_err(|e| fail("enforce the ruleset", &e))?;
    if status.ruleset != RulesetStatus::FullyEnforced {
        return Err(SetupError::new(
            "landlock",
            format!("the ruleset is {:?}, not fully enforced", status.ruleset),
        ));
    }
    Ok(Enforced {
        abi: version,
        network: handle_net,
        scoped: !scopes.is_empty(),
    })
}

fn open_path(path: &Path, ignore_missing: bool) -> Result<Option<PathFd>, SetupError> {
    match PathFd::new(path) {
        Ok(fd) => Ok(Some(fd)),
        Err(_) if ignore_missing && !path.exists() => Ok(None),
        Err(err) => Err(SetupError::new(
            "landlock",
            format!(
                "failed to open {} for a rule: {err}; create it or remove it from the profile",
                path.display()
            ),
        )),
    }
}
