//! When the built-in maintenance scheduler runs each job.

use chrono::{DateTime, Utc};

use super::cron::Schedule;

/// When each job runs.
#[derive(Debug, Clone)]
pub struct ScheduleConfig {
    pub vacuum: Schedule,
    pub cleanup: Schedule,
    pub reindex: Schedule,
    /// Days of logs `cleanup` keeps.
    pub retention_days: i32,
}

impl ScheduleConfig {
    /// The next minute after `after` when any job is due.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        [&self.vacuum, &self.cleanup, &self.reindex]
            .into_iter()
            .filter_map(|s| s.next_after(after))
            .min()
    }
}
