//! The wall clock as agno stores it: whole seconds since the Unix epoch.

/// Now, in Unix seconds (0 if the system clock is set before 1970).
pub(crate) fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
