//! Observer authentication: bearer tokens, of which the configuration stores only the SHA-256.

use sha2::{Digest, Sha256};

/// The lowercase hex SHA-256 of a token (what `token_sha256` in the config holds).
pub fn token_sha256(token: &str) -> String {
    hex::encode(Sha256::digest(token.trim().as_bytes()))
}

/// Compare two hex digests in constant time (no early exit on the first difference).
pub fn same_digest(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| {
        acc | (x.to_ascii_lowercase() ^ y.to_ascii_lowercase())
    }) == 0
}

/// The token of an `Authorization: Bearer TOKEN` header value.
pub fn bearer(header: Option<&str>) -> Option<&str> {
    let h = header?.trim();
    let (scheme, token) = h.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty()).then(|| token.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_and_bearer_tokens() {
        let d = token_sha256("s3cret\n");
        assert_eq!(
            d,
            token_sha256("s3cret"),
            "surrounding whitespace of a token file is ignored"
        );
        assert_eq!(d.len(), 64);
        assert!(same_digest(&d, &d.to_uppercase()));
        assert!(!same_digest(&d, &token_sha256("other")));
        assert!(!same_digest(&d, "abc"));
        assert_eq!(bearer(Some("Bearer abc")), Some("abc"));
        assert_eq!(bearer(Some("bearer  abc ")), Some("abc"));
        assert_eq!(bearer(Some("Basic abc")), None);
        assert_eq!(bearer(Some("Bearer ")), None);
        assert_eq!(bearer(None), None);
    }
}
