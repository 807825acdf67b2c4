//! The `http` probe: a GET of `url`; up when the status is `expect_status` (default any 2xx) and,
//! with `body_contains`, the body contains that string. Redirects are not followed.

use crate::{error_chain, timed_out, Seen};
use pilotlight_core::health::ProbeOutcome;
use pilotlight_core::model::ProbeConfig;
use std::time::Duration;

/// The most of a body read while looking for `body_contains`.
pub(crate) const MAX_BODY_BYTES: usize = 1 << 20;

/// The probes' HTTP client: no redirects, a fresh connection per attempt (a pooled connection
/// would hide failures to connect), rustls with the bundled and the system's roots.
pub(crate) fn client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(0)
        .user_agent(concat!("pilotlight-probe/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("the HTTP client could not be built: {}", error_chain(&e)))
}

/// Runs one attempt.
pub(crate) async fn probe(
    client: &Result<reqwest::Client, String>,
    cfg: &ProbeConfig,
    timeout: Duration,
) -> Seen {
    let client = match client {
        Ok(c) => c,
        Err(e) => return Seen::Unknown(e.clone()),
    };
    let Some(url) = cfg.url.as_deref() else {
        return Seen::Unknown("the probe has no `url`".into());
    };
    let url = match reqwest::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => u,
        Ok(u) => {
            return Seen::Unknown(format!(
                "`{url}`: scheme `{}` is not http or https",
                u.scheme()
            ))
        }
        Err(e) => return Seen::Unknown(format!("`{url}` is not a URL: {e}")),
    };
    match tokio::time::timeout(timeout, attempt(client, url, cfg)).await {
        Ok(seen) => seen,
        Err(_) => {
            let reason = timed_out(timeout);
            Seen::TimedOut(ProbeOutcome::down(reason.clone()), reason)
        }
    }
}

async fn attempt(client: &reqwest::Client, url: reqwest::Url, cfg: &ProbeConfig) -> Seen {
    let mut resp = match client.get(url).send().await {
        Ok(r) => r,
        Err(e) => return Seen::Down(request_failed(&e)),
    };
    let status = resp.status();
    let shown = match status.canonical_reason() {
        Some(reason) => format!("HTTP {} {reason}", status.as_u16()),
        None => format!("HTTP {}", status.as_u16()),
    };
    let expected = match cfg.expect_status {
        Some(want) => status.as_u16() == want,
        None => status.is_success(),
    };
    if !expected {
        let want = cfg
            .expect_status
            .map_or_else(|| "2xx".to_string(), |s| s.to_string());
        return Seen::Down(format!("{shown} (expected {want})"));
    }
    let Some(needle) = cfg.body_contains.as_deref() else {
        return Seen::Up(shown);
    };
    let needle_bytes = needle.as_bytes();
    let mut body: Vec<u8> = Vec::new();
    loop {
        if contains(&body, needle_bytes) {
            return Seen::Up(format!("{shown}, body contains {}", quoted(needle)));
        }
        if body.len() >= MAX_BODY_BYTES {
            return Seen::Down(format!(
                "{shown} but the first {} KiB of the body do not contain {}",
                MAX_BODY_BYTES / 1024,
                quoted(needle)
            ));
        }
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                let room = MAX_BODY_BYTES - body.len();
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            }
            Ok(None) => {
                return Seen::Down(format!(
                    "{shown} but the body does not contain {}",
                    quoted(needle)
                ))
            }
            Err(e) => {
                return Seen::Down(format!(
                    "{shown} but reading the body failed: {}",
                    error_chain(&e)
                ))
            }
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

/// `"needle"`, shortened to 60 characters.
fn quoted(s: &str) -> String {
    let short: String = s.chars().take(60).collect();
    if short.len() < s.len() {
        format!("\"{short}…\"")
    } else {
        format!("\"{short}\"")
    }
}

/// Why a request failed, without reqwest's "error sending request for url (...)" preamble.
fn request_failed(e: &reqwest::Error) -> String {
    let what = if e.is_connect() {
        "connection failed"
    } else if e.is_timeout() {
        "timed out"
    } else if e.is_body() || e.is_decode() {
        "bad response"
    } else {
        "request failed"
    };
    let mut causes = Vec::new();
    let mut next = std::error::Error::source(e);
    while let Some(c) = next {
        let text = c.to_string();
        if !text.is_empty() && !causes.iter().any(|p: &String| p.contains(&text)) {
            causes.push(text);
        }
        next = c.source();
    }
    if causes.is_empty() {
        format!("{what}: {e}")
    } else {
        format!("{what}: {}", causes.join(": "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_search() {
        assert!(contains(b"status: ok", b"ok"));
        assert!(!contains(b"status: degraded", b"ok\n"));
        assert!(contains(b"", b""));
        assert_eq!(quoted("ok"), "\"ok\"");
        assert_eq!(quoted(&"x".repeat(70)), format!("\"{}…\"", "x".repeat(60)));
    }
}
