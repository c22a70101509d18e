//! Ids: UUID v7 strings (a millisecond timestamp, then random bits) from a per-thread generator,
//! so a run does not make a system call for every id it needs.
//!
//! agno makes UUID v4 ids; any UUID reads the same to agno and its clients. Version 7 sorts by
//! creation time, so new sessions and runs land at the end of the storage indexes keyed by their
//! ids instead of on a random page each: a commit writes a few pages, not one per new row.
//!
//! Each thread seeds a SplitMix64 generator once from the operating system's random source.
//! These ids are unique, not secret (and they tell when they were made): do not use them as tokens.

use std::cell::Cell;

thread_local! {
    static STATE: Cell<u64> = Cell::new(seed());
}

fn seed() -> u64 {
    let (hi, lo) = uuid::Uuid::new_v4().as_u64_pair();
    hi ^ lo.rotate_left(29)
}

/// SplitMix64: a fast generator with a full 2^64 period.
fn next(state: &Cell<u64>) -> u64 {
    let s = state.get().wrapping_add(0x9E37_79B9_7F4A_7C15);
    state.set(s);
    let mut z = s;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A new UUID v7, hyphenated (`"019aeb3c-…"`): time-ordered to the millisecond, random after.
pub fn new_id() -> String {
    let (a, b) = STATE.with(|state| (next(state), next(state)));
    let mut random = [0u8; 10];
    random[..8].copy_from_slice(&a.to_le_bytes());
    random[8..].copy_from_slice(&b.to_le_bytes()[..2]);
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_v7_uuids_distinct_and_time_ordered() {
        let ids: std::collections::HashSet<String> = (0..10_000).map(|_| new_id()).collect();
        assert_eq!(ids.len(), 10_000);
        for id in ids.iter().take(100) {
            let parsed = uuid::Uuid::parse_str(id).unwrap();
            assert_eq!(parsed.get_version_num(), 7);
            assert_eq!(id.len(), 36);
        }
        // A later id sorts after an earlier one once the clock has moved on.
        let earlier = new_id();
        std::thread::sleep(std::time::Duration::from_millis(2));
        assert!(new_id() > earlier);
        let other_thread = std::thread::spawn(new_id).join().unwrap();
        assert!(!ids.contains(&other_thread));
    }
}
