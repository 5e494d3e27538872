//! The execution service behind the HTTP API: starts executions of stored
//! workflow revisions, runs each in a background task through the engine,
//! cancels them, streams their live events, and drains them at shutdown.
//!
//! Every state change is committed to the store before anyone can see it:
//! the engine reports through [`sink::ServiceSink`], which writes through
//! the store's sink first and only then informs live subscribers, metrics
//! and the active worker count.
//!
//! At most `max_running` executions run at once; later ones wait `queued`
//! in arrival order, up to `max_queued` of them.
//!
//! Layout:
//! - `prepare.rs`: checks of the stored revision and the parameter values,
//!   and the masked parameters the store keeps.
//! - `control.rs`: the per-execution handle (cancel flag, stop reason, live
//!   channel).
//! - `sink.rs`: the event sink described above.
//! - `live.rs`: the live event type.
//! - `error.rs`: errors of starting and cancelling.

mod control;
mod error;
mod live;
mod prepare;
mod sink;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde_json::{Map, Value};
use tokio::sync::{broadcast, watch, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

pub use error::{CancelError, StartError};
pub use live::{stream_name, LiveEvent, LIVE_EVENT_BUFFER};

use control::{Control, StopReason};
use sink::{ServiceSink, SinkParts};

use crate::audit::AuditLog;
use crate::engine::redact::Redactor;
use crate::engine::{Engine, ExecutionStatus};
use crate::metrics::Metrics;
use crate::model::{ExecutionId, UserId};
use crate::store::{ExecutionRecord, NewExecution, Store, WorkflowRecord};

/// Default number of executions that run at the same time. Each runs up to
/// the engine's `max_parallel` steps, so the default keeps the number of
/// worker processes near what a small server handles.
pub const DEFAULT_MAX_RUNNING: usize = 4;

/// Default number of executions that may wait for a slot. A queued
/// execution costs a task and a few KiB; the cap keeps a flood of requests
/// from growing memory without bound.
pub const DEFAULT_MAX_QUEUED: usize = 1000;

/// Upper bound on `max_running`, because each running execution has worker
/// processes.
pub const MAX_RUNNING_LIMIT: usize = 256;

/// How long [`ExecutionService::shutdown`] waits, after cancelling, for the
/// remaining executions to kill their workers and record their end. The
/// launcher kills with SIGKILL, so the wait normally ends within a second;
/// it runs out only when a write to the store hangs.
pub const KILL_WAIT: Duration = Duration::from_secs(10);

/// Limits of an [`ExecutionService`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceSettings {
    /// Executions that run at once, 1 to [`MAX_RUNNING_LIMIT`]; values
    /// outside are clamped.
    pub max_running: usize,
    /// Executions that may wait for a slot; beyond it [`StartError::QueueFull`].
    pub max_queued: usize,
}

impl Default for ServiceSettings {
    fn default() -> Self {
        ServiceSettings {
            max_running: DEFAULT_MAX_RUNNING,
            max_queued: DEFAULT_MAX_QUEUED,
        }
    }
}

/// A request to execute one stored workflow revision.
#[derive(Debug, Clone, Copy)]
pub struct StartRequest<'a> {
    /// The revision to run; later updates of the workflow do not affect it.
    pub workflow: &'a WorkflowRecord,
    /// The caller, recorded as the execution's creator.
    pub user_id: &'a UserId,
    /// Parameter values as the client sent them.
    pub parameters: &'a Map<String, Value>,
}

/// Outcome of [`ExecutionService::shutdown`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Executions that the shutdown stopped (queued ones at once, running
    /// ones after the grace period) or found unfinished in the store, all
    /// recorded `interrupted`.
    pub interrupted: Vec<ExecutionId>,
}

/// Starts, tracks and stops executions; cheap to clone and share.
#[derive(Clone)]
pub struct ExecutionService {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Engine,
    store: Store,
    metrics: Arc<Metrics>,
    audit: Option<Arc<AuditLog>>,
    settings: ServiceSettings,
    /// One permit per running execution.
    slots: Arc<Semaphore>,
    /// Handles of queued and running executions, and whether new ones are
    /// accepted; one lock, so shutdown cannot miss an execution that is
    /// being started.
    table: Mutex<Table>,
    /// Number of entries in `table.executions`, watched by shutdown.
    tracked: watch::Sender<usize>,
    active_workers: Arc<AtomicUsize>,
}

struct Table {
    accepting: bool,
    executions: HashMap<ExecutionId, Arc<Control>>,
}

impl ExecutionService {
    /// Creates a service that runs executions with `engine` and records them
    /// in `store`. With `audit`, the end of each execution, seccomp kills and
    /// sandbox failures are audit events.
    pub fn new(
        engine: Engine,
        store: Store,
        metrics: Arc<Metrics>,
        audit: Option<Arc<AuditLog>>,
        settings: ServiceSettings,
    ) -> Self {
        let settings = ServiceSettings {
            max_running: settings.max_running.clamp(1, MAX_RUNNING_LIMIT),
            max_queued: settings.max_queued,
        };
        let (tracked, _) = watch::channel(0);
        ExecutionService {
            inner: Arc::new(Inner {
                engine,
                store,
                metrics,
                audit,
                slots: Arc::new(Semaphore::new(settings.max_running)),
                settings,
                table: Mutex::new(Table {
                    accepting: true,
                    executions: HashMap::new(),
                }),
                tracked,
                active_workers: Arc::new(AtomicUsize::new(0)),
            }),
        }
    }

    /// Returns the service's limits.
    pub fn settings(&self) -> ServiceSettings {
        self.inner.settings
    }

    /// Returns the engine.
    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// Validates the request, records the execution `queued` with its steps
    /// `pending`, and runs it in a background task once a slot is free.
    /// Returns the record as created; the task may already have moved on.
    ///
    /// The stored parameters have every secret value masked; the plan that
    /// the engine runs keeps the real values in memory only.
    pub async fn start(&self, request: StartRequest<'_>) -> Result<ExecutionRecord, StartError> {
        let id = ExecutionId::generate();
        let prepared = prepare::prepare(
            &self.inner.engine,
            request.workflow,
            request.parameters,
            &id,
        )?;

        // Register before writing, so a shutdown that begins now waits for
        // this execution or rejects it.
        let control = Arc::new(Control::new(id.clone()));
        self.register(&control)?;

        let created = self
            .inner
            .store
            .create_execution(NewExecution {
                id: id.clone(),
                workflow_id: request.workflow.summary.id.clone(),
                workflow_version: request.workflow.version,
                user_id: request.user_id.clone(),
                parameters: prepared.stored_parameters,
                step_ids: prepared.step_ids.clone(),
            })
            .await;
        let record = match created {
            Ok(record) => record,
            Err(err) => {
                self.inner.unregister(&id);
                return Err(err.into());
            }
        };
        tracing::info!(
            execution_id = %id,
            workflow_id = %record.workflow_id,
            revision = record.workflow_version,
            user_id = %record.user_id,
            "execution queued"
        );

        let task = ExecutionTask {
            inner: Arc::clone(&self.inner),
            control,
            plan: prepared.plan,
            step_ids: prepared.step_ids,
            workflow_id: record.workflow_id.clone(),
            user_id: record.user_id.clone(),
        };
        tokio::spawn(task.run());
        Ok(record)
    }

    /// Adds `control` to the table unless the service is shutting down or
    /// the queue is full.
    fn register(&self, control: &Arc<Control>) -> Result<(), StartError> {
        let mut table = self.inner.lock_table();
        if !table.accepting {
            return Err(StartError::ShuttingDown);
        }
        let limit = self.inner.settings.max_running + self.inner.settings.max_queued;
        if table.executions.len() >= limit {
            return Err(StartError::QueueFull { limit });
        }
        table
            .executions
            .insert(control.execution_id.clone(), Arc::clone(control));
        self.inner.tracked.send_replace(table.executions.len());
        Ok(())
    }

    /// Cancels execution `id` on behalf of `by`: its running steps are
    /// killed and end `cancelled`, the steps not yet started end `skipped`,
    /// and the execution ends `cancelled`. This returns once the request is
    /// made, with the status stored at that point; the end is recorded by
    /// the execution's task shortly after. A second request while the
    /// execution still runs is accepted and changes nothing; once it has
    /// ended, the request fails with [`CancelError::AlreadyFinished`].
    pub async fn cancel(
        &self,
        id: &ExecutionId,
        by: &UserId,
    ) -> Result<ExecutionStatus, CancelError> {
        let control = self.inner.lock_table().executions.get(id).cloned();
        if let Some(control) = &control {
            if control.request_stop(StopReason::Cancelled { by: by.clone() }) {
                tracing::info!(execution_id = %id, user_id = %by, "execution cancel requested");
            }
        }

        let detail = self
            .inner
            .store
            .get_execution(id)
            .await?
            .ok_or_else(|| CancelError::NotFound { id: id.clone() })?;
        let status = detail.execution.status;
        let already_finished = || CancelError::AlreadyFinished {
            id: id.clone(),
            status,
        };
        match (is_final(status), control.is_some()) {
            (false, true) => Ok(status),
            // The task recorded the cancel before this read.
            (true, true) if status == ExecutionStatus::Cancelled => Ok(status),
            (true, _) => Err(already_finished()),
            (false, false) => {
                // Queued or running in the store, but no task of this
                // process runs it: a process that stopped without recording
                // the end left it. Record the cancel directly.
                let error = format!("cancelled at the request of user `{by}`");
                let changed = self
                    .inner
                    .store
                    .set_execution_status(id, ExecutionStatus::Cancelled, Some(error))
                    .await?;
                if changed {
                    Ok(ExecutionStatus::Cancelled)
                } else {
                    Err(already_finished())
                }
            }
        }
    }

    /// Subscribes to the live events of execution `id`. Returns `None` when
    /// no task of this service runs it (it ended, or never existed): the
    /// store then has its whole record. Events start from the moment of
    /// subscription; read the stored logs first and drop live lines whose
    /// `seq` was already read.
    pub fn subscribe(&self, id: &ExecutionId) -> Option<broadcast::Receiver<LiveEvent>> {
        let table = self.inner.lock_table();
        table
            .executions
            .get(id)
            .map(|control| control.live.subscribe())
    }

    /// Returns the number of steps whose worker is running now.
    pub fn active_workers(&self) -> usize {
        self.inner.active_workers.load(Ordering::SeqCst)
    }

    /// Returns the number of executions queued or running in this service.
    pub fn tracked_executions(&self) -> usize {
        *self.inner.tracked.borrow()
    }

    /// Returns false once [`ExecutionService::shutdown`] has begun.
    pub fn is_accepting(&self) -> bool {
        self.inner.lock_table().accepting
    }

    /// Stops taking new executions, lets running ones finish for up to
    /// `grace`, then cancels the rest, waits for their workers to be killed,
    /// and records every execution still queued or running `interrupted`.
    /// Executions still queued when the shutdown begins do not start.
    pub async fn shutdown(&self, grace: Duration) -> ShutdownReport {
        let queued: Vec<Arc<Control>> = {
            let mut table = self.inner.lock_table();
            table.accepting = false;
            table
                .executions
                .values()
                .filter(|control| !control.is_started())
                .cloned()
                .collect()
        };
        tracing::info!(
            executions = self.tracked_executions(),
            grace_ms = grace.as_millis() as u64,
            "execution service shutting down"
        );
        let mut stopped: Vec<ExecutionId> = Vec::new();
        for control in queued {
            control.request_stop(StopReason::Shutdown);
            stopped.push(control.execution_id.clone());
        }

        if !self.wait_drained(Instant::now() + grace).await {
            let remaining: Vec<Arc<Control>> = self
                .inner
                .lock_table()
                .executions
                .values()
                .cloned()
                .collect();
            for control in &remaining {
                tracing::warn!(
                    execution_id = %control.execution_id,
                    "grace period over; stopping the execution"
                );
                control.request_stop(StopReason::Shutdown);
                stopped.push(control.execution_id.clone());
            }
            if !self.wait_drained(Instant::now() + KILL_WAIT).await {
                tracing::error!(
                    executions = self.tracked_executions(),
                    "executions did not record their end after being stopped"
                );
            }
        }

        // Queued executions that never started, and any whose task could
        // not record its end, are marked here with their pending steps.
        match self.inner.store.mark_interrupted(now_millis()).await {
            Ok(marked) => {
                for id in marked {
                    if !stopped.contains(&id) {
                        stopped.push(id);
                    }
                }
            }
            Err(err) => {
                tracing::error!(error = %err, "failed to mark stopped executions interrupted");
            }
        }
        ShutdownReport {
            interrupted: stopped,
        }
    }

    /// Waits until no execution is tracked or `deadline` passes; returns
    /// true when none is left.
    async fn wait_drained(&self, deadline: Instant) -> bool {
        let mut tracked = self.inner.tracked.subscribe();
        let drained = tokio::time::timeout_at(deadline, tracked.wait_for(|count| *count == 0))
            .await
            .is_ok();
        drained
    }
}

impl Inner {
    fn lock_table(&self) -> std::sync::MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Removes execution `id` from the table.
    fn unregister(&self, id: &ExecutionId) {
        let mut table = self.lock_table();
        table.executions.remove(id);
        self.tracked.send_replace(table.executions.len());
    }
}

/// The background task of one execution.
struct ExecutionTask {
    inner: Arc<Inner>,
    control: Arc<Control>,
    plan: crate::engine::ExecutionPlan,
    step_ids: Vec<String>,
    workflow_id: crate::model::WorkflowId,
    user_id: UserId,
}

/// Removes the execution from the table when its task ends, also by panic.
struct Registration {
    inner: Arc<Inner>,
    id: ExecutionId,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.inner.unregister(&self.id);
    }
}

impl ExecutionTask {
    async fn run(self) {
        let id = self.control.execution_id.clone();
        let _registration = Registration {
            inner: Arc::clone(&self.inner),
            id: id.clone(),
        };
        let Some(permit) = self.wait_for_slot().await else {
            self.record_stopped_in_queue().await;
            return;
        };
        self.control.mark_started();
        tracing::info!(execution_id = %id, "execution started");

        let redactor = Redactor::new(&self.plan.secrets);
        let sink = Arc::new(ServiceSink::new(SinkParts {
            store: self.inner.store.clone(),
            control: Arc::clone(&self.control),
            secrets: self.plan.secrets.clone(),
            step_ids: self.step_ids,
            metrics: Arc::clone(&self.inner.metrics),
            active_workers: Arc::clone(&self.inner.active_workers),
            audit: self.inner.audit.clone(),
            workflow_id: self.workflow_id,
            user_id: self.user_id,
        }));
        let report = self
            .inner
            .engine
            .execute(self.plan, sink, self.control.cancel_receiver())
            .await;
        drop(permit);

        if let Some(error) = &report.error {
            let error = redactor.text(error);
            tracing::error!(execution_id = %id, error = %error, "execution stopped early");
            if let Err(err) = self.inner.store.set_execution_error(&id, &error).await {
                tracing::error!(execution_id = %id, error = %err, "failed to record the execution's error");
            }
        }
        tracing::info!(execution_id = %id, status = report.status.as_str(), "execution finished");
    }

    /// Waits for a running slot; returns `None` when the execution is
    /// stopped while it waits.
    async fn wait_for_slot(&self) -> Option<OwnedSemaphorePermit> {
        let mut cancel = self.control.cancel_receiver();
        tokio::select! {
            // Biased: a stop that came first wins over a free slot.
            biased;
            _ = cancel.wait_for(|stopped| *stopped) => None,
            permit = Arc::clone(&self.inner.slots).acquire_owned() => permit.ok(),
        }
    }

    /// Records the end of an execution stopped before it left the queue. A
    /// cancelled one ends `cancelled` with its steps `skipped`; one stopped
    /// by a shutdown is left to the shutdown, which marks it `interrupted`.
    async fn record_stopped_in_queue(&self) {
        let id = &self.control.execution_id;
        let Some(StopReason::Cancelled { by }) = self.control.stop_reason() else {
            return;
        };
        let error = format!("cancelled at the request of user `{by}` before it started");
        match self
            .inner
            .store
            .set_execution_status(id, ExecutionStatus::Cancelled, Some(error))
            .await
        {
            Ok(_) => {
                self.control.publish(LiveEvent::Execution {
                    status: ExecutionStatus::Cancelled,
                });
                tracing::info!(execution_id = %id, "queued execution cancelled");
            }
            Err(err) => {
                tracing::error!(execution_id = %id, error = %err, "failed to record a cancelled execution");
            }
        }
    }
}

/// Returns true for states an execution never leaves.
pub fn is_final(status: ExecutionStatus) -> bool {
    !matches!(status, ExecutionStatus::Queued | ExecutionStatus::Running)
}

fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Logs a warning when a root-started supervisor's workers, which switch to
/// uid `run_as_uid`, cannot reach directories under `workspace_root`: a
/// parent directory without search permission for them fails every step.
/// The engine makes `workspace_root` itself searchable; its parents are
/// left to the operator.
pub fn check_workspace_root(workspace_root: &std::path::Path, run_as_uid: u32) {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    if !crate::engine::running_as_root() {
        return;
    }
    for dir in workspace_root.ancestors().skip(1) {
        let Ok(metadata) = std::fs::metadata(dir) else {
            continue;
        };
        let mode = metadata.permissions().mode();
        let searchable = mode & 0o001 != 0 || (metadata.uid() == run_as_uid && mode & 0o100 != 0);
        if !searchable {
            tracing::warn!(
                directory = %dir.display(),
                workspace_root = %workspace_root.display(),
                uid = run_as_uid,
                "workers cannot reach the workspace root because this directory is not \
                 searchable by their uid: run `chmod o+x` on it or set engine.workspace_root \
                 under a searchable directory"
            );
            return;
        }
    }
}
