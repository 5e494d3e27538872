//! Builds the [`SandboxPolicy`] a worker applies for one step from a resolved
//! profile, the step's workspace and the plugin's directory.

use std::path::Path;

use vwmp_protocol::{LandlockPolicy, NetworkPolicy, RunAs, SandboxPolicy};

use super::error::ProfileError;
use super::file::NetworkMode;
use super::paths::{check_step_directory, StepDirectories};
use super::resolved::ResolvedProfile;

/// Builds the policy for one step.
///
/// Landlock paths are sent with `ignore_missing_paths = true`, because system
/// paths such as `/lib64` or `/sbin` do not exist on every distribution. The
/// workspace and the plugin directory themselves must exist; the worker checks
/// them, since it receives both paths in the step request.
pub(crate) fn build_policy<'a>(
    profile: &ResolvedProfile,
    workspace: &'a Path,
    plugin_dir: &'a Path,
    run_as: RunAs,
) -> Result<SandboxPolicy, ProfileError> {
    let checked = |variable: &'static str, path: &'a Path| {
        check_step_directory(path).map_err(|reason| ProfileError::InvalidDirectory {
            variable,
            path: path.to_path_buf(),
            reason,
        })
    };
    let directories = StepDirectories {
        workspace: checked("workspace", workspace)?,
        plugin_dir: checked("plugin_dir", plugin_dir)?,
    };

    let landlock = profile.landlock.enabled.then(|| {
        let paths = |templates: &[String]| {
            templates
                .iter()
                .map(|template| directories.substitute_path(template))
                .collect()
        };
        LandlockPolicy {
            min_abi: profile.landlock.min_abi,
            read_only: paths(&profile.filesystem.read_only),
            read_write: paths(&profile.filesystem.read_write),
            executable: paths(&profile.filesystem.executable),
            ignore_missing_paths: true,
        }
    });

    let network = match profile.network.mode {
        NetworkMode::None => NetworkPolicy::None,
        NetworkMode::Tcp => NetworkPolicy::Tcp {
            connect: profile.network.connect_ports.clone(),
            bind: profile.network.bind_ports.clone(),
        },
        NetworkMode::Host => NetworkPolicy::Host,
    };

    let environment = profile
        .environment
        .iter()
        .map(|(name, value)| (name.clone(), directories.substitute(value)))
        .collect();

    Ok(SandboxPolicy {
        profile_name: profile.name.clone(),
        profile_hash: profile.hash.clone(),
        limits: profile.limits.to_policy(),
        landlock,
        network,
        seccomp: profile.seccomp.clone(),
        namespaces: profile.namespaces.to_policy(),
        environment,
        run_as,
    })
}
