//! Counters, a gauge and a histogram of the server, rendered for
//! `GET /metrics` in the Prometheus text format 0.0.4.
//!
//! Layout:
//! - `exposition.rs`: the text format writer.
//! - `histogram.rs`: the step duration histogram and its buckets.
//!
//! Every label has a bounded set of values, so a client cannot create
//! series at will. Step status and denial kind are enums. HTTP routes are
//! `&'static str` templates such as `/api/v1/workflows/{id}`, which keeps
//! request paths (built at run time) out of labels. The number of route and
//! status pairs is capped as well.
//!
//! The registry is written here instead of using `prometheus-client`: the
//! set of metrics is fixed and small, plain atomics cover it, and the
//! exposition format needs under a hundred lines.

mod exposition;
mod histogram;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

pub use exposition::CONTENT_TYPE;
pub use histogram::STEP_DURATION_BUCKETS;

use exposition::{MetricType, Writer};
use histogram::Histogram;

use crate::engine::StepStatus;

/// Maximum number of distinct route and status pairs counted separately.
/// Routes are static templates, so this is only reached through a bug; the
/// excess is counted under `route="other",status="other"` so memory stays
/// bounded.
pub const MAX_HTTP_SERIES: usize = 1024;

/// Final step statuses, in the order they are rendered.
const FINAL_STATUSES: [StepStatus; 6] = [
    StepStatus::Succeeded,
    StepStatus::Failed,
    StepStatus::Skipped,
    StepStatus::Cancelled,
    StepStatus::TimedOut,
    StepStatus::Interrupted,
];

/// Kind of sandbox denial counted by `vwmp_sandbox_denials_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SandboxDenial {
    /// The seccomp filter blocked a system call or killed the plugin.
    Seccomp,
    /// Landlock denied a file system or network access.
    Landlock,
    /// A resource limit (memory, CPU time, file size, processes) was hit.
    ResourceLimit,
    /// A mandatory sandbox layer could not be applied, so the step did not
    /// run.
    SetupFailed,
}

impl SandboxDenial {
    /// Every kind, in the order they are rendered.
    pub const ALL: [SandboxDenial; 4] = [
        SandboxDenial::Seccomp,
        SandboxDenial::Landlock,
        SandboxDenial::ResourceLimit,
        SandboxDenial::SetupFailed,
    ];

    /// Returns the `kind` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            SandboxDenial::Seccomp => "seccomp",
            SandboxDenial::Landlock => "landlock",
            SandboxDenial::ResourceLimit => "resource_limit",
            SandboxDenial::SetupFailed => "setup_failed",
        }
    }
}

/// The server's metrics. Share it behind an `Arc`; every method takes
/// `&self` and is lock-free except the first request of a new route and
/// status pair.
#[derive(Debug)]
pub struct Metrics {
    steps_started: AtomicU64,
    steps_finished: [AtomicU64; FINAL_STATUSES.len()],
    sandbox_denials: [AtomicU64; SandboxDenial::ALL.len()],
    http_requests: RwLock<BTreeMap<(&'static str, u16), AtomicU64>>,
    http_requests_overflow: AtomicU64,
    active_workers: AtomicI64,
    step_duration: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Creates a registry with every counter at zero.
    pub fn new() -> Self {
        Self {
            steps_started: AtomicU64::new(0),
            steps_finished: Default::default(),
            sandbox_denials: Default::default(),
            http_requests: RwLock::new(BTreeMap::new()),
            http_requests_overflow: AtomicU64::new(0),
            active_workers: AtomicI64::new(0),
            step_duration: Histogram::new(&STEP_DURATION_BUCKETS),
        }
    }

    /// Counts a step whose worker was started.
    pub fn step_started(&self) {
        self.steps_started.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a finished step by status and records its duration. Skipped
    /// steps never ran, so their duration is not recorded. Non-final
    /// statuses (pending, running) are ignored.
    pub fn step_finished(&self, status: StepStatus, duration: Duration) {
        let Some(index) = FINAL_STATUSES
            .iter()
            .position(|final_status| *final_status == status)
        else {
            return;
        };
        self.steps_finished[index].fetch_add(1, Ordering::Relaxed);
        if status != StepStatus::Skipped {
            self.step_duration.observe(duration);
        }
    }

    /// Counts one sandbox denial.
    pub fn sandbox_denied(&self, kind: SandboxDenial) {
        let index = SandboxDenial::ALL
            .iter()
            .position(|known| *known == kind)
            .unwrap_or_default();
        self.sandbox_denials[index].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one HTTP request. `route` is the route template, such as
    /// `/api/v1/workflows/{id}`, never the request path.
    pub fn http_request(&self, route: &'static str, status: u16) {
        let key = (route, status);
        if let Ok(series) = self.http_requests.read() {
            if let Some(counter) = series.get(&key) {
                counter.fetch_add(1, Ordering::Relaxed);
                return;
            }
        }

        let mut series = match self.http_requests.write() {
            Ok(series) => series,
            Err(poisoned) => poisoned.into_inner(),
        };
        if !series.contains_key(&key) && series.len() >= MAX_HTTP_SERIES {
            self.http_requests_overflow.fetch_add(1, Ordering::Relaxed);
            return;
        }
        series
            .entry(key)
            .or_insert_with(|| AtomicU64::new(0))
            .fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a worker process that started running.
    pub fn worker_started(&self) {
        self.active_workers.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a worker process that exited.
    pub fn worker_stopped(&self) {
        self.active_workers.fetch_sub(1, Ordering::Relaxed);
    }

    /// Counts a started worker and returns a guard that counts it as stopped
    /// when dropped, so every exit path is covered.
    pub fn track_worker(self: &Arc<Self>) -> ActiveWorker {
        self.worker_started();
        ActiveWorker {
            metrics: Arc::clone(self),
        }
    }

    /// Renders every metric in the Prometheus text format 0.0.4; serve it
    /// with [`CONTENT_TYPE`].
    pub fn render(&self) -> String {
        let mut writer = Writer::default();

        let name = "vwmp_steps_started_total";
        writer.family(name, "Steps whose worker was started.", MetricType::Counter);
        writer.sample(name, &[], self.steps_started.load(Ordering::Relaxed));

        let name = "vwmp_steps_finished_total";
        writer.family(
            name,
            "Steps that reached a final status.",
            MetricType::Counter,
        );
        for (status, count) in FINAL_STATUSES.iter().zip(&self.steps_finished) {
            let value = count.load(Ordering::Relaxed);
            writer.sample(name, &[("status", status.as_str())], value);
        }

        let name = "vwmp_sandbox_denials_total";
        let help = "Sandbox denials and setup failures, by kind.";
        writer.family(name, help, MetricType::Counter);
        for (kind, count) in SandboxDenial::ALL.iter().zip(&self.sandbox_denials) {
            writer.sample(
                name,
                &[("kind", kind.as_str())],
                count.load(Ordering::Relaxed),
            );
        }

        self.render_http_requests(&mut writer);

        let name = "vwmp_active_workers";
        writer.family(
            name,
            "Worker processes currently running.",
            MetricType::Gauge,
        );
        writer.sample(name, &[], self.active_workers.load(Ordering::Relaxed));

        self.step_duration.render(
            &mut writer,
            "vwmp_step_duration_seconds",
            "Wall-clock duration of steps that ran, in seconds.",
        );

        writer.finish()
    }

    fn render_http_requests(&self, writer: &mut Writer) {
        let name = "vwmp_http_requests_total";
        let help = "HTTP requests by route template and response status.";
        writer.family(name, help, MetricType::Counter);
        let series = match self.http_requests.read() {
            Ok(series) => series,
            Err(poisoned) => poisoned.into_inner(),
        };
        for ((route, status), count) in series.iter() {
            let status = status.to_string();
            let labels = [("route", *route), ("status", status.as_str())];
            writer.sample(name, &labels, count.load(Ordering::Relaxed));
        }
        let overflow = self.http_requests_overflow.load(Ordering::Relaxed);
        if overflow > 0 {
            writer.sample(name, &[("route", "other"), ("status", "other")], overflow);
        }
    }
}

/// Guard of one running worker; dropping it counts the worker as stopped.
#[derive(Debug)]
#[must_use = "the worker counts as stopped as soon as the guard is dropped"]
pub struct ActiveWorker {
    metrics: Arc<Metrics>,
}

impl Drop for ActiveWorker {
    fn drop(&mut self) {
        self.metrics.worker_stopped();
    }
}

#[cfg(test)]
mod tests;
