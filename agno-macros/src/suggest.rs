//! "Did you mean ...?" for misspelt names.

/// The candidate closest to `input`, if one is close enough to be a likely typo or shorthand:
/// at most two edits away, a whole `_`-separated word, prefix or suffix of it (`input` →
/// `run_input`), or an abbreviation with the same first letter (`run_in_bg` →
/// `run_in_background`).
pub(crate) fn did_you_mean<'a>(input: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let input = input.to_lowercase();
    candidates
        .into_iter()
        .filter_map(|candidate| {
            let distance = edit_distance(&input, candidate);
            let rank = if distance <= 2 {
                0
            } else if input.len() >= 3
                && (candidate.starts_with(&input)
                    || candidate.ends_with(&input)
                    || candidate.split('_').any(|word| word == input))
            {
                1
            } else if input.len() >= 3
                && input.chars().next() == candidate.chars().next()
                && is_subsequence(&input, candidate)
            {
                2
            } else {
                return None;
            };
            Some(((rank, distance), candidate))
        })
        .min_by_key(|(key, _)| *key)
        .map(|(_, candidate)| candidate)
}

/// Levenshtein distance, counted in chars.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = if ca == *cb { diagonal } else { 1 + diagonal.min(above).min(row[j]) };
            diagonal = above;
        }
    }
    row[b.len()]
}

/// Whether every char of `short` appears in `long`, in order.
fn is_subsequence(short: &str, long: &str) -> bool {
    let mut long = long.chars();
    short.chars().all(|c| long.any(|l| l == c))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAMES: [&str; 9] =
        ["run_input", "run_output", "run_context", "agent", "session", "user_id", "metadata", "debug_mode", "tasks"];

    #[test]
    fn distances() {
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("agent", "agent"), 0);
        assert_eq!(edit_distance("run_inptu", "run_input"), 2);
    }

    #[test]
    fn suggestions() {
        assert_eq!(did_you_mean("run_inpt", NAMES), Some("run_input"));
        assert_eq!(did_you_mean("agnet", NAMES), Some("agent"));
        assert_eq!(did_you_mean("_agent", NAMES), Some("agent"));
        assert_eq!(did_you_mean("Agent", NAMES), Some("agent"));
        assert_eq!(did_you_mean("input", NAMES), Some("run_input"));
        assert_eq!(did_you_mean("output", NAMES), Some("run_output"));
        assert_eq!(did_you_mean("context", NAMES), Some("run_context"));
        assert_eq!(did_you_mean("user", NAMES), Some("user_id"));
        assert_eq!(did_you_mean("debug", NAMES), Some("debug_mode"));
        assert_eq!(did_you_mean("run_in_bg", ["run_in_background", "crate"]), Some("run_in_background"));
        assert_eq!(did_you_mean("krate", ["run_in_background", "crate"]), Some("crate"));
        assert_eq!(did_you_mean("task", NAMES), Some("tasks"));
        assert_eq!(did_you_mean("tll", ["ttl", "priority", "transform", "output", "crate"]), Some("ttl"));
        assert_eq!(did_you_mean("prio", ["ttl", "priority", "transform", "output", "crate"]), Some("priority"));
        assert_eq!(did_you_mean("foo", NAMES), None);
        assert_eq!(did_you_mean("x", NAMES), None);
    }
}
