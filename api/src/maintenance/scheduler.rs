//! The optional built-in scheduler (`SCREENPLAY_MAINTENANCE_SCHEDULE=true`,
//! off by default): the seed's plan of a daily VACUUM (ANALYZE), a weekly
//! log cleanup and a monthly online reindex, at configurable cron times
//! (UTC). Every server instance may run it: each job takes its advisory
//! lock and claims its slot in `screenplay.maintenance_runs`, so a slot runs
//! once however many instances are up. Jobs run on a connection of the
//! schema owner (`SCREENPLAY_MIGRATION_DATABASE_URL`), opened for the run.

use chrono::{DateTime, Duration as ChronoDuration, DurationRound, Utc};

use super::{Job, JobKind, OwnerConnection, RunOutcome, StartedBy};
use crate::{
    config::{ScheduleConfig, Secret},
    runtime::ShutdownSignal,
};

/// The jobs (with their parameters) due in the minute of `at`.
pub fn due(config: &ScheduleConfig, at: DateTime<Utc>) -> Vec<Job> {
    let mut jobs = Vec::new();
    if config.vacuum.matches(at) {
        jobs.push(Job::Vacuum);
    }
    if config.cleanup.matches(at) {
        jobs.push(Job::Cleanup {
            days: config.retention_days,
        });
    }
    if config.reindex.matches(at) {
        jobs.push(Job::Reindex);
    }
    jobs
}

/// The scheduler of one server instance.
pub struct Scheduler {
    owner_url: Secret<String>,
    config: ScheduleConfig,
    instance: String,
}

impl Scheduler {
    pub fn new(owner_url: Secret<String>, config: ScheduleConfig, instance: impl Into<String>) -> Self {
        Self {
            owner_url,
            config,
            instance: instance.into(),
        }
    }

    /// Runs the jobs due in the minute of `at`, each at most once per slot
    /// across instances; returns what happened to each.
    pub async fn run_due(&self, at: DateTime<Utc>) -> anyhow::Result<Vec<(JobKind, RunOutcome)>> {
        let jobs = due(&self.config, at);
        if jobs.is_empty() {
            return Ok(Vec::new());
        }
        let slot = at.duration_trunc(ChronoDuration::minutes(1))?;
        let owner = OwnerConnection::connect(self.owner_url.expose()).await?;
        let mut outcomes = Vec::new();
        for job in jobs {
            let outcome = owner.run(job, StartedBy::Schedule, Some(slot), &self.instance).await;
            match outcome {
                Ok(outcome) => {
                    match &outcome {
                        RunOutcome::Done(report) => {
                            tracing::info!(job = %job.kind(), %slot, result = %report.summary(), "scheduled maintenance done");
                        }
                        RunOutcome::Busy => {
                            tracing::info!(job = %job.kind(), %slot, "scheduled maintenance skipped: running elsewhere");
                        }
                        RunOutcome::AlreadyRan => {
                            tracing::debug!(job = %job.kind(), %slot, "scheduled maintenance already ran");
                        }
                    }
                    outcomes.push((job.kind(), outcome));
                }
                Err(err) => {
                    tracing::error!(job = %job.kind(), %slot, error = %format!("{err:#}"), "scheduled maintenance failed");
                    crate::metrics::maintenance_failed(job.kind().as_str());
                }
            }
        }
        owner.close().await;
        Ok(outcomes)
    }

    /// Waits for each due minute and runs its jobs, until `shutdown`.
    pub async fn run(self, shutdown: ShutdownSignal) {
        tracing::info!(
            vacuum = %self.config.vacuum, cleanup = %self.config.cleanup, reindex = %self.config.reindex,
            retention_days = self.config.retention_days, "maintenance scheduler on (UTC)"
        );
        loop {
            let Some(next) = self.config.next_after(Utc::now()) else {
                tracing::warn!("maintenance schedules never fire; scheduler stopped");
                return;
            };
            let wait = (next - Utc::now()).to_std().unwrap_or_default();
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = shutdown.clone().wait() => return,
            }
            if let Err(err) = self.run_due(next).await {
                tracing::error!(error = %format!("{err:#}"), "maintenance scheduler could not run");
            }
        }
    }
}
