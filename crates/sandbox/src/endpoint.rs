//! The guard that keeps the sandbox away from real AWS: only endpoints whose host is a loopback
//! address (127.0.0.0/8, `localhost`, `::1`) are accepted.

use crate::error::SandboxError;
use std::net::IpAddr;

/// Accept `endpoint` only if it is an `http`/`https` URL whose host is a loopback address.
///
/// The check is on the literal host: `127.0.0.1.example.com` or a name that merely resolves to
/// a loopback address is refused, so no DNS answer can redirect the sandbox to AWS.
pub fn ensure_loopback(endpoint: &str) -> Result<(), SandboxError> {
    let invalid = |reason: &str| SandboxError::InvalidEndpoint {
        endpoint: endpoint.to_string(),
        reason: reason.to_string(),
    };
    let uri: http::Uri = endpoint
        .parse()
        .map_err(|e| invalid(&format!("not a URL ({e})")))?;
    match uri.scheme_str() {
        Some("http") | Some("https") => {}
        Some(other) => return Err(invalid(&format!("scheme `{other}` is not http or https"))),
        None => return Err(invalid("no scheme (http:// or https://)")),
    }
    let host = uri.host().ok_or_else(|| invalid("no host"))?;
    if is_loopback_host(host) {
        Ok(())
    } else {
        Err(SandboxError::NonLoopbackEndpoint {
            endpoint: endpoint.to_string(),
        })
    }
}

/// Whether `host` (as it appears in a URL, IPv6 in brackets) names the loopback interface.
fn is_loopback_host(host: &str) -> bool {
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_endpoints_are_accepted() {
        for ok in [
            "http://127.0.0.1:5000",
            "http://127.0.0.1",
            "http://127.1.2.3:4566/",
            "http://localhost:5000",
            "http://LOCALHOST:5000",
            "https://127.0.0.1:8443",
            "http://[::1]:5000",
        ] {
            assert!(ensure_loopback(ok).is_ok(), "{ok} should be accepted");
        }
    }

    #[test]
    fn other_hosts_are_refused() {
        for bad in [
            "https://dynamodb.us-east-1.amazonaws.com",
            "http://10.0.0.5:5000",
            "http://192.168.1.2:5000",
            "http://0.0.0.0:5000",
            "http://127.0.0.1.nip.io:5000",
            "http://localhost.example.com:5000",
            "http://[::ffff:10.0.0.1]:5000",
            "http://[2001:db8::1]:5000",
        ] {
            match ensure_loopback(bad) {
                Err(SandboxError::NonLoopbackEndpoint { endpoint }) => assert_eq!(endpoint, bad),
                other => panic!("{bad} should be refused as non-loopback, got {other:?}"),
            }
        }
    }

    #[test]
    fn malformed_endpoints_are_invalid() {
        for bad in ["", "127.0.0.1:5000", "ftp://127.0.0.1/", "http://"] {
            assert!(
                matches!(
                    ensure_loopback(bad),
                    Err(SandboxError::InvalidEndpoint { .. })
                ),
                "{bad:?} should be invalid"
            );
        }
    }
}
