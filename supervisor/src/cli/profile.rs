//! `vwmp profile check|show|run`: validate, print and try sandbox profiles.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use tokio::sync::{mpsc, watch};
use vwmp_protocol::{ExitStatus, LogStream, StdoutMode, StepRequest};

use super::{defaults, EXIT_USAGE};
use crate::launcher::{self, LaunchEvent, LauncherConfig, StepEnd};
use crate::profiles::{self, ProfileSet};

/// Exit code when a command timed out (as `timeout(1)` does).
pub const EXIT_TIMEOUT: i32 = 124;

/// Exit code when the sandbox or the worker failed before or around the command.
pub const EXIT_SANDBOX_FAILED: i32 = 125;

/// `vwmp profile` subcommands.
#[derive(Debug, Subcommand)]
pub enum ProfileCommand {
    /// Validate profile files; a file's `extends` is looked up beside it.
    Check {
        /// Profile files (TOML).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Print the fully resolved profile NAME.
    Show {
        name: String,
        /// Directory of sandbox profiles.
        #[arg(long, value_name = "DIR")]
        profiles_dir: Option<PathBuf>,
    },
    /// Run CMD in a fresh worker under profile NAME and report what held.
    Run(ProfileRunArgs),
}

/// Arguments of `vwmp profile run`.
#[derive(Debug, Args)]
pub struct ProfileRunArgs {
    /// Profile name.
    pub name: String,
    /// Workspace and working directory, created if missing [default: a new temporary directory].
    #[arg(long, value_name = "DIR")]
    pub workspace: Option<PathBuf>,
    /// Wall-clock timeout in seconds [default: the profile's limits.timeout].
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<u64>,
    /// Directory of sandbox profiles.
    #[arg(long, value_name = "DIR")]
    pub profiles_dir: Option<PathBuf>,
    /// Command and arguments.
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<String>,
}

/// Runs a `vwmp profile` subcommand.
pub async fn run(command: ProfileCommand) -> i32 {
    match command {
        ProfileCommand::Check { files } => check(&files),
        ProfileCommand::Show { name, profiles_dir } => {
            let dir = defaults::profiles_dir(profiles_dir);
            match ProfileSet::load(&dir).and_then(|set| set.get(&name).map(|p| p.to_toml())) {
                Ok(text) => {
                    print!("{text}");
                    0
                }
                Err(err) => {
                    eprintln!("vwmp: {err}");
                    1
                }
            }
        }
        ProfileCommand::Run(args) => run_command(args).await,
    }
}

fn check(files: &[PathBuf]) -> i32 {
    let mut failed = false;
    for (path, result) in profiles::check_files(files) {
        match result {
            Ok(()) => println!("{}: ok", path.display()),
            Err(err) => {
                failed = true;
                eprintln!("{err}");
            }
        }
    }
    i32::from(failed)
}

/// Finds CMD on the standard PATH when it has no slash.
fn resolve_command(command: &str) -> Option<PathBuf> {
    if command.contains('/') {
        return std::fs::canonicalize(command).ok();
    }
    ["/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin"]
        .iter()
        .map(|dir| Path::new(dir).join(command))
        .find(|path| path.is_file())
        .and_then(|path| std::fs::canonicalize(path).ok())
}

async fn run_command(args: ProfileRunArgs) -> i32 {
    let summary_prefix = format!("vwmp: profile {}", args.name);
    let fail = |message: String| {
        eprintln!("vwmp: {message}");
        EXIT_USAGE
    };
    let dir = defaults::profiles_dir(args.profiles_dir.clone());
    let profiles = match ProfileSet::load(&dir) {
        Ok(set) => set,
        Err(err) => return fail(err.to_string()),
    };
    let Some(program) = resolve_command(&args.command[0]) else {
        return fail(format!(
            "command `{}` not found; give a path or a program in /usr/bin or /bin",
            args.command[0]
        ));
    };
    let plugin_dir = program
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("/"));

    // The workspace: the given directory (created if missing) or a fresh one.
    let (workspace, _temporary) = match &args.workspace {
        Some(path) => {
            if let Err(err) = std::fs::create_dir_all(path) {
                return fail(format!(
                    "failed to create the workspace {}: {err}",
                    path.display()
                ));
            }
            (path.clone(), None)
        }
        None => match tempfile::Builder::new()
            .prefix("vwmp-profile-run-")
            .tempdir()
        {
            Ok(dir) => (dir.path().to_path_buf(), Some(dir)),
            Err(err) => return fail(format!("failed to create a temporary workspace: {err}")),
        },
    };
    let workspace = match std::fs::canonicalize(&workspace) {
        Ok(path) => path,
        Err(err) => {
            return fail(format!(
                "failed to resolve the workspace {}: {err}",
                workspace.display()
            ))
        }
    };
    let run_as = vwmp_protocol::RunAs::default();
    if crate::engine::running_as_root() {
        if let Err(err) = std::os::unix::fs::chown(&workspace, Some(run_as.uid), Some(run_as.gid)) {
            return fail(format!(
                "failed to give the workspace {} to uid {}: {err}",
                workspace.display(),
                run_as.uid
            ));
        }
    }

    let mut policy = match profiles.policy(&args.name, &workspace, &plugin_dir, run_as) {
        Ok(policy) => policy,
        Err(err) => return fail(err.to_string()),
    };
    if let Some(timeout) = args.timeout {
        if timeout == 0 {
            return fail("invalid --timeout 0: give a number of seconds of at least 1".to_string());
        }
        policy.limits.timeout_secs = timeout;
    }
    let timeout = policy.limits.timeout_secs;
    let worker = match defaults::worker_binary() {
        Ok(path) => path,
        Err(message) => return fail(message),
    };
    let request = StepRequest {
        execution_id: defaults::execution_id(),
        step_id: "profile-run".to_string(),
        handler: "profile.run".to_string(),
        program,
        program_digest: None,
        args: args.command[1..].to_vec(),
        stdin: Vec::new(),
        stdout_mode: StdoutMode::Stream,
        workspace,
        plugin_dir,
        policy,
    };

    let (events_tx, mut events_rx) = mpsc::channel(256);
    let (cancel_tx, cancel_rx) = watch::channel(false);
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            let _ = cancel_tx.send(true);
        }
    });
    // The command's output passes through unchanged, line by line.
    let printer = tokio::spawn(async move {
        while let Some(event) = events_rx.recv().await {
            if let LaunchEvent::Log(frame) = event {
                let newline: &[u8] = if frame.truncated { b"" } else { b"\n" };
                match frame.stream {
                    LogStream::Stdout => {
                        let mut out = std::io::stdout().lock();
                        let _ = out.write_all(&frame.data);
                        let _ = out.write_all(newline);
                        let _ = out.flush();
                    }
                    LogStream::Stderr | LogStream::Worker => {
                        let mut err = std::io::stderr().lock();
                        let _ = err.write_all(&frame.data);
                        let _ = err.write_all(newline);
                    }
                }
            }
        }
    });
    let config = LauncherConfig::new(worker);
    let result = launcher::launch(&config, request, events_tx, cancel_rx).await;
    let _ = printer.await;

    let held = result
        .confinement
        .as_ref()
        .map(|c| c.summary())
        .unwrap_or_else(|| "no confinement applied".to_string());
    let (code, outcome) = match &result.end {
        StepEnd::Finished(outcome) => match outcome.status {
            ExitStatus::Exited(code) => (code, format!("exited with code {code}")),
            ExitStatus::Signaled(signal) => {
                let mut text = format!("killed by signal {signal}");
                for hint in &outcome.denial_hints {
                    text.push_str(&format!(" ({hint})"));
                }
                (128 + signal, text)
            }
        },
        StepEnd::TimedOut => (
            EXIT_TIMEOUT,
            format!("timed out after {timeout} s and was killed"),
        ),
        StepEnd::Cancelled => (130, "cancelled".to_string()),
        StepEnd::SandboxFailed(failure) => (
            EXIT_SANDBOX_FAILED,
            format!(
                "sandbox refused ({}): {}; the command did not run",
                failure.layer, failure.reason
            ),
        ),
        StepEnd::Failed(reason) => (EXIT_SANDBOX_FAILED, format!("worker failed: {reason}")),
    };
    eprintln!(
        "{summary_prefix}: {held}; {outcome} in {} ms",
        result.duration.as_millis()
    );
    code
}
