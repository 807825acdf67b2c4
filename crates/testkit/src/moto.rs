//! Start and stop a moto server (PyPI `moto[server]`) bound to 127.0.0.1 on a free port.
//! Each [`Moto`] is its own process, so tests running in parallel never share state.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Why the emulator could not be started.
#[derive(Debug, thiserror::Error)]
pub enum MotoError {
    /// Neither `moto_server` nor `python3 -m moto.server` could be run.
    #[error("could not start moto ({0}); install it with `pip install 'moto[server]'` (the README's commands do)")]
    Spawn(std::io::Error),
    /// The server started but did not answer in time.
    #[error("moto did not answer on 127.0.0.1:{port} within {secs} s; see its output above")]
    NotReady {
        /// The port it was started on.
        port: u16,
        /// How long we waited.
        secs: u64,
    },
    /// No free loopback port.
    #[error("no free loopback port: {0}")]
    Port(std::io::Error),
}

impl MotoError {
    /// Starting moto is never worth retrying blindly except when it was merely slow.
    pub fn is_retryable(&self) -> bool {
        matches!(self, MotoError::NotReady { .. })
    }
}

/// A running moto server; killed when dropped.
#[derive(Debug)]
pub struct Moto {
    child: Child,
    port: u16,
}

/// A free TCP port on 127.0.0.1 (bound and released; good enough for tests).
pub fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl Moto {
    /// Start moto on a free loopback port and wait until it answers (blocking, up to 30 s).
    pub fn start() -> Result<Moto, MotoError> {
        let port = free_port().map_err(MotoError::Port)?;
        Self::start_on(port)
    }

    /// Start moto on `port` and wait until it answers (blocking, up to 30 s).
    pub fn start_on(port: u16) -> Result<Moto, MotoError> {
        let args = ["-H", "127.0.0.1", "-p", &port.to_string()];
        let spawn = |cmd: &str, pre: &[&str]| {
            Command::new(cmd)
                .args(pre)
                .args(args)
                .env("AWS_EC2_METADATA_DISABLED", "true")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
        };
        let child = spawn("moto_server", &[])
            .or_else(|_| spawn("python3", &["-m", "moto.server"]))
            .map_err(MotoError::Spawn)?;
        let mut moto = Moto { child, port };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(moto);
            }
            if let Ok(Some(_)) = moto.child.try_wait() {
                return Err(MotoError::NotReady { port, secs: 0 });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = moto.child.kill();
        Err(MotoError::NotReady { port, secs: 30 })
    }

    /// The port moto listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The endpoint URL to give the SDK (`http://127.0.0.1:PORT`).
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The OS process id (for `kill -STOP` style fault tests).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
