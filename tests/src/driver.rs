//! WebDriver server processes: tauri-driver for the app, chromedriver for Chromium.

use crate::UI_TIMEOUT;
use fantoccini::{Client, ClientBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A WebDriver server process. Dropping it stops the whole process group it leads, so the
/// browser or app it started never outlives a failed test.
pub struct Driver {
    child: Child,
    pub port: u16,
}

impl Driver {
    /// Starts `program` with `args` in its own process group and waits until every port in
    /// `ports` accepts connections (the first is the one clients talk to).
    pub fn spawn(program: &str, args: &[String], ports: &[u16], install_hint: &str) -> Driver {
        Driver::spawn_with(program, args, &[], ports, install_hint)
    }

    /// Like [`Driver::spawn`], with extra environment for the driver and what it launches.
    pub fn spawn_with(
        program: &str,
        args: &[String],
        env: &[(String, String)],
        ports: &[u16],
        install_hint: &str,
    ) -> Driver {
        let mut command = Command::new(program);
        command.args(args).stdout(Stdio::null());
        command.envs(env.iter().map(|(k, v)| (k, v)));
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("{program} could not start ({e}): {install_hint}"));
        let mut driver = Driver {
            child,
            port: ports[0],
        };
        for &port in ports {
            driver.wait_for_listener(program, port);
        }
        driver
    }

    /// The server's process id: what it launches descends from it.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Drivers announce nothing when ready (no output, no notification), so listening on their
    /// port is the only sign: try to connect until it works, the driver exits or time runs out.
    fn wait_for_listener(&mut self, program: &str, port: u16) {
        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let deadline = Instant::now() + UI_TIMEOUT;
        while TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_err() {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("{program} exited before listening on {port}: {status}");
            }
            assert!(
                Instant::now() < deadline,
                "{program} did not listen on {port}"
            );
            // A refused connection returns at once; without a pause this would spin.
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    pub async fn session(&self, capabilities: serde_json::Value) -> Client {
        self.try_session(capabilities)
            .await
            .expect("a WebDriver session")
    }

    pub async fn try_session(
        &self,
        capabilities: serde_json::Value,
    ) -> Result<Client, fantoccini::error::NewSessionError> {
        let serde_json::Value::Object(capabilities) = capabilities else {
            panic!("capabilities must be an object")
        };
        ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        #[cfg(unix)]
        {
            use nix::sys::signal::{Signal, killpg};
            let group = nix::unistd::Pid::from_raw(self.child.id() as i32);
            let _ = killpg(group, Signal::SIGTERM);
            let _ = self.child.wait();
            // The app is in the group too. It must be gone before the next test launches one,
            // or the single-instance handoff would send that launch to this dying window. Only
            // the driver is this process's child, so only its exit is reported (by the wait
            // above); the rest of the group can only be asked after, until none is left.
            let deadline = Instant::now() + Duration::from_secs(10);
            while killpg(group, None).is_ok() {
                if Instant::now() > deadline {
                    let _ = killpg(group, Signal::SIGKILL);
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        #[cfg(not(unix))]
        {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
