//! The DAG scheduler: starts every step whose dependencies succeeded, up to
//! `max_parallel` at a time, skips dependents of steps that did not succeed,
//! and derives the execution's final state.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::events::{Event, EventSink, ExecutionStatus, StepReport, StepStatus};
use super::step::{self, StepContext};
use super::Engine;
use crate::workflow::Workflow;

/// One execution to run: a validated workflow with resolved parameter values.
#[derive(Debug, Clone)]
pub struct ExecutionPlan {
    pub execution_id: String,
    pub workflow: Arc<Workflow>,
    pub parameters: serde_json::Map<String, serde_json::Value>,
    /// Values of secret parameters, masked wherever they would appear.
    pub secrets: Vec<String>,
}

/// How an execution ended.
#[derive(Debug, Clone, Serialize)]
pub struct ExecutionReport {
    pub execution_id: String,
    pub status: ExecutionStatus,
    pub steps: Vec<StepReport>,
    /// Why the execution stopped early, when it did.
    pub error: Option<String>,
}

impl Engine {
    /// Runs `plan` to the end, reporting every state change to `sink`. A
    /// `true` on `cancel` kills the running steps and skips the rest.
    pub async fn execute(
        &self,
        plan: ExecutionPlan,
        sink: Arc<dyn EventSink>,
        cancel: watch::Receiver<bool>,
    ) -> ExecutionReport {
        let plan = Arc::new(plan);
        let steps = &plan.workflow.steps;
        let mut status: Vec<StepStatus> = vec![StepStatus::Pending; steps.len()];
        let mut reports: Vec<Option<StepReport>> = vec![None; steps.len()];
        let mut outputs: BTreeMap<String, serde_json::Value> = BTreeMap::new();
        let index_of: BTreeMap<&str, usize> = steps
            .iter()
            .enumerate()
            .map(|(index, step)| (step.id.as_str(), index))
            .collect();

        let finish_early = |error: String, status: ExecutionStatus| ExecutionReport {
            execution_id: plan.execution_id.clone(),
            status,
            steps: Vec::new(),
            error: Some(error),
        };
        if let Err(err) = sink
            .record(&Event::ExecutionStarted {
                execution_id: plan.execution_id.clone(),
            })
            .await
        {
            return finish_early(err.to_string(), ExecutionStatus::Failed);
        }
        let workspace = match step::prepare_workspace(self, &plan.execution_id) {
            Ok(path) => path,
            Err(err) => {
                let report = finish_early(err, ExecutionStatus::Failed);
                let _ = sink
                    .record(&Event::ExecutionFinished {
                        execution_id: plan.execution_id.clone(),
                        status: report.status,
                    })
                    .await;
                return report;
            }
        };

        let max_parallel = self.settings().max_parallel.max(1);
        let mut running: JoinSet<(usize, StepReport, Result<(), String>)> = JoinSet::new();
        let mut cancel_watch = cancel.clone();
        let mut cancelled = *cancel.borrow();
        let mut cancel_open = true;
        let mut sink_error: Option<String> = None;

        loop {
            // A step that saw the cancel may end before the branch below
            // notices the change, so the flag is read here too. Otherwise the
            // steps after it would start, or be skipped for the wrong reason.
            cancelled = cancelled || *cancel.borrow();

            // Settle steps whose dependencies ended without success, and start
            // the ready ones in workflow order.
            for index in 0..steps.len() {
                if status[index] != StepStatus::Pending {
                    continue;
                }
                let deps: Vec<usize> = steps[index]
                    .depends_on
                    .iter()
                    .filter_map(|id| index_of.get(id.as_str()).copied())
                    .collect();
                let blocked_by = deps
                    .iter()
                    .find(|&&dep| status[dep].is_final() && status[dep] != StepStatus::Succeeded);
                let skip_reason = if cancelled || sink_error.is_some() {
                    Some("the execution was stopped before this step started".to_string())
                } else {
                    blocked_by.map(|&dep| {
                        format!(
                            "dependency `{}` ended {}",
                            steps[dep].id,
                            status[dep].as_str()
                        )
                    })
                };
                if let Some(reason) = skip_reason {
                    let report =
                        StepReport::not_run(&steps[index].id, StepStatus::Skipped, Some(reason));
                    status[index] = StepStatus::Skipped;
                    if let Err(err) = sink
                        .record(&Event::StepFinished {
                            report: report.clone(),
                        })
                        .await
                    {
                        sink_error.get_or_insert(err.to_string());
                    }
                    reports[index] = Some(report);
                    continue;
                }
                let ready = deps.iter().all(|&dep| status[dep] == StepStatus::Succeeded);
                if ready && running.len() < max_parallel {
                    status[index] = StepStatus::Running;
                    let context = StepContext {
                        engine: self.clone(),
                        plan: Arc::clone(&plan),
                        index,
                        workspace: workspace.clone(),
                        outputs: deps
                            .iter()
                            .map(|&dep| (steps[dep].id.clone(), outputs[&steps[dep].id].clone()))
                            .collect(),
                        sink: Arc::clone(&sink),
                        cancel: cancel.clone(),
                    };
                    let step_sink = Arc::clone(&sink);
                    // The step's final state is committed inside its task, so
                    // the ends of parallel steps share grouped commits, and
                    // before the scheduler starts any dependent.
                    running.spawn(async move {
                        let report = step::run(context).await;
                        let recorded = step_sink
                            .record(&Event::StepFinished {
                                report: report.clone(),
                            })
                            .await
                            .map_err(|err| err.to_string());
                        (index, report, recorded)
                    });
                }
            }

            if running.is_empty() {
                break;
            }

            tokio::select! {
                joined = running.join_next() => {
                    let Some(joined) = joined else { continue };
                    let (index, report, recorded) = match joined {
                        Ok(finished) => finished,
                        Err(err) => {
                            // A step task panicked; its step cannot be trusted.
                            sink_error.get_or_insert(format!("a step task failed: {err}"));
                            continue;
                        }
                    };
                    status[index] = report.status;
                    if report.status == StepStatus::Succeeded {
                        outputs.insert(report.id.clone(), report.outputs.clone());
                    }
                    if let Err(err) = recorded {
                        sink_error.get_or_insert(err);
                    }
                    reports[index] = Some(report);
                }
                changed = cancel_watch.changed(), if cancel_open && !cancelled => {
                    // Running steps watch the same channel and stop by themselves.
                    match changed {
                        Ok(()) => cancelled = *cancel_watch.borrow(),
                        Err(_) => cancel_open = false,
                    }
                }
            }
        }

        // Steps whose task died keep their Running state; report them failed.
        for (index, slot) in reports.iter_mut().enumerate() {
            if slot.is_none() {
                *slot = Some(StepReport::not_run(
                    &steps[index].id,
                    StepStatus::Failed,
                    Some("the step's task ended without a report".to_string()),
                ));
            }
        }
        let steps_out: Vec<StepReport> = reports.into_iter().flatten().collect();
        let final_status = final_status(cancelled, &steps_out, sink_error.is_some());
        if let Err(err) = sink
            .record(&Event::ExecutionFinished {
                execution_id: plan.execution_id.clone(),
                status: final_status,
            })
            .await
        {
            sink_error.get_or_insert(err.to_string());
        }
        ExecutionReport {
            execution_id: plan.execution_id.clone(),
            status: final_status,
            steps: steps_out,
            error: sink_error,
        }
    }
}

/// Derives the execution state: cancelled wins, then failed, then timed out.
/// A cancel that came after every step succeeded changes nothing.
fn final_status(cancelled: bool, steps: &[StepReport], sink_failed: bool) -> ExecutionStatus {
    let all_succeeded = steps.iter().all(|s| s.status == StepStatus::Succeeded);
    if cancelled && (sink_failed || !all_succeeded) {
        return ExecutionStatus::Cancelled;
    }
    if sink_failed || steps.iter().any(|s| s.status == StepStatus::Failed) {
        return ExecutionStatus::Failed;
    }
    if steps.iter().any(|s| s.status == StepStatus::TimedOut) {
        return ExecutionStatus::TimedOut;
    }
    if steps.iter().all(|s| s.status == StepStatus::Succeeded) {
        ExecutionStatus::Succeeded
    } else {
        ExecutionStatus::Failed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reports(statuses: &[StepStatus]) -> Vec<StepReport> {
        statuses
            .iter()
            .enumerate()
            .map(|(index, status)| StepReport::not_run(&format!("s{index}"), *status, None))
            .collect()
    }

    #[test]
    fn cancel_wins_over_failure() {
        let steps = reports(&[StepStatus::Cancelled, StepStatus::Skipped]);
        assert_eq!(
            final_status(true, &steps, false),
            ExecutionStatus::Cancelled
        );
        let steps = reports(&[StepStatus::Failed, StepStatus::Cancelled]);
        assert_eq!(
            final_status(true, &steps, false),
            ExecutionStatus::Cancelled
        );
    }

    #[test]
    fn late_cancel_keeps_success() {
        let steps = reports(&[StepStatus::Succeeded, StepStatus::Succeeded]);
        assert_eq!(
            final_status(true, &steps, false),
            ExecutionStatus::Succeeded
        );
        assert_eq!(final_status(true, &steps, true), ExecutionStatus::Cancelled);
    }

    #[test]
    fn failure_then_timeout_order() {
        let steps = reports(&[StepStatus::TimedOut, StepStatus::Failed]);
        assert_eq!(final_status(false, &steps, false), ExecutionStatus::Failed);
        let steps = reports(&[StepStatus::TimedOut, StepStatus::Skipped]);
        assert_eq!(
            final_status(false, &steps, false),
            ExecutionStatus::TimedOut
        );
        let steps = reports(&[StepStatus::Succeeded, StepStatus::Skipped]);
        assert_eq!(final_status(false, &steps, false), ExecutionStatus::Failed);
    }
}
