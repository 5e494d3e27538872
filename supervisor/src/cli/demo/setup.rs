//! The demo's state directory, its server configuration and its user.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use tempfile::TempDir;

use super::DemoArgs;
use crate::audit::{AuditEvent, AuditEventType, AuditOutcome};
use crate::auth::{generate_password, hash_new_password_async, Password};
use crate::cli::defaults;
use crate::config::Config;
use crate::model::Role;
use crate::server::{AppState, ServerHandle};
use crate::store::{NewUser, StoreError};

/// Name of the user the demo creates.
pub const DEMO_USER: &str = "demo";

/// Roles of the demo user: enough to create and execute a workflow and
/// read its logs, and no admin rights.
pub const DEMO_ROLES: [&str; 3] = ["viewer", "editor", "executor"];

/// File in a kept state directory that contains the demo user's password.
const PASSWORD_FILE: &str = "demo-password";

/// Mode of the demo's temporary directory: the owner may do anything, and
/// others may only traverse it, because workers started as root run as
/// another user and must reach their workspaces inside it.
const TEMP_PARENT_MODE: u32 = 0o711;

/// The demo's directories. A temporary directory (0711) always contains the
/// workspaces, and the state directory too unless `--state-dir` names one.
/// A state directory is 0700, so workspaces under it would be out of the
/// workers' reach when they run as another user.
pub struct StateDir {
    state: PathBuf,
    temporary: TempDir,
    /// Whether `--state-dir` named the state directory.
    requested: bool,
    /// Whether the temporary directory outlives the demo (`--keep`).
    keep: bool,
}

impl StateDir {
    /// Creates the temporary directory and uses `requested` (`--state-dir`)
    /// or a directory inside it as the state directory.
    pub fn prepare(requested: Option<PathBuf>, keep: bool) -> Result<StateDir, String> {
        let temporary = tempfile::Builder::new()
            .prefix("vwmp-demo-")
            .tempdir()
            .map_err(|error| {
                format!(
                    "failed to create a temporary directory under {}: {error}; set TMPDIR to a \
                     writable directory",
                    std::env::temp_dir().display()
                )
            })?;
        std::fs::set_permissions(
            temporary.path(),
            std::fs::Permissions::from_mode(TEMP_PARENT_MODE),
        )
        .map_err(|error| {
            format!(
                "failed to set the mode of {}: {error}",
                temporary.path().display()
            )
        })?;
        let state = requested
            .clone()
            .unwrap_or_else(|| temporary.path().join("state"));
        Ok(StateDir {
            state,
            temporary,
            requested: requested.is_some(),
            keep,
        })
    }

    /// Returns the state directory.
    pub fn path(&self) -> &Path {
        &self.state
    }

    /// Returns the workspace root inside the temporary directory.
    pub fn workspace_root(&self) -> PathBuf {
        self.temporary.path().join("workspaces")
    }

    /// Returns true when the state directory outlives the demo.
    pub fn is_kept(&self) -> bool {
        self.keep || self.requested
    }

    /// Writes the demo user's password into the state directory (mode
    /// 0600) and returns the file's path.
    pub fn write_password(&self, user: &DemoUser) -> Result<PathBuf, String> {
        let path = self.state.join(PASSWORD_FILE);
        let failed = |error: std::io::Error| {
            format!(
                "failed to write the demo password to {}: {error}",
                path.display()
            )
        };
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&path)
            .map_err(failed)?;
        writeln!(file, "{}", user.password.expose()).map_err(failed)?;
        Ok(path)
    }

    /// Removes the temporary directory unless `--keep` was given, and
    /// prints the paths that remain.
    pub fn finish(self) {
        if self.requested {
            println!("vwmp demo: state kept in {}", self.state.display());
        }
        if self.keep {
            let kept = self.temporary.keep();
            println!("vwmp demo: kept {}", kept.display());
            return;
        }
        let path = self.temporary.path().to_path_buf();
        if let Err(error) = self.temporary.close() {
            eprintln!(
                "vwmp: failed to remove the temporary directory {}: {error}",
                path.display()
            );
        }
    }
}

/// Builds the server configuration: defaults, with the state directory,
/// plugins, profiles and worker of this demo, a loopback listener and
/// cookies without `Secure` because the demo speaks plain HTTP. `VWMP_*`
/// variables of the environment are ignored, so the demo never touches a
/// configured server's database.
pub fn config(state: &StateDir, args: &DemoArgs) -> Result<Config, String> {
    let worker = defaults::worker_binary()?;
    let plugins = defaults::plugins_dir(args.plugins_dir.clone());
    let profiles = defaults::profiles_dir(args.profiles_dir.clone());
    let values: Vec<(&str, String)> = vec![
        ("VWMP_SERVER_LISTEN", "127.0.0.1:0".to_string()),
        ("VWMP_STORAGE_STATE_DIR", path_text(state.path())?),
        ("VWMP_ENGINE_PLUGINS_DIR", path_text(&plugins)?),
        ("VWMP_ENGINE_PROFILES_DIR", path_text(&profiles)?),
        ("VWMP_ENGINE_WORKER_PATH", path_text(&worker)?),
        (
            "VWMP_ENGINE_WORKSPACE_ROOT",
            path_text(&state.workspace_root())?,
        ),
        ("VWMP_AUTH_SECURE_COOKIES", "false".to_string()),
    ];
    let env = |name: &str| {
        values
            .iter()
            .find(|(variable, _)| *variable == name)
            .map(|(_, value)| value.clone())
    };
    Config::load(None, &env).map_err(|error| error.to_string())
}

/// Returns a path as UTF-8 text, which configuration values must be.
fn path_text(path: &Path) -> Result<String, String> {
    path.to_str().map(str::to_string).ok_or_else(|| {
        format!(
            "the path {} is not valid UTF-8; use a UTF-8 path",
            path.display()
        )
    })
}

/// Starts the server on a free port of 127.0.0.1.
pub async fn start_server(config: Config) -> Result<ServerHandle, String> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .map_err(|error| format!("failed to listen on a free port of 127.0.0.1: {error}"))?;
    crate::server::start(config, Some(listener))
        .await
        .map_err(|error| format!("failed to start the server: {error}"))
}

/// The demo user and its generated password.
pub struct DemoUser {
    pub username: String,
    pub password: Password,
}

/// Creates the demo user with a generated password directly in the
/// server's database, as `vwmp user add` does, and audits it.
pub async fn create_user(state: &AppState) -> Result<DemoUser, String> {
    let roles = DEMO_ROLES
        .iter()
        .map(|name| Role::parse(name))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| format!("invalid demo role: {error}"))?;
    let password = generate_password();
    let password_hash = hash_new_password_async(password.clone())
        .await
        .map_err(|error| format!("failed to hash the demo password: {error}"))?;
    let user = state
        .store
        .create_user(NewUser {
            username: DEMO_USER.to_string(),
            password_hash,
            roles,
        })
        .await
        .map_err(|error| match error {
            StoreError::Conflict { .. } => format!(
                "failed to create the user {DEMO_USER}: the state directory already has it from \
                 an earlier demo; use a new directory with --state-dir"
            ),
            error => format!("failed to create the user {DEMO_USER}: {error}"),
        })?;
    let event = AuditEvent::builder(AuditEventType::UserCreated, AuditOutcome::Success)
        .detail("username", DEMO_USER)
        .detail("created_user_id", user.id.to_string())
        .detail("roles", DEMO_ROLES.to_vec())
        .detail("via", "vwmp demo")
        .build();
    state.audit.record(event).await;
    Ok(DemoUser {
        username: DEMO_USER.to_string(),
        password,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn temporary_dir_traversable_and_removed() {
        let state = StateDir::prepare(None, false).unwrap();
        let parent = state.path().parent().unwrap().to_path_buf();
        assert_eq!(mode(&parent), TEMP_PARENT_MODE);
        assert!(state.path().starts_with(&parent));
        assert!(state.workspace_root().starts_with(&parent));
        assert!(!state.is_kept());

        state.finish();
        assert!(!parent.exists(), "{} still exists", parent.display());
    }

    #[test]
    fn keep_leaves_temporary_dir() {
        let state = StateDir::prepare(None, true).unwrap();
        let parent = state.path().parent().unwrap().to_path_buf();
        assert!(state.is_kept());

        state.finish();
        assert!(parent.is_dir());
        std::fs::remove_dir_all(&parent).unwrap();
    }

    #[test]
    fn requested_state_dir_kept_apart_from_workspaces() {
        let requested = tempfile::tempdir().unwrap();
        let state = StateDir::prepare(Some(requested.path().to_path_buf()), false).unwrap();
        assert_eq!(state.path(), requested.path());
        assert!(state.is_kept());
        assert!(!state.workspace_root().starts_with(requested.path()));

        let workspaces_parent = state.workspace_root().parent().unwrap().to_path_buf();
        state.finish();
        assert!(requested.path().is_dir());
        assert!(!workspaces_parent.exists());
    }

    #[test]
    fn password_file_private() {
        let requested = tempfile::tempdir().unwrap();
        let state = StateDir::prepare(Some(requested.path().to_path_buf()), false).unwrap();
        let user = DemoUser {
            username: DEMO_USER.to_string(),
            password: Password::new("correct horse battery staple"),
        };
        let path = state.write_password(&user).unwrap();
        assert_eq!(mode(&path), 0o600);
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "correct horse battery staple\n"
        );
        state.finish();
    }
}
