//! "Did you mean …?": edit distance between a misspelt word and the words that are valid there.

/// The largest edit distance at which a candidate is still suggested.
pub const MAX_DISTANCE: usize = 2;

/// Optimal-string-alignment distance: insertions, deletions, substitutions and transpositions of
/// adjacent characters each cost 1 (`activ_count` → `active_count` is 1, `rgeion` → `region` is 1).
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let width = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * width];
    for (i, cell) in d.iter_mut().step_by(width).enumerate() {
        *cell = i;
    }
    for (j, cell) in d.iter_mut().take(width).enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[(i - 1) * width + j] + 1)
                .min(d[i * width + j - 1] + 1)
                .min(d[(i - 1) * width + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[(i - 2) * width + j - 2] + 1);
            }
            d[i * width + j] = best;
        }
    }
    d[a.len() * width + b.len()]
}

/// The candidates closest to `word` (compared case-insensitively), if the closest are within
/// [`MAX_DISTANCE`] and closer than the candidate's own length (so `x` never "means" `dr`).
/// Several candidates are returned only when they tie.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    let word = word.to_lowercase();
    let mut best: Option<usize> = None;
    let mut out = Vec::new();
    for candidate in candidates {
        let d = edit_distance(&word, &candidate.to_lowercase());
        if d > MAX_DISTANCE || d >= candidate.chars().count() {
            continue;
        }
        match best {
            Some(b) if d > b => {}
            Some(b) if d == b => out.push(candidate),
            _ => {
                best = Some(d);
                out = vec![candidate];
            }
        }
    }
    out
}

/// `did you mean `a`?` / `did you mean `a` or `b`?`, or `None` when nothing is close.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    let found = closest(word, candidates);
    if found.is_empty() {
        return None;
    }
    Some(format!("did you mean {}?", or_list(&found)))
}

/// `` `a` ``, `` `a` or `b` ``, `` `a`, `b` or `c` ``.
pub fn or_list(items: &[&str]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| format!("`{i}`")).collect();
    match quoted.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        let cases = [
            ("active_count", "active_count", 0),
            ("activ_count", "active_count", 1),
            ("actvie_count", "active_count", 1),
            ("us-est-1", "us-east-1", 1),
            ("useast1", "us-east-1", 2),
            ("", "abc", 3),
            ("abc", "", 3),
        ];
        for (a, b, want) in cases {
            assert_eq!(edit_distance(a, b), want, "{a} vs {b}");
        }
    }

    #[test]
    fn suggestions() {
        let keys = [
            "name",
            "cluster",
            "service",
            "pilot_light_count",
            "active_count",
        ];
        assert_eq!(
            did_you_mean("activ_count", keys).as_deref(),
            Some("did you mean `active_count`?")
        );
        assert_eq!(
            did_you_mean("Active_Count", keys).as_deref(),
            Some("did you mean `active_count`?")
        );
        assert_eq!(did_you_mean("replicas", keys), None);
        assert_eq!(did_you_mean("x", ["dr", "rto"]), None);
        assert_eq!(
            did_you_mean("us-east-3", ["us-east-1", "us-east-2", "us-west-1"]).as_deref(),
            Some("did you mean `us-east-1` or `us-east-2`?")
        );
    }

    #[test]
    fn or_lists() {
        assert_eq!(or_list(&[]), "");
        assert_eq!(or_list(&["a"]), "`a`");
        assert_eq!(or_list(&["a", "b", "c"]), "`a`, `b` or `c`");
    }
}
