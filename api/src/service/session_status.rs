//! The one place that decides a session's status from its steps, and which
//! step status changes are legal.
//!
//! Session status:
//!
//! | steps | status |
//! |---|---|
//! | cancelled by a person | `cancelled` (final: nothing derives it away) |
//! | none (no outline yet) | `planning` |
//! | any `failed` (not retried) | `failed` |
//! | any `running` | `generating` |
//! | all `completed` or `skipped` | `completed` |
//! | otherwise (outline exists, work left) | `generating` |
//!
//! Step status: `pending → running | skipped`, `running → completed | failed |
//! skipped`, `failed → pending` (a retry). `completed` and `skipped` are final.

use entity::enums::{SessionStatus, StepStatus};

use crate::error::{AppError, AppResult};

/// How many steps of a session are in each status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StepCounts {
    pub pending: i64,
    pub running: i64,
    pub completed: i64,
    pub failed: i64,
    pub skipped: i64,
}

impl StepCounts {
    pub fn total(&self) -> i64 {
        self.pending + self.running + self.completed + self.failed + self.skipped
    }

    /// Counts from a list of statuses.
    pub fn of(statuses: impl IntoIterator<Item = StepStatus>) -> Self {
        let mut c = Self::default();
        for s in statuses {
            match s {
                StepStatus::Pending => c.pending += 1,
                StepStatus::Running => c.running += 1,
                StepStatus::Completed => c.completed += 1,
                StepStatus::Failed => c.failed += 1,
                StepStatus::Skipped => c.skipped += 1,
            }
        }
        c
    }
}

/// The status a session has given its current status and its steps.
pub fn derive(current: SessionStatus, steps: &StepCounts) -> SessionStatus {
    if current == SessionStatus::Cancelled {
        SessionStatus::Cancelled
    } else if steps.total() == 0 {
        SessionStatus::Planning
    } else if steps.failed > 0 {
        SessionStatus::Failed
    } else if steps.running > 0 {
        SessionStatus::Generating
    } else if steps.completed + steps.skipped == steps.total() {
        SessionStatus::Completed
    } else {
        SessionStatus::Generating
    }
}

/// Whether a step may go from `from` to `to`.
pub fn step_transition_allowed(from: StepStatus, to: StepStatus) -> bool {
    use StepStatus::*;
    matches!(
        (from, to),
        (Pending, Running)
            | (Pending, Skipped)
            | (Running, Completed)
            | (Running, Failed)
            | (Running, Skipped)
            | (Failed, Pending)
    )
}

/// `BAD_USER_INPUT` (field `status`) naming both states when the move is illegal.
pub fn check_step_transition(from: StepStatus, to: StepStatus) -> AppResult<()> {
    if step_transition_allowed(from, to) {
        Ok(())
    } else {
        let upper = |s: StepStatus| s.as_str().to_uppercase();
        Err(AppError::bad_input(
            "status",
            format!(
                "a step cannot go from {} to {} (allowed: PENDING → RUNNING | SKIPPED, RUNNING → COMPLETED | FAILED | \
                 SKIPPED, FAILED → PENDING)",
                upper(from),
                upper(to)
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use SessionStatus as S;
    use StepStatus::*;

    fn counts(list: &[StepStatus]) -> StepCounts {
        StepCounts::of(list.iter().copied())
    }

    #[test]
    fn session_status_follows_the_steps() {
        assert_eq!(derive(S::Planning, &counts(&[])), S::Planning);
        assert_eq!(derive(S::Generating, &counts(&[])), S::Planning);
        assert_eq!(derive(S::Planning, &counts(&[Pending, Pending])), S::Generating);
        assert_eq!(derive(S::Planning, &counts(&[Running, Pending])), S::Generating);
        assert_eq!(derive(S::Generating, &counts(&[Completed, Pending])), S::Generating);
        assert_eq!(derive(S::Generating, &counts(&[Completed, Skipped])), S::Completed);
        assert_eq!(derive(S::Generating, &counts(&[Completed, Failed])), S::Failed);
        assert_eq!(derive(S::Generating, &counts(&[Running, Failed])), S::Failed);
        assert_eq!(derive(S::Failed, &counts(&[Completed, Pending])), S::Generating);
        assert_eq!(derive(S::Completed, &counts(&[Completed, Pending])), S::Generating);
        for steps in [&[][..], &[Running][..], &[Completed][..], &[Failed][..]] {
            assert_eq!(derive(S::Cancelled, &counts(steps)), S::Cancelled);
        }
    }

    #[test]
    fn step_transitions() {
        let all = [Pending, Running, Completed, Failed, Skipped];
        let legal = [
            (Pending, Running),
            (Pending, Skipped),
            (Running, Completed),
            (Running, Failed),
            (Running, Skipped),
            (Failed, Pending),
        ];
        for from in all {
            for to in all {
                assert_eq!(
                    step_transition_allowed(from, to),
                    legal.contains(&(from, to)),
                    "{from} → {to}"
                );
            }
        }
        let err = check_step_transition(Completed, Running).expect_err("illegal");
        assert!(err.message().contains("COMPLETED") && err.message().contains("RUNNING"));
    }
}
