//! The service's event sink: the store's sink plus what the server needs on
//! top of it. Each event is committed to the store first; then the live
//! subscribers, the metrics and the active worker count see it.
//!
//! It also completes the record of an execution that ended abnormally. Steps
//! left without an end state when the execution finishes are recorded:
//! pending ones `skipped`, running ones `failed`. An execution stopped by a
//! shutdown ends `interrupted` instead of `cancelled`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use super::control::{Control, StopReason};
use super::live::{stream_name, LiveEvent};
use crate::audit::{AuditEvent, AuditEventType, AuditLog, AuditOutcome};
use crate::engine::redact::Redactor;
use crate::engine::{
    Event, EventSink, ExecutionStatus, RecordFuture, SinkError, StepReport, StepStatus,
    SANDBOX_FAILED_ERROR,
};
use crate::metrics::{ActiveWorker, Metrics, SandboxDenial};
use crate::model::{UserId, WorkflowId};
use crate::store::{Store, StoreSink};

/// Error recorded on steps that had not started when their execution ended.
const NOT_STARTED_ERROR: &str = "the execution ended before this step started";

/// Error recorded on steps whose task ended without reporting an end state.
const NO_REPORT_ERROR: &str = "the step's task ended without a report";

/// Error recorded on steps and executions stopped by a server shutdown.
const SHUTDOWN_STEP_ERROR: &str = "the server stopped before this step finished";
const SHUTDOWN_EXECUTION_ERROR: &str = "the server stopped before the execution finished";

/// One running step's worker, counted while this value lives.
struct WorkerSlot {
    count: Arc<AtomicUsize>,
    _metrics: ActiveWorker,
}

impl WorkerSlot {
    fn new(count: &Arc<AtomicUsize>, metrics: &Arc<Metrics>) -> Self {
        count.fetch_add(1, Ordering::SeqCst);
        WorkerSlot {
            count: Arc::clone(count),
            _metrics: metrics.track_worker(),
        }
    }
}

impl Drop for WorkerSlot {
    fn drop(&mut self) {
        self.count.fetch_sub(1, Ordering::SeqCst);
    }
}

/// State of one step as the sink last recorded it.
enum StepState {
    Pending,
    /// The slot is held, not read: dropping it counts the worker stopped.
    Running {
        _slot: WorkerSlot,
    },
    Ended,
}

/// Records one execution's events; see the module documentation.
pub(super) struct ServiceSink {
    store: Store,
    inner: StoreSink,
    control: Arc<Control>,
    redactor: Redactor,
    metrics: Arc<Metrics>,
    active_workers: Arc<AtomicUsize>,
    steps: Mutex<BTreeMap<String, StepState>>,
    audit: Option<Arc<AuditLog>>,
    workflow_id: WorkflowId,
    user_id: UserId,
}

/// Settings of one [`ServiceSink`].
pub(super) struct SinkParts {
    pub store: Store,
    pub control: Arc<Control>,
    pub secrets: Vec<String>,
    pub step_ids: Vec<String>,
    pub metrics: Arc<Metrics>,
    pub active_workers: Arc<AtomicUsize>,
    pub audit: Option<Arc<AuditLog>>,
    /// Workflow and creator of the execution, for audit events.
    pub workflow_id: WorkflowId,
    pub user_id: UserId,
}

impl ServiceSink {
    pub fn new(parts: SinkParts) -> Self {
        let steps = parts
            .step_ids
            .into_iter()
            .map(|id| (id, StepState::Pending))
            .collect();
        ServiceSink {
            inner: StoreSink::new(parts.store.clone(), parts.control.execution_id.clone()),
            store: parts.store,
            control: parts.control,
            redactor: Redactor::new(&parts.secrets),
            metrics: parts.metrics,
            active_workers: parts.active_workers,
            steps: Mutex::new(steps),
            audit: parts.audit,
            workflow_id: parts.workflow_id,
            user_id: parts.user_id,
        }
    }

    /// Replaces the state of `step_id`, dropping a running step's slot.
    fn set_step(&self, step_id: &str, state: StepState) {
        let mut steps = self.steps.lock().unwrap_or_else(PoisonError::into_inner);
        steps.insert(step_id.to_string(), state);
    }

    async fn apply(&self, event: &Event) -> Result<(), SinkError> {
        match event {
            Event::ExecutionStarted { .. } => {
                self.inner.record(event).await?;
                self.control.publish(LiveEvent::Execution {
                    status: ExecutionStatus::Running,
                });
            }
            Event::StepStarted { step_id, .. } => {
                self.inner.record(event).await?;
                let slot = WorkerSlot::new(&self.active_workers, &self.metrics);
                self.set_step(step_id, StepState::Running { _slot: slot });
                self.metrics.step_started();
                self.control.publish(LiveEvent::Step {
                    step_id: step_id.clone(),
                    status: StepStatus::Running,
                    exit_code: None,
                    error: None,
                });
            }
            Event::StepConfined { .. } => self.inner.record(event).await?,
            Event::StepLog {
                step_id,
                stream,
                line,
                truncated,
            } => {
                // The engine masked the line already.
                let seq = self
                    .store
                    .append_log(
                        &self.control.execution_id,
                        step_id,
                        *stream,
                        line,
                        *truncated,
                    )
                    .await
                    .map_err(|err| SinkError(err.to_string()))?;
                self.control.publish(LiveEvent::Log {
                    seq,
                    step_id: step_id.clone(),
                    stream: stream_name(*stream),
                    line: line.clone(),
                    truncated: *truncated,
                });
            }
            Event::StepFinished { report } => self.step_finished(report.clone()).await?,
            Event::ExecutionFinished {
                execution_id,
                status,
            } => {
                self.settle_unfinished_steps().await?;
                let stop = self.control.stop_reason();
                let status = match (&stop, *status) {
                    (Some(StopReason::Shutdown), ExecutionStatus::Cancelled) => {
                        ExecutionStatus::Interrupted
                    }
                    (_, status) => status,
                };
                let error = match (&stop, status) {
                    (Some(StopReason::Shutdown), ExecutionStatus::Interrupted) => {
                        Some(SHUTDOWN_EXECUTION_ERROR.to_string())
                    }
                    (Some(StopReason::Cancelled { by }), ExecutionStatus::Cancelled) => {
                        Some(format!("cancelled at the request of user `{by}`"))
                    }
                    _ => None,
                };
                // The error is written first, so a reader of the final state
                // also reads its cause.
                if let Some(error) = error {
                    self.store
                        .set_execution_error(&self.control.execution_id, &error)
                        .await
                        .map_err(|err| SinkError(err.to_string()))?;
                }
                self.inner
                    .record(&Event::ExecutionFinished {
                        execution_id: execution_id.clone(),
                        status,
                    })
                    .await?;
                self.control.publish(LiveEvent::Execution { status });
                let outcome = if status == ExecutionStatus::Succeeded {
                    AuditOutcome::Success
                } else {
                    AuditOutcome::Failure
                };
                self.audit(
                    AuditEvent::builder(AuditEventType::ExecutionFinished, outcome)
                        .detail("status", status.as_str()),
                )
                .await;
            }
        }
        Ok(())
    }

    /// Records an audit event about this execution, when an audit log is
    /// configured.
    async fn audit(&self, builder: crate::audit::AuditEventBuilder) {
        let Some(audit) = &self.audit else {
            return;
        };
        let event = builder
            .user(self.user_id.clone())
            .workflow(self.workflow_id.clone())
            .execution(self.control.execution_id.clone())
            .build();
        audit.record(event).await;
    }

    /// Records a step's end: masks its error again, turns `cancelled` into
    /// `interrupted` during a shutdown, and counts it.
    async fn step_finished(&self, mut report: StepReport) -> Result<(), SinkError> {
        report.error = report.error.map(|error| self.redactor.text(&error));
        if report.status == StepStatus::Cancelled
            && self.control.stop_reason() == Some(StopReason::Shutdown)
        {
            report.status = StepStatus::Interrupted;
            report.error = Some(SHUTDOWN_STEP_ERROR.to_string());
        }
        // The worker is gone by the time the engine reports the end.
        self.set_step(&report.id, StepState::Ended);
        self.inner
            .record(&Event::StepFinished {
                report: report.clone(),
            })
            .await?;

        self.metrics.step_finished(report.status, report.duration);
        if report.signal == Some(libc::SIGSYS) {
            self.metrics.sandbox_denied(SandboxDenial::Seccomp);
            self.audit(
                AuditEvent::builder(AuditEventType::StepSeccompKilled, AuditOutcome::Failure)
                    .detail("step_id", report.id.as_str()),
            )
            .await;
        }
        let sandbox_failed = report
            .error
            .as_deref()
            .is_some_and(|error| error.starts_with(SANDBOX_FAILED_ERROR));
        if sandbox_failed {
            self.metrics.sandbox_denied(SandboxDenial::SetupFailed);
            self.audit(
                AuditEvent::builder(AuditEventType::StepSandboxFailed, AuditOutcome::Failure)
                    .detail("step_id", report.id.as_str())
                    .detail("error", report.error.clone().unwrap_or_default()),
            )
            .await;
        }
        self.control.publish(LiveEvent::Step {
            step_id: report.id,
            status: report.status,
            exit_code: report.exit_code,
            error: report.error,
        });
        Ok(())
    }

    /// Records an end state for every step the engine did not report: the
    /// engine returns early without step events when it cannot start (for
    /// example when the workspace cannot be created), and a step whose task
    /// panicked is never reported.
    async fn settle_unfinished_steps(&self) -> Result<(), SinkError> {
        let unfinished: Vec<StepReport> = {
            let steps = self.steps.lock().unwrap_or_else(PoisonError::into_inner);
            steps
                .iter()
                .filter_map(|(id, state)| match state {
                    StepState::Pending => Some(StepReport::not_run(
                        id,
                        StepStatus::Skipped,
                        Some(NOT_STARTED_ERROR.to_string()),
                    )),
                    StepState::Running { .. } => Some(StepReport::not_run(
                        id,
                        StepStatus::Failed,
                        Some(NO_REPORT_ERROR.to_string()),
                    )),
                    StepState::Ended => None,
                })
                .collect()
        };
        for report in unfinished {
            self.step_finished(report).await?;
        }
        Ok(())
    }
}

impl EventSink for ServiceSink {
    fn record<'a>(&'a self, event: &'a Event) -> RecordFuture<'a> {
        Box::pin(self.apply(event))
    }
}
