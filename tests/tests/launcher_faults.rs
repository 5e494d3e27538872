//! A worker that misbehaves fails its step with a clear reason and leaves
//! the supervisor working: fake workers (shell scripts speaking on fd 3)
//! exit early, hang in the handshake, send garbage or oversized frames.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};
use vwmp_protocol::{RunAs, StdoutMode, StepRequest};
use vwmp_supervisor::launcher::{self, LaunchResult, LauncherConfig, StepEnd};
use vwmp_supervisor::profiles::ProfileSet;

fn fake_worker(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn request(workspace: &Path) -> StepRequest {
    let profiles = ProfileSet::load(&common::profiles_dir()).unwrap();
    let policy = profiles
        .policy("strict", workspace, Path::new("/usr/bin"), RunAs::default())
        .unwrap();
    StepRequest {
        execution_id: "faults".into(),
        step_id: "step".into(),
        handler: "faults.run".into(),
        program: PathBuf::from("/bin/true"),
        program_digest: None,
        args: Vec::new(),
        stdin: Vec::new(),
        stdout_mode: StdoutMode::Stream,
        workspace: workspace.to_path_buf(),
        plugin_dir: PathBuf::from("/usr/bin"),
        policy,
    }
}

async fn launch_with(worker: PathBuf, handshake: Duration) -> (LaunchResult, Duration) {
    let workspace = tempfile::tempdir().unwrap();
    let mut config = LauncherConfig::new(worker);
    config.handshake_timeout = handshake;
    let (events, mut receiver) = mpsc::channel(16);
    let (_cancel_tx, cancel) = watch::channel(false);
    let drain = tokio::spawn(async move { while receiver.recv().await.is_some() {} });
    let started = Instant::now();
    let result = launcher::launch(&config, request(workspace.path()), events, cancel).await;
    let _ = drain.await;
    (result, started.elapsed())
}

fn failure(result: &LaunchResult) -> &str {
    match &result.end {
        StepEnd::Failed(reason) => reason,
        other => panic!("expected a failed step, got {other:?}"),
    }
}

#[tokio::test]
async fn worker_exiting_early_fails_step() {
    let dir = tempfile::tempdir().unwrap();
    let worker = fake_worker(
        dir.path(),
        "exits",
        "echo 'worker crashed on purpose' >&2\nexit 3",
    );
    let (result, _) = launch_with(worker, Duration::from_secs(5)).await;
    let reason = failure(&result);
    assert!(reason.contains("handshake failed"), "{reason}");
    assert!(reason.contains("exited with code 3"), "{reason}");
    assert!(reason.contains("worker crashed on purpose"), "{reason}");
}

#[tokio::test]
async fn silent_worker_times_out() {
    let dir = tempfile::tempdir().unwrap();
    let worker = fake_worker(dir.path(), "silent", "exec sleep 30");
    let (result, elapsed) = launch_with(worker, Duration::from_millis(500)).await;
    let reason = failure(&result);
    assert!(reason.contains("sent no Hello within"), "{reason}");
    assert!(elapsed < Duration::from_secs(5), "took {elapsed:?}");
}

#[tokio::test]
async fn garbage_frame_fails_step() {
    let dir = tempfile::tempdir().unwrap();
    // A length prefix of 5 and five bytes that are no valid message.
    let worker = fake_worker(
        dir.path(),
        "garbage",
        "printf '\\005\\000\\000\\000\\377\\377\\377\\377\\377' >&3\nsleep 30",
    );
    let (result, elapsed) = launch_with(worker, Duration::from_secs(5)).await;
    let reason = failure(&result);
    assert!(reason.contains("handshake failed"), "{reason}");
    assert!(reason.contains("malformed frame"), "{reason}");
    assert!(elapsed < Duration::from_secs(5), "took {elapsed:?}");
}

#[tokio::test]
async fn oversized_frame_rejected() {
    let dir = tempfile::tempdir().unwrap();
    // A length prefix of 0xffffffff: rejected before any allocation.
    let worker = fake_worker(
        dir.path(),
        "oversized",
        "printf '\\377\\377\\377\\377' >&3\nsleep 30",
    );
    let (result, _) = launch_with(worker, Duration::from_secs(5)).await;
    let reason = failure(&result);
    assert!(reason.contains("exceeds the limit"), "{reason}");
}

#[tokio::test]
async fn missing_worker_binary_reported() {
    let (result, _) = launch_with(
        PathBuf::from("/nonexistent/vwmp-worker"),
        Duration::from_secs(1),
    )
    .await;
    let reason = failure(&result);
    assert!(reason.contains("/nonexistent/vwmp-worker"), "{reason}");
}

#[tokio::test]
async fn real_worker_still_works_after_faults() {
    let dir = tempfile::tempdir().unwrap();
    let broken = fake_worker(dir.path(), "exits", "exit 1");
    let _ = launch_with(broken, Duration::from_secs(1)).await;
    let (result, _) = launch_with(common::worker_binary(), Duration::from_secs(10)).await;
    assert!(
        matches!(result.end, StepEnd::Finished(_)),
        "{:?}",
        result.end
    );
}
