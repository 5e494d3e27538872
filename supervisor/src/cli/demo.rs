//! `vwmp demo`: starts the server in this process on a free loopback port,
//! creates a user and logs in over HTTP. It then creates an example
//! workflow and executes it through the API, printing progress and log
//! lines, and ends with a table of each step's state, duration, profile and
//! confinement.
//!
//! Everything the demo does goes through the same HTTP routes an API client
//! uses, except creating the user, which `vwmp user add` also does directly
//! in the database.
//!
//! Layout:
//! - `demo.rs`: arguments and the overall sequence.
//! - `demo/setup.rs`: state directory, configuration and the demo user.
//! - `demo/progress.rs`: polling the execution and printing what changed.
//! - `demo/summary.rs`: the closing table.

mod progress;
mod setup;
mod summary;

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::EXIT_USAGE;
use crate::client::{ApiClient, ExecutionStarted, WorkflowRecord};

/// Longest accepted `--timeout`, in seconds (one day).
const MAX_TIMEOUT_SECS: u64 = 24 * 60 * 60;

/// The compiled example plugin; without it the demo runs `hello.json`.
const CHECKSUM_PLUGIN: &str = "checksum";

/// Example workflows, embedded so an installed `vwmp` can run the demo
/// without a source checkout.
const CHECKSUM_WORKFLOW: &str = include_str!("../../../examples/workflows/checksum.json");
const HELLO_WORKFLOW: &str = include_str!("../../../examples/workflows/hello.json");

/// Arguments of `vwmp demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// State directory for the database, signing key and the demo user's
    /// password; it is kept afterwards [default: a new temporary directory,
    /// removed at the end].
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Keep the temporary directory (state and workspaces) and write the
    /// demo user's password into the state directory.
    #[arg(long)]
    pub keep: bool,
    /// Directory of plugin directories [default: examples/plugins in a checkout, else /var/lib/vwmp/plugins].
    #[arg(long, value_name = "DIR")]
    pub plugins_dir: Option<PathBuf>,
    /// Directory of sandbox profiles [default: sandbox-profiles in a checkout, else /etc/vwmp/profiles].
    #[arg(long, value_name = "DIR")]
    pub profiles_dir: Option<PathBuf>,
    /// Seconds to wait for the execution before cancelling it.
    #[arg(long, value_name = "SECONDS", default_value_t = 300)]
    pub timeout: u64,
}

/// Runs `vwmp demo`; returns 0 only when the execution succeeded.
pub async fn run(args: DemoArgs) -> i32 {
    if args.timeout == 0 || args.timeout > MAX_TIMEOUT_SECS {
        eprintln!(
            "vwmp: invalid --timeout {}: use a number of seconds from 1 to {MAX_TIMEOUT_SECS}",
            args.timeout
        );
        return EXIT_USAGE;
    }
    let state = match setup::StateDir::prepare(args.state_dir.clone(), args.keep) {
        Ok(state) => state,
        Err(message) => {
            eprintln!("vwmp: {message}");
            return 1;
        }
    };
    let config = match setup::config(&state, &args) {
        Ok(config) => config,
        Err(message) => {
            eprintln!("vwmp: {message}");
            return EXIT_USAGE;
        }
    };

    let server = match setup::start_server(config).await {
        Ok(server) => server,
        Err(message) => {
            eprintln!("vwmp: {message}");
            return 1;
        }
    };
    println!(
        "vwmp demo: server listening on http://{} (state in {})",
        server.local_addr(),
        state.path().display()
    );

    let code = match drive(&server, &state, Duration::from_secs(args.timeout)).await {
        Ok(true) => 0,
        Ok(false) => 1,
        Err(message) => {
            eprintln!("vwmp: {message}");
            1
        }
    };

    server.shutdown();
    server.wait().await;
    state.finish();
    code
}

/// Creates the user, logs in, creates the workflow and follows its
/// execution; returns whether the execution succeeded.
async fn drive(
    server: &crate::server::ServerHandle,
    state: &setup::StateDir,
    timeout: Duration,
) -> Result<bool, String> {
    let user = setup::create_user(server.state()).await?;
    let mut client = ApiClient::new(server.local_addr());
    client
        .login(&user.username, user.password.expose())
        .await
        .map_err(|error| format!("failed to log in as {}: {error}", user.username))?;
    println!(
        "vwmp demo: logged in over HTTP as {} (roles {})",
        user.username,
        setup::DEMO_ROLES.join(", ")
    );
    if state.is_kept() {
        let path = state.write_password(&user)?;
        println!(
            "vwmp demo: the password of {} is in {}",
            user.username,
            path.display()
        );
    }

    let (name, definition) = pick_workflow(server.state());
    let definition: serde_json::Value = serde_json::from_str(definition)
        .map_err(|error| format!("the embedded workflow {name} is not JSON: {error}"))?;
    let workflow: WorkflowRecord = client
        .post_json("/workflows", &definition)
        .await
        .map_err(|error| format!("failed to create the workflow {name}: {error}"))?;
    println!(
        "vwmp demo: created workflow {} from examples/workflows/{name} ({}, revision {})",
        definition["name"].as_str().unwrap_or("-"),
        workflow.id,
        workflow.revision
    );

    let started: ExecutionStarted = client
        .post_json(
            &format!("/workflows/{}/executions", workflow.id),
            &serde_json::json!({"parameters": {}}),
        )
        .await
        .map_err(|error| format!("failed to start the workflow {name}: {error}"))?;
    println!(
        "vwmp demo: execution {} {}; following it",
        started.id, started.status
    );

    let step_ids = step_ids(&definition);
    let detail = progress::follow(&client, &started.id, &step_ids, timeout).await?;
    summary::print(&detail, &step_ids);

    if detail.status == "succeeded" {
        println!("vwmp demo: execution {} succeeded", detail.id);
        Ok(true)
    } else {
        let reason = detail
            .error
            .as_deref()
            .map(|error| format!(": {error}"))
            .unwrap_or_default();
        eprintln!(
            "vwmp: execution {} ended {}{reason}; see the step lines above",
            detail.id, detail.status
        );
        Ok(false)
    }
}

/// Returns the example workflow to run: `checksum.json` when the compiled
/// checksum plugin is loaded, else `hello.json`.
fn pick_workflow(state: &crate::server::AppState) -> (&'static str, &'static str) {
    if state.plugins.get(CHECKSUM_PLUGIN).is_some() {
        ("checksum.json", CHECKSUM_WORKFLOW)
    } else {
        println!(
            "vwmp demo: the checksum plugin is not built (make -C examples/plugins/checksum); \
             running hello.json instead"
        );
        ("hello.json", HELLO_WORKFLOW)
    }
}

/// Returns the step ids of a workflow definition in file order.
fn step_ids(definition: &serde_json::Value) -> Vec<String> {
    definition["steps"]
        .as_array()
        .map(|steps| {
            steps
                .iter()
                .filter_map(|step| step["id"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_workflows_parse() {
        for (name, text) in [
            ("checksum.json", CHECKSUM_WORKFLOW),
            ("hello.json", HELLO_WORKFLOW),
        ] {
            let workflow = crate::workflow::Workflow::from_json(text.as_bytes());
            assert!(workflow.is_ok(), "{name}: {:?}", workflow.err());
        }
    }

    #[test]
    fn step_ids_in_file_order() {
        let definition: serde_json::Value = serde_json::from_str(CHECKSUM_WORKFLOW).unwrap();
        assert_eq!(
            step_ids(&definition),
            vec!["upper", "hash", "hash_original"]
        );
    }
}
