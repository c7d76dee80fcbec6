//! Durations as people write them in flags and variables.

use std::time::Duration;

/// `humantime` durations: `15m`, `30d`, `250ms`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("`{s}` is not a duration (e.g. 30s, 15m, 30d): {e}"))
}
