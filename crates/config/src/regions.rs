//! The AWS region codes Pilotlight accepts, and how a misspelt one is explained.

use crate::suggest;

/// Every AWS region code known to Pilotlight (commercial, GovCloud and China partitions, as of
/// 2026). A region missing here is rejected by validation; add it here when AWS opens it.
pub const AWS_REGIONS: &[&str] = &[
    // North America
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "ca-central-1",
    "ca-west-1",
    "mx-central-1",
    // South America
    "sa-east-1",
    // Europe
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    // Africa, Middle East
    "af-south-1",
    "me-south-1",
    "me-central-1",
    "il-central-1",
    // Asia Pacific
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-6",
    "ap-southeast-7",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-east-1",
    "ap-east-2",
    // AWS GovCloud (US)
    "us-gov-west-1",
    "us-gov-east-1",
    // China
    "cn-north-1",
    "cn-northwest-1",
];

/// Whether `code` is a known AWS region code (exact, lower case).
pub fn is_known(code: &str) -> bool {
    AWS_REGIONS.contains(&code)
}

/// The AWS partition of a region code: `aws-us-gov`, `aws-cn` or `aws`.
pub fn partition(code: &str) -> &'static str {
    if code.starts_with("us-gov-") {
        "aws-us-gov"
    } else if code.starts_with("cn-") {
        "aws-cn"
    } else {
        "aws"
    }
}

/// Why `code` is not a region, and what to write instead; `None` when it is a known region.
/// Returns `(message, fix)`.
pub fn explain_unknown(code: &str) -> Option<(String, String)> {
    if is_known(code) {
        return None;
    }
    let trimmed = code.trim();
    if trimmed.is_empty() {
        return Some((
            "the region is empty".to_string(),
            "write an AWS region code such as `us-east-1` or `eu-west-1`".to_string(),
        ));
    }
    let lower = trimmed.to_lowercase();
    if is_known(&lower) {
        return Some((
            format!("`{code}` is not a region code as AWS writes it"),
            format!("write it in lower case without spaces: `{lower}`"),
        ));
    }
    // An availability zone (us-east-1a) instead of its region.
    if let Some(region) = lower.strip_suffix(|c: char| c.is_ascii_lowercase()) {
        if is_known(region) {
            return Some((
                format!("`{code}` is an availability zone, not a region"),
                format!("use the region `{region}`"),
            ));
        }
    }
    let message = format!("`{code}` is not an AWS region");
    let fix = match suggest::closest(&lower, AWS_REGIONS.iter().copied()).as_slice() {
        [one] => format!("did you mean `{one}`? Replace `{code}` with `{one}`"),
        [] => "write a region code that exists, such as `us-east-1`, `us-west-2` or `eu-west-1` \
                 (the full list is in docs/configuration.md)"
            .to_string(),
        many => format!(
            "did you mean {}? Replace `{code}` with the one you meant",
            suggest::or_list(many)
        ),
    };
    Some((message, fix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_is_complete_and_unique() {
        assert_eq!(AWS_REGIONS.len(), 38);
        let mut sorted = AWS_REGIONS.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(
            sorted.len(),
            AWS_REGIONS.len(),
            "duplicate region in AWS_REGIONS"
        );
        for r in [
            "ap-southeast-7",
            "mx-central-1",
            "ap-east-2",
            "us-gov-east-1",
            "cn-northwest-1",
        ] {
            assert!(is_known(r), "{r}");
        }
    }

    #[test]
    fn explanations() {
        assert!(explain_unknown("eu-west-1").is_none());
        let (m, f) = explain_unknown("us-east-1a").unwrap();
        assert!(m.contains("availability zone"), "{m}");
        assert!(f.contains("`us-east-1`"), "{f}");
        let (_, f) = explain_unknown("US-EAST-1").unwrap();
        assert!(f.contains("`us-east-1`"), "{f}");
        let (m, f) = explain_unknown("eu-wset-1").unwrap();
        assert_eq!(m, "`eu-wset-1` is not an AWS region");
        assert_eq!(
            f,
            "did you mean `eu-west-1`? Replace `eu-wset-1` with `eu-west-1`"
        );
        let (_, f) = explain_unknown("us-east-3").unwrap();
        assert_eq!(
            f,
            "did you mean `us-east-1` or `us-east-2`? Replace `us-east-3` with the one you meant"
        );
        let (_, f) = explain_unknown("mars-north-1").unwrap();
        assert!(f.contains("such as `us-east-1`"), "{f}");
    }

    #[test]
    fn partitions() {
        assert_eq!(partition("us-east-1"), "aws");
        assert_eq!(partition("us-gov-west-1"), "aws-us-gov");
        assert_eq!(partition("cn-north-1"), "aws-cn");
    }
}
