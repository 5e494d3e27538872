//! Launcher: runs one step in a fresh, confined worker process.
//!
//! For each step it creates a socket pair, spawns `vwmp-worker` with an empty
//! environment, /dev/null on stdin and stdout, its own process group and the
//! socket as descriptor 3, runs the handshake, relays logs as they arrive and
//! enforces the wall-clock timeout and cancellation. Whatever happens, the
//! worker's process group is killed and the worker reaped before [`launch`]
//! returns; the worker's pid namespace takes every other process of the step
//! with it.

mod pool;
mod process;
mod wire;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;
use tokio::sync::{mpsc, watch};
use vwmp_protocol::{
    Confinement, LogFrame, SandboxFailure, StepOutcome, StepRequest, SupervisorMessage,
    WorkerMessage, PROTOCOL_VERSION,
};

pub use pool::{Launcher, MAX_POOL_SIZE};
pub use process::find_worker_binary;

/// How long a worker may take to send `Hello` and then its sandbox report.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Bytes of the worker's own stderr kept for error reports.
const WORKER_STDERR_TAIL: usize = 4096;

/// How long a worker may take to exit after sending its outcome.
const EXIT_AFTER_OUTCOME: Duration = Duration::from_secs(2);

/// Launcher settings.
#[derive(Debug, Clone)]
pub struct LauncherConfig {
    /// Path of the `vwmp-worker` binary.
    pub worker_path: PathBuf,
    pub handshake_timeout: Duration,
}

impl LauncherConfig {
    /// Creates a configuration with the default handshake timeout.
    pub fn new(worker_path: PathBuf) -> Self {
        Self {
            worker_path,
            handshake_timeout: HANDSHAKE_TIMEOUT,
        }
    }
}

/// Progress of a running step, sent while it runs.
#[derive(Debug, Clone)]
pub enum LaunchEvent {
    /// The worker confined itself; the plugin is about to start.
    Confined(Confinement),
    Log(LogFrame),
}

/// End state of a step.
#[derive(Debug, Clone)]
pub enum StepEnd {
    /// The plugin ran and ended; its exit status is in the outcome.
    Finished(StepOutcome),
    TimedOut,
    Cancelled,
    /// A mandatory confinement layer could not be applied; no plugin code ran.
    SandboxFailed(SandboxFailure),
    /// The worker failed, misbehaved or rejected the request.
    Failed(String),
}

/// Result of [`launch`].
#[derive(Debug, Clone)]
pub struct LaunchResult {
    pub confinement: Option<Confinement>,
    pub end: StepEnd,
    pub duration: Duration,
}

/// A spawned worker whose `Hello` was read and accepted.
pub(crate) struct ReadyWorker {
    worker: process::Worker,
    socket: tokio::net::UnixStream,
    stderr_tail: Option<tokio::task::JoinHandle<Vec<u8>>>,
}

/// Spawns a worker and completes the first half of the handshake.
pub(crate) async fn start_worker(config: &LauncherConfig) -> Result<ReadyWorker, String> {
    let mut worker = process::spawn_worker(&config.worker_path).map_err(|err| err.to_string())?;
    let stderr_tail = worker.take_stderr().map(|mut stderr| {
        tokio::spawn(async move {
            let mut tail = Vec::new();
            let mut chunk = [0u8; 1024];
            while let Ok(read) = stderr.read(&mut chunk).await {
                if read == 0 {
                    break;
                }
                tail.extend_from_slice(&chunk[..read]);
                if tail.len() > WORKER_STDERR_TAIL {
                    let cut = tail.len() - WORKER_STDERR_TAIL;
                    tail.drain(..cut);
                }
            }
            tail
        })
    });
    let socket = worker.take_socket();
    let mut ready = ReadyWorker {
        worker,
        socket,
        stderr_tail,
    };
    match read_hello(config, &mut ready.socket).await {
        Ok(()) => Ok(ready),
        Err(reason) => {
            ready.worker.kill_group();
            let exit = ready.worker.wait().await;
            let stderr = match ready.stderr_tail.take() {
                Some(task) => task.await.unwrap_or_default(),
                None => Vec::new(),
            };
            Err(process::describe_failure(&reason, exit, &stderr))
        }
    }
}

/// Runs `request` in a new worker and returns how it ended. Logs and the
/// confinement report go to `events` as they arrive; a `true` on `cancel`
/// kills the step.
pub async fn launch(
    config: &LauncherConfig,
    request: StepRequest,
    events: mpsc::Sender<LaunchEvent>,
    cancel: watch::Receiver<bool>,
) -> LaunchResult {
    let started = Instant::now();
    match start_worker(config).await {
        Ok(ready) => run_on(config, ready, started, request, events, cancel).await,
        Err(reason) => LaunchResult {
            confinement: None,
            end: StepEnd::Failed(reason),
            duration: started.elapsed(),
        },
    }
}

/// Runs `request` on a worker that already sent its `Hello`.
pub(crate) async fn run_on(
    config: &LauncherConfig,
    ready: ReadyWorker,
    started: Instant,
    request: StepRequest,
    events: mpsc::Sender<LaunchEvent>,
    mut cancel: watch::Receiver<bool>,
) -> LaunchResult {
    let timeout = Duration::from_secs(request.policy.limits.timeout_secs.max(1));
    let grace = Duration::from_secs(request.policy.limits.kill_grace_secs);
    let ReadyWorker {
        mut worker,
        mut socket,
        stderr_tail,
    } = ready;

    let mut confinement = None;
    let deadline = tokio::time::Instant::from_std(started + timeout);
    let conversation = converse(config, &mut socket, request, &events, &mut confinement);
    let end = tokio::select! {
        end = conversation => end,
        _ = tokio::time::sleep_until(deadline) => StepEnd::TimedOut,
        _ = wait_cancelled(&mut cancel) => StepEnd::Cancelled,
    };

    match end {
        StepEnd::Finished(_) => {
            // The worker exits right after its outcome; give it a moment
            // before the group kill below removes any leftover.
            let _ = tokio::time::timeout(EXIT_AFTER_OUTCOME, worker.wait()).await;
        }
        StepEnd::TimedOut | StepEnd::Cancelled if !grace.is_zero() => {
            worker.terminate_group();
            let _ = tokio::time::timeout(grace, worker.wait()).await;
        }
        _ => {}
    }
    worker.kill_group();
    drop(socket);
    let exit = worker.wait().await;

    let end = match end {
        StepEnd::Failed(reason) => {
            let stderr = match stderr_tail {
                Some(task) => task.await.unwrap_or_default(),
                None => Vec::new(),
            };
            StepEnd::Failed(process::describe_failure(&reason, exit, &stderr))
        }
        other => other,
    };
    LaunchResult {
        confinement,
        end,
        duration: started.elapsed(),
    }
}

async fn wait_cancelled(cancel: &mut watch::Receiver<bool>) {
    loop {
        if *cancel.borrow_and_update() {
            return;
        }
        if cancel.changed().await.is_err() {
            // The sender is gone, so no cancellation can come.
            std::future::pending::<()>().await;
        }
    }
}

/// Reads the worker's `Hello` and checks its protocol version.
async fn read_hello(
    config: &LauncherConfig,
    socket: &mut tokio::net::UnixStream,
) -> Result<(), String> {
    let hello = match tokio::time::timeout(config.handshake_timeout, wire::read(socket)).await {
        Err(_) => {
            return Err(format!(
                "the worker sent no Hello within {} s",
                config.handshake_timeout.as_secs()
            ))
        }
        Ok(Err(err)) => return Err(format!("handshake failed: {err}")),
        Ok(Ok(WorkerMessage::Hello(hello))) => hello,
        Ok(Ok(other)) => {
            return Err(format!(
                "protocol error: expected Hello, received {}",
                wire::name(&other)
            ))
        }
    };
    if hello.protocol_version != PROTOCOL_VERSION {
        let reason = format!(
            "worker speaks protocol version {} and this supervisor speaks {PROTOCOL_VERSION}; \
             install matching vwmp and vwmp-worker binaries",
            hello.protocol_version
        );
        let _ = wire::write(
            socket,
            &SupervisorMessage::Reject {
                reason: reason.clone(),
            },
        )
        .await;
        return Err(reason);
    }
    Ok(())
}

async fn converse(
    config: &LauncherConfig,
    socket: &mut tokio::net::UnixStream,
    request: StepRequest,
    events: &mpsc::Sender<LaunchEvent>,
    confinement: &mut Option<Confinement>,
) -> StepEnd {
    // Handshake, second half: the request, then the sandbox report.
    if let Err(err) = wire::write(socket, &SupervisorMessage::StepRequest(Box::new(request))).await
    {
        return StepEnd::Failed(format!("failed to send the step request: {err}"));
    }
    match tokio::time::timeout(config.handshake_timeout, wire::read(socket)).await {
        Err(_) => {
            return StepEnd::Failed(format!(
                "the worker did not report its sandbox within {} s",
                config.handshake_timeout.as_secs()
            ))
        }
        Ok(Err(err)) => return StepEnd::Failed(format!("handshake failed: {err}")),
        Ok(Ok(WorkerMessage::SandboxApplied(report))) => {
            *confinement = Some(report.clone());
            let _ = events.send(LaunchEvent::Confined(report)).await;
        }
        Ok(Ok(WorkerMessage::SandboxFailed(failure))) => return StepEnd::SandboxFailed(failure),
        Ok(Ok(WorkerMessage::StepError { message })) => return StepEnd::Failed(message),
        Ok(Ok(other)) => {
            return StepEnd::Failed(format!(
                "protocol error: expected a sandbox report, received {}",
                wire::name(&other)
            ))
        }
    }

    // The plugin runs: relay logs until the outcome.
    loop {
        match wire::read(socket).await {
            Ok(WorkerMessage::Log(frame)) => {
                // A dropped receiver means nobody listens; keep draining.
                let _ = events.send(LaunchEvent::Log(frame)).await;
            }
            Ok(WorkerMessage::Outcome(outcome)) => return StepEnd::Finished(outcome),
            Ok(WorkerMessage::StepError { message }) => return StepEnd::Failed(message),
            Ok(other) => {
                return StepEnd::Failed(format!(
                    "protocol error: unexpected {} while the plugin runs",
                    wire::name(&other)
                ))
            }
            Err(err) => return StepEnd::Failed(format!("lost the worker: {err}")),
        }
    }
}
