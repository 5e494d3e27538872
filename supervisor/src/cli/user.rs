//! `vwmp user add`: creates a user in the configured database.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use clap::Args;

use super::serve::load_config;
use crate::audit::{AuditEvent, AuditEventType, AuditLog, AuditOutcome};
use crate::auth::password::check_new_password;
use crate::auth::{generate_password, hash_new_password_async, Password};
use crate::model::Role;
use crate::server::{prepare_state_dir, StoreAuditSink};
use crate::store::{NewUser, Store};

/// Largest password file read, in bytes; a password is at most 1 KiB.
const MAX_PASSWORD_FILE_BYTES: u64 = 4096;

/// Arguments of `vwmp user add`.
#[derive(Debug, Args)]
pub struct UserAddArgs {
    /// Username: lowercase letters, digits, `_`, `.` or `-`, starting with a letter.
    pub name: String,
    /// Role to grant (viewer, editor, executor, admin); repeat for several.
    #[arg(long = "role", value_name = "ROLE", required = true)]
    pub roles: Vec<String>,
    /// File whose first line is the password. Without it, the password is
    /// read twice from the terminal, or generated and printed once when
    /// standard input is not a terminal.
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
    /// Configuration file naming the database.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// Runs `vwmp user add`.
pub async fn add(args: UserAddArgs) -> i32 {
    let roles = match args
        .roles
        .iter()
        .map(|role| Role::parse(role))
        .collect::<Result<Vec<_>, _>>()
    {
        Ok(roles) => roles,
        Err(error) => {
            eprintln!("vwmp: invalid --role: {error}");
            return super::EXIT_USAGE;
        }
    };
    if let Err(error) = crate::store::validate_username(&args.name) {
        eprintln!("vwmp: {error}");
        return super::EXIT_USAGE;
    }
    let config = match load_config(args.config.as_ref()) {
        Ok(config) => config,
        Err(code) => return code,
    };

    let (password, generated) = match read_password(args.password_file.as_deref()) {
        Ok(pair) => pair,
        Err(message) => {
            eprintln!("vwmp: {message}");
            return 1;
        }
    };
    if let Err(error) = check_new_password(&password) {
        eprintln!("vwmp: {error}");
        return 1;
    }

    match create(&config, &args.name, &roles, password.clone()).await {
        Ok(id) => {
            let names: Vec<&str> = roles.iter().map(|role| role.as_str()).collect();
            println!(
                "created user {} ({id}) with roles {}",
                args.name,
                names.join(", ")
            );
            if generated {
                println!("generated password (shown only now): {}", password.expose());
            }
            0
        }
        Err(message) => {
            eprintln!("vwmp: {message}");
            1
        }
    }
}

/// Opens the store, creates the user and audits it; returns the new id.
async fn create(
    config: &crate::config::Config,
    name: &str,
    roles: &[Role],
    password: Password,
) -> Result<String, String> {
    prepare_state_dir(&config.storage.state_dir).map_err(|error| error.to_string())?;
    let store = Store::open(&config.storage.database)
        .await
        .map_err(|error| error.to_string())?;
    let password_hash = hash_new_password_async(password)
        .await
        .map_err(|error| error.to_string())?;
    let result = store
        .create_user(NewUser {
            username: name.to_string(),
            password_hash,
            roles: roles.to_vec(),
        })
        .await;
    let user = match result {
        Ok(user) => user,
        Err(error) => {
            let _ = store.close().await;
            return Err(error.to_string());
        }
    };

    let audit = AuditLog::new().with_store(std::sync::Arc::new(StoreAuditSink::new(store.clone())));
    let event = AuditEvent::builder(AuditEventType::UserCreated, AuditOutcome::Success)
        .detail("username", name)
        .detail("created_user_id", user.id.to_string())
        .detail(
            "roles",
            roles.iter().map(|role| role.as_str()).collect::<Vec<_>>(),
        )
        .detail("via", "vwmp user add")
        .build();
    audit.record(event).await;
    store.close().await.map_err(|error| error.to_string())?;
    Ok(user.id.to_string())
}

/// Reads the password from a file or the terminal, or generates one;
/// returns it and whether it was generated.
fn read_password(file: Option<&Path>) -> Result<(Password, bool), String> {
    if let Some(path) = file {
        return read_password_file(path).map(|password| (password, false));
    }
    if !std::io::stdin().is_terminal() {
        return Ok((generate_password(), true));
    }
    let first = rpassword::prompt_password("password: ")
        .map_err(|error| format!("failed to read the password from the terminal: {error}"))?;
    let second = rpassword::prompt_password("repeat password: ")
        .map_err(|error| format!("failed to read the password from the terminal: {error}"))?;
    if first != second {
        return Err("the two passwords differ: run the command again".to_string());
    }
    Ok((Password::new(first), false))
}

fn read_password_file(path: &Path) -> Result<Password, String> {
    use std::io::Read;

    let file = std::fs::File::open(path)
        .map_err(|error| format!("failed to read password file {}: {error}", path.display()))?;
    let mut text = String::new();
    file.take(MAX_PASSWORD_FILE_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|error| format!("failed to read password file {}: {error}", path.display()))?;
    if text.len() as u64 > MAX_PASSWORD_FILE_BYTES {
        return Err(format!(
            "password file {} exceeds {MAX_PASSWORD_FILE_BYTES} bytes: put only the password in it",
            path.display()
        ));
    }
    let line = text.lines().next().unwrap_or_default();
    if line.is_empty() {
        return Err(format!(
            "password file {} is empty: write the password on its first line",
            path.display()
        ));
    }
    Ok(Password::new(line))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_file_first_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pw");
        std::fs::write(&path, "correct horse battery\nsecond line\n").unwrap();
        let password = read_password_file(&path).unwrap();
        assert_eq!(password.expose(), "correct horse battery");
    }

    #[test]
    fn empty_password_file_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pw");
        std::fs::write(&path, "\n").unwrap();
        assert!(read_password_file(&path).is_err());
    }

    #[test]
    fn large_password_file_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pw");
        std::fs::write(&path, "x".repeat(MAX_PASSWORD_FILE_BYTES as usize + 1)).unwrap();
        assert!(read_password_file(&path).is_err());
    }
}
