//! The `command` probe: a synthetic check run as a program (`command = ["prog", "arg", ...]`, no
//! shell). Exit status 0 is up; any other status is down with the tail of its stderr (or stdout);
//! a command still running at the timeout is killed, with the processes it started, and is down;
//! a program that cannot be started (not found, not executable) is unknown.

use crate::{human, Seen};
use pilotlight_core::health::ProbeOutcome;
use pilotlight_core::model::ProbeConfig;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::task::JoinHandle;

/// Bytes of each output stream kept (the end of it).
const TAIL_BYTES: usize = 4096;
/// Lines of output quoted in a detail.
const TAIL_LINES: usize = 3;
/// Characters of output quoted in a detail.
const TAIL_CHARS: usize = 300;
/// How long the output may take to close once the command exited (its own children may hold it).
const OUTPUT_GRACE: Duration = Duration::from_millis(250);

/// Runs one attempt.
pub(crate) async fn probe(cfg: &ProbeConfig, timeout: Duration) -> Seen {
    let Some((program, args)) = cfg.command.split_first() else {
        return Seen::Unknown("the probe has no `command`".into());
    };
    if program.trim().is_empty() {
        return Seen::Unknown("the probe's `command` names no program".into());
    }
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    // Its own process group, so a timeout kills what it started too.
    #[cfg(unix)]
    cmd.process_group(0);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            let why = match e.kind() {
                std::io::ErrorKind::NotFound => "program not found".to_string(),
                std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
                _ => e.to_string(),
            };
            return Seen::Unknown(format!("cannot run `{program}`: {why}"));
        }
    };
    let pid = child.id();
    let stdout = child.stdout.take().map(|s| tokio::spawn(tail(s)));
    let stderr = child.stderr.take().map(|s| tokio::spawn(tail(s)));
    let waited = tokio::time::timeout(timeout, child.wait()).await;
    let status = match waited {
        Ok(Ok(status)) => Some(status),
        Ok(Err(e)) => {
            kill_group(pid);
            let _ = child.kill().await;
            return Seen::Unknown(format!("waiting for `{program}` failed: {e}"));
        }
        Err(_) => {
            // Kill the group while its leader is not yet reaped (its id cannot be reused).
            kill_group(pid);
            let _ = child.kill().await;
            None
        }
    };
    let (out, err) = tokio::join!(collect(stdout), collect(stderr));
    let output = if err.is_empty() { out } else { err };
    match status {
        None => {
            let reason = format!("`{program}` timed out after {}; killed", human(timeout));
            Seen::TimedOut(ProbeOutcome::down(reason.clone()), reason)
        }
        Some(s) if s.success() => Seen::Up(with_output(format!("`{program}` exited 0"), &output)),
        Some(s) => Seen::Down(with_output(format!("`{program}` {}", describe(s)), &output)),
    }
}

fn with_output(head: String, output: &str) -> String {
    if output.is_empty() {
        head
    } else {
        format!("{head}: {output}")
    }
}

fn describe(status: ExitStatus) -> String {
    if let Some(code) = status.code() {
        return format!("exited {code}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return format!("was killed by signal {signal}");
        }
    }
    format!("ended: {status}")
}

/// Sends SIGKILL to the process group `pid` leads.
fn kill_group(pid: Option<u32>) {
    #[cfg(unix)]
    if let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()).filter(|p| *p > 0) {
        // SAFETY: kill(2) with a negative pid signals that process group; no memory is shared.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
    #[cfg(not(unix))]
    let _ = pid;
}

/// Reads `r` to its end, keeping the last [`TAIL_BYTES`].
async fn tail<R: AsyncRead + Unpin>(mut r: R) -> Vec<u8> {
    let mut keep = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match r.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                keep.extend_from_slice(&buf[..n]);
                if keep.len() > 2 * TAIL_BYTES {
                    keep.drain(..keep.len() - TAIL_BYTES);
                }
            }
        }
    }
    if keep.len() > TAIL_BYTES {
        keep.drain(..keep.len() - TAIL_BYTES);
    }
    keep
}

/// The last lines a reader kept, or nothing when it did not finish within [`OUTPUT_GRACE`].
async fn collect(reader: Option<JoinHandle<Vec<u8>>>) -> String {
    let Some(handle) = reader else {
        return String::new();
    };
    let abort = handle.abort_handle();
    match tokio::time::timeout(OUTPUT_GRACE, handle).await {
        Ok(Ok(bytes)) => last_lines(&bytes),
        _ => {
            abort.abort();
            String::new()
        }
    }
}

/// The last [`TAIL_LINES`] non-empty lines of `bytes`, joined with ` | `, at most
/// [`TAIL_CHARS`] characters (the end).
pub(crate) fn last_lines(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let joined = lines[lines.len().saturating_sub(TAIL_LINES)..].join(" | ");
    let n = joined.chars().count();
    if n > TAIL_CHARS {
        let end: String = joined.chars().skip(n - TAIL_CHARS).collect();
        format!("…{end}")
    } else {
        joined
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_tails() {
        assert_eq!(last_lines(b""), "");
        assert_eq!(
            last_lines(b"one\n\ntwo\nthree\nfour\n"),
            "two | three | four"
        );
        let long = "x".repeat(400);
        let t = last_lines(long.as_bytes());
        assert_eq!(t.chars().count(), TAIL_CHARS + 1);
        assert!(t.starts_with('…'));
    }
}
