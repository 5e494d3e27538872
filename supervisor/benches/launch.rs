//! Launch latency: a no-op program (/bin/true) started through the launcher
//! under `strict` and `default`, beside a bare fork and exec of the same
//! binary and `bwrap --unshare-all --die-with-parent` running it.
//!
//! Run with `cargo bench -p vwmp-supervisor --bench launch`; the figures go
//! to docs/benchmarks.md.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use tokio::sync::{mpsc, watch};
use vwmp_protocol::{RunAs, StdoutMode, StepRequest};
use vwmp_supervisor::launcher::{self, Launcher, LauncherConfig, StepEnd};
use vwmp_supervisor::profiles::ProfileSet;

const PROGRAM: &str = "/bin/true";

fn repository_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("supervisor/ has a parent")
        .to_path_buf()
}

fn request(profiles: &ProfileSet, profile: &str, workspace: &Path) -> StepRequest {
    let policy = profiles
        .policy(profile, workspace, Path::new("/usr/bin"), RunAs::default())
        .expect("profile resolves");
    StepRequest {
        execution_id: "bench".into(),
        step_id: "noop".into(),
        handler: "bench.noop".into(),
        program: PathBuf::from(PROGRAM),
        program_digest: None,
        args: Vec::new(),
        stdin: Vec::new(),
        stdout_mode: StdoutMode::Stream,
        workspace: workspace.to_path_buf(),
        plugin_dir: PathBuf::from("/usr/bin"),
        policy,
    }
}

fn bench_launch(c: &mut Criterion) {
    let root = repository_root();
    let profiles = ProfileSet::load(&root.join("sandbox-profiles")).expect("profiles load");
    let worker = launcher::find_worker_binary().expect("vwmp-worker is built next to the bench");
    let config = LauncherConfig::new(worker);
    let workspace = tempfile::tempdir().expect("temporary workspace");
    std::os::unix::fs::chown(workspace.path(), Some(65534), Some(65534)).ok();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");

    let mut group = c.benchmark_group("launch");
    group.sample_size(300);

    group.bench_function("bare fork+exec", |b| {
        b.iter(|| {
            let status = Command::new(PROGRAM)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .status()
                .expect("spawn");
            assert!(status.success());
        })
    });

    if Path::new("/usr/bin/bwrap").exists() {
        group.bench_function("bwrap --unshare-all", |b| {
            b.iter(|| {
                let status = Command::new("/usr/bin/bwrap")
                    .args([
                        "--unshare-all",
                        "--die-with-parent",
                        "--ro-bind",
                        "/",
                        "/",
                        PROGRAM,
                    ])
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .status()
                    .expect("spawn bwrap");
                assert!(status.success());
            })
        });
    } else {
        eprintln!("SKIPPED: bwrap is not installed (apt-get install bubblewrap)");
    }

    for profile in ["strict", "default"] {
        let template = request(&profiles, profile, workspace.path());
        group.bench_function(format!("vwmp {profile}"), |b| {
            b.iter(|| {
                let (events, mut receiver) = mpsc::channel(16);
                let (_cancel_tx, cancel) = watch::channel(false);
                let result = runtime.block_on(async {
                    let drain =
                        tokio::spawn(async move { while receiver.recv().await.is_some() {} });
                    let result = launcher::launch(&config, template.clone(), events, cancel).await;
                    let _ = drain.await;
                    result
                });
                assert!(
                    matches!(result.end, StepEnd::Finished(_)),
                    "{:?}",
                    result.end
                );
            })
        });
    }
    // The same launches through a launcher with a pool of two idle workers,
    // as `vwmp run` and the server use. Each timed launch starts on a full
    // pool: the refill of the previous launch runs between samples, outside
    // the timed span, as it does between the steps of a server that is not
    // saturated. A saturated server pays for the refill too; the unpooled
    // figures above bound that case.
    let pool_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("pool runtime");
    let pooled = pool_runtime.block_on(async { Launcher::with_pool(config.clone(), 2) });
    for profile in ["strict", "default"] {
        let template = request(&profiles, profile, workspace.path());
        group.bench_function(format!("vwmp {profile} pooled"), |b| {
            b.iter_custom(|iterations| {
                let mut total = Duration::ZERO;
                for _ in 0..iterations {
                    pool_runtime.block_on(wait_for_full_pool(&pooled, 2));
                    let (events, mut receiver) = mpsc::channel(16);
                    let (_cancel_tx, cancel) = watch::channel(false);
                    let started = Instant::now();
                    let result = pool_runtime.block_on(async {
                        let drain =
                            tokio::spawn(async move { while receiver.recv().await.is_some() {} });
                        let result = pooled.launch(template.clone(), events, cancel).await;
                        let _ = drain.await;
                        result
                    });
                    total += started.elapsed();
                    assert!(
                        matches!(result.end, StepEnd::Finished(_)),
                        "{:?}",
                        result.end
                    );
                }
                total
            })
        });
    }
    group.finish();
}

/// Waits until `launcher` has `size` idle workers again.
async fn wait_for_full_pool(launcher: &Launcher, size: usize) {
    while launcher.idle_workers().await < size {
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
}

criterion_group!(benches, bench_launch);
criterion_main!(benches);
