//! The `tcp` probe: a TCP connect to `address` (`host:port`); up when a connection opens.

use crate::{timed_out, Seen};
use pilotlight_core::health::ProbeOutcome;
use pilotlight_core::model::ProbeConfig;
use std::time::Duration;
use tokio::net::TcpStream;

/// `host:port` (`[v6]:port` too) split into host and port.
pub(crate) fn split_address(address: &str) -> Option<(&str, u16)> {
    let (host, port) = address.rsplit_once(':')?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let port: u16 = port.parse().ok()?;
    (!host.is_empty() && port != 0).then_some((host, port))
}

/// Runs one attempt.
pub(crate) async fn probe(cfg: &ProbeConfig, timeout: Duration) -> Seen {
    let Some(address) = cfg.address.as_deref() else {
        return Seen::Unknown("the probe has no `address`".into());
    };
    let Some((host, port)) = split_address(address) else {
        return Seen::Unknown(format!("`{address}` is not host:port"));
    };
    match tokio::time::timeout(timeout, connect(host, port)).await {
        Ok(seen) => seen,
        Err(_) => {
            let reason = format!("connect to {address} {}", timed_out(timeout));
            Seen::TimedOut(ProbeOutcome::down(reason.clone()), reason)
        }
    }
}

async fn connect(host: &str, port: u16) -> Seen {
    let addrs: Vec<_> = match tokio::net::lookup_host((host, port)).await {
        Ok(a) => a.collect(),
        Err(e) => return Seen::Down(format!("cannot resolve {host}: {e}")),
    };
    if addrs.is_empty() {
        return Seen::Down(format!("{host} resolves to no address"));
    }
    let mut last = String::new();
    for addr in &addrs {
        match TcpStream::connect(addr).await {
            Ok(stream) => {
                drop(stream);
                return Seen::Up(format!("connected to {addr}"));
            }
            Err(e) => last = format!("connect to {addr}: {e}"),
        }
    }
    Seen::Down(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(split_address("example.com:443"), Some(("example.com", 443)));
        assert_eq!(split_address("[::1]:8080"), Some(("::1", 8080)));
        assert_eq!(split_address("127.0.0.1:0"), None);
        assert_eq!(split_address("example.com"), None);
        assert_eq!(split_address(":80"), None);
        assert_eq!(split_address("host:http"), None);
    }
}
