//! Helper of scripts/bench-api.sh, which measures the HTTP API.
//!
//! Subcommands:
//! - `setup`: logs in to a running `vwmp serve`, creates a one-step
//!   workflow, and writes the access token (mode 0600), the workflow id and
//!   the exact bytes of `GET /api/v1/workflows/{id}` into a directory.
//! - `bare`: serves those bytes from a bare warp handler on the same path,
//!   the baseline that the real route is compared with.
//! - `fanout`: executes a workflow of N independent steps of one handler
//!   through the API and prints the steps per second, from the request that
//!   starts it to the first poll that reports it finished.
//!
//! Output lines are `key=value`, for the script to read.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use bytes::Bytes;
use clap::{Parser, Subcommand};
use serde_json::json;
use vwmp_supervisor::client::{ApiClient, ExecutionDetail, ExecutionStarted, WorkflowRecord};
use warp::http::Method;
use warp::Filter;

/// Largest step count of `fanout`; the workflow format allows 1000.
const MAX_FANOUT_STEPS: usize = 1000;

/// Time between two polls of a running fan-out execution.
const POLL_INTERVAL: Duration = Duration::from_millis(5);

#[derive(Debug, Parser)]
#[command(about = "Helper of scripts/bench-api.sh")]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Log in, create a workflow and save the token, id and response bytes.
    Setup {
        /// Address of the running server.
        #[arg(long)]
        server: SocketAddr,
        #[arg(long)]
        username: String,
        /// File whose first line is the password.
        #[arg(long)]
        password_file: PathBuf,
        /// Handler of the workflow's single step, such as `noop.run`.
        #[arg(long)]
        handler: String,
        /// Directory that receives `token`, `workflow_id` and `workflow.json`.
        #[arg(long)]
        out: PathBuf,
    },
    /// Serve FILE's bytes at GET /api/v1/workflows/{id} with bare warp.
    Bare {
        /// Response body.
        #[arg(long)]
        body: PathBuf,
        /// File that receives the listen address once bound.
        #[arg(long)]
        address_file: PathBuf,
    },
    /// Execute an N-step fan-out workflow and print steps per second.
    Fanout {
        #[arg(long)]
        server: SocketAddr,
        /// File whose first line is the access token.
        #[arg(long)]
        token_file: PathBuf,
        /// Handler of every step.
        #[arg(long)]
        handler: String,
        /// Number of independent steps.
        #[arg(long, default_value_t = 200)]
        steps: usize,
        /// Seconds to wait for the execution.
        #[arg(long, default_value_t = 300)]
        timeout: u64,
    },
}

#[tokio::main]
async fn main() -> Result<()> {
    match Args::parse().command {
        Command::Setup {
            server,
            username,
            password_file,
            handler,
            out,
        } => setup(server, &username, &password_file, &handler, &out).await,
        Command::Bare { body, address_file } => bare(&body, &address_file).await,
        Command::Fanout {
            server,
            token_file,
            handler,
            steps,
            timeout,
        } => fanout(server, &token_file, &handler, steps, timeout).await,
    }
}

fn first_line(path: &Path) -> Result<String> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("failed to read {}", path.display()))?;
    let line = text.lines().next().unwrap_or_default().trim().to_string();
    if line.is_empty() {
        bail!(
            "{} is empty; write the value on its first line",
            path.display()
        );
    }
    Ok(line)
}

fn write_private(path: &Path, content: &[u8]) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;

    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("failed to create {}", path.display()))?;
    file.write_all(content)
        .with_context(|| format!("failed to write {}", path.display()))
}

async fn setup(
    server: SocketAddr,
    username: &str,
    password_file: &Path,
    handler: &str,
    out: &Path,
) -> Result<()> {
    let password = first_line(password_file)?;
    let mut client = ApiClient::new(server);
    let login = client.login(username, &password).await?;
    let definition = json!({
        "name": "bench-get",
        "version": "1.0.0",
        "type": "benchmark",
        "description": "The workflow that the GET benchmark reads.",
        "steps": [{"id": "only", "handler": handler}]
    });
    let workflow: WorkflowRecord = client.post_json("/workflows", &definition).await?;
    let path = format!("/workflows/{}", workflow.id);
    let response = client.send(Method::GET, &path, None).await?;

    write_private(&out.join("token"), login.access_token.as_bytes())?;
    std::fs::write(out.join("workflow_id"), &workflow.id)?;
    std::fs::write(out.join("workflow.json"), &response.body)?;
    println!("workflow_id={}", workflow.id);
    println!("body_bytes={}", response.body.len());
    println!("token_lifetime_s={}", login.expires_in);
    Ok(())
}

async fn bare(body: &Path, address_file: &Path) -> Result<()> {
    let bytes = Bytes::from(
        std::fs::read(body).with_context(|| format!("failed to read {}", body.display()))?,
    );
    let route = warp::path!("api" / "v1" / "workflows" / String)
        .and(warp::get())
        .map(move |_id: String| {
            warp::http::Response::builder()
                .header("content-type", "application/json")
                .body(bytes.clone())
        });
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let address = listener.local_addr()?;
    std::fs::write(address_file, address.to_string())?;
    println!("listening=http://{address}");
    warp::serve(route).incoming(listener).run().await;
    Ok(())
}

async fn fanout(
    server: SocketAddr,
    token_file: &Path,
    handler: &str,
    steps: usize,
    timeout: u64,
) -> Result<()> {
    if steps == 0 || steps > MAX_FANOUT_STEPS {
        bail!("invalid --steps {steps}: use 1 to {MAX_FANOUT_STEPS}");
    }
    let mut client = ApiClient::new(server);
    client.set_token(first_line(token_file)?);

    let step_list: Vec<_> = (0..steps)
        .map(|index| json!({"id": format!("s{index}"), "handler": handler}))
        .collect();
    let definition = json!({
        "name": "bench-fanout",
        "version": "1.0.0",
        "type": "benchmark",
        "description": "Independent no-op steps for the throughput benchmark.",
        "steps": step_list
    });
    let workflow: WorkflowRecord = client.post_json("/workflows", &definition).await?;

    let started_at = Instant::now();
    let started: ExecutionStarted = client
        .post_json(
            &format!("/workflows/{}/executions", workflow.id),
            &json!({"parameters": {}}),
        )
        .await?;
    let path = format!("/executions/{}", started.id);
    let deadline = started_at + Duration::from_secs(timeout);
    let detail = loop {
        let detail: ExecutionDetail = client.get_json(&path).await?;
        if detail.is_finished() {
            break detail;
        }
        if Instant::now() > deadline {
            bail!(
                "execution {} still {} after {timeout} s",
                started.id,
                detail.status
            );
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    };
    let elapsed = started_at.elapsed();

    let succeeded = detail
        .steps
        .iter()
        .filter(|step| step.status == "succeeded")
        .count();
    println!("execution_id={}", detail.id);
    println!("status={}", detail.status);
    println!("steps={steps}");
    println!("steps_succeeded={succeeded}");
    println!("seconds={:.3}", elapsed.as_secs_f64());
    println!(
        "steps_per_second={:.1}",
        steps as f64 / elapsed.as_secs_f64()
    );
    if detail.status != "succeeded" {
        let first_error = detail
            .steps
            .iter()
            .find_map(|step| step.error.as_deref())
            .unwrap_or("no step error recorded");
        bail!(
            "execution {} ended {} ({succeeded} of {steps} steps succeeded): {first_error}",
            detail.id,
            detail.status
        );
    }
    Ok(())
}
