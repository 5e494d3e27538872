//! A real `vwmp serve` process on 127.0.0.1 with a temporary state
//! directory and configuration, and a small HTTP client for it.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::{repo_root, vwmp_binary};

/// Time the server gets to print its address after starting.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// Time the server gets to exit after SIGTERM.
const STOP_TIMEOUT: Duration = Duration::from_secs(20);

/// Password of every user that [`TestServer::add_user`] creates.
pub const PASSWORD: &str = "correct-horse-battery-staple";

/// Origin that the server accepts for cookie requests in these tests.
pub const ORIGIN: &str = "https://console.test";

/// A running `vwmp serve`; dropping it stops the process.
pub struct TestServer {
    child: Option<Child>,
    dir: tempfile::TempDir,
    config: PathBuf,
    base: String,
}

/// The parts of an HTTP response that tests look at.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    /// Parses the body as JSON, panicking with the body when it is not.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|error| panic!("body is not JSON ({error}): {}", self.body))
    }

    /// Returns the first header named `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// Returns every `Set-Cookie` header.
    pub fn set_cookies(&self) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(key, _)| key == "set-cookie")
            .map(|(_, value)| value.as_str())
            .collect()
    }

    /// Returns the value that a `Set-Cookie` header gives cookie `name`.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.set_cookies().into_iter().find_map(|cookie| {
            let pair = cookie.split(';').next()?;
            let (key, value) = pair.split_once('=')?;
            (key == name).then(|| value.to_string())
        })
    }

    /// Returns the problem `code`, panicking when the body is no problem.
    pub fn code(&self) -> String {
        self.json()["code"]
            .as_str()
            .unwrap_or_else(|| panic!("no problem code in {}", self.body))
            .to_string()
    }
}

/// A logged-in user: access token and the two cookies.
#[derive(Debug, Clone)]
pub struct Session {
    pub user_id: String,
    pub access_token: String,
    pub refresh: String,
    pub csrf: String,
}

impl Session {
    /// Returns the `Cookie` header that a browser would send to the auth
    /// routes.
    pub fn cookie_header(&self) -> String {
        format!(
            "__Secure-vwmp_refresh={}; __Host-vwmp_csrf={}",
            self.refresh, self.csrf
        )
    }

    /// Returns the `Authorization` header value.
    pub fn bearer(&self) -> String {
        format!("Bearer {}", self.access_token)
    }
}

impl TestServer {
    /// Starts a server with the default test configuration.
    pub fn start() -> TestServer {
        Self::start_with("")
    }

    /// Starts a server whose configuration file ends with `extra` (TOML
    /// sections not set by the defaults here).
    pub fn start_with(extra: &str) -> TestServer {
        Self::start_with_env(extra, &[])
    }

    /// Starts a server like [`TestServer::start_with`] with extra
    /// environment variables.
    pub fn start_with_env(extra: &str, env: &[(&str, &str)]) -> TestServer {
        let dir = tempfile::tempdir().expect("create a temporary directory");
        let state = dir.path().join("state");
        let config = dir.path().join("vwmp.toml");
        let text = format!(
            "[server]\nlisten = \"127.0.0.1:0\"\nmax_body_bytes = \"4KiB\"\n\
             allowed_origins = [\"{ORIGIN}\"]\n\n\
             [storage]\nstate_dir = \"{}\"\n\n\
             [engine]\nplugins_dir = \"{}\"\nprofiles_dir = \"{}\"\n\n\
             [logging]\nlevel = \"info\"\naudit_file = \"{}\"\n{extra}",
            state.display(),
            repo_root().join("examples/plugins").display(),
            repo_root().join("sandbox-profiles").display(),
            dir.path().join("audit.log").display(),
        );
        std::fs::write(&config, text).expect("write the test configuration");

        let mut server = TestServer {
            child: None,
            dir,
            config,
            base: String::new(),
        };
        server.spawn(env);
        server
    }

    fn spawn(&mut self, env: &[(&str, &str)]) {
        let stderr = std::fs::File::create(self.dir.path().join("stderr.log"))
            .expect("create the stderr log");
        let mut child = Command::new(vwmp_binary())
            .arg("serve")
            .arg("--config")
            .arg(&self.config)
            .env_remove("VWMP_LOG")
            .env_remove("NOTIFY_SOCKET")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("start vwmp serve");

        let stdout = child.stdout.take().expect("stdout is piped");
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(address) = line.strip_prefix("vwmp: listening on ") {
                    let _ = sender.send(address.to_string());
                }
            }
        });
        self.child = Some(child);
        match receiver.recv_timeout(START_TIMEOUT) {
            Ok(address) => self.base = address,
            Err(_) => panic!(
                "vwmp serve did not print its address within {START_TIMEOUT:?}:\n{}",
                self.stderr()
            ),
        }
    }

    /// Returns the configuration file, for CLI commands.
    pub fn config(&self) -> &Path {
        &self.config
    }

    /// Returns the state directory.
    pub fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    /// Returns what the server wrote to stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr.log")).unwrap_or_default()
    }

    /// Returns the audit file's contents.
    pub fn audit_file(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("audit.log")).unwrap_or_default()
    }

    /// Returns the bytes of the access token signing key.
    pub fn signing_key(&self) -> Vec<u8> {
        let text = std::fs::read_to_string(self.state_dir().join("jwt-signing.key"))
            .expect("read the signing key");
        hex::decode(text.trim()).expect("the signing key is hex")
    }

    /// Returns the full URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Creates a user with [`PASSWORD`] and `roles` through `vwmp user add`
    /// and returns the command's output.
    pub fn add_user(&self, name: &str, roles: &[&str]) -> String {
        let password_file = self.dir.path().join(format!("{name}.password"));
        std::fs::write(&password_file, format!("{PASSWORD}\n")).expect("write the password file");
        let mut command = Command::new(vwmp_binary());
        command
            .args(["user", "add", name, "--password-file"])
            .arg(&password_file)
            .arg("--config")
            .arg(&self.config);
        for role in roles {
            command.args(["--role", role]);
        }
        let output = command.output().expect("run vwmp user add");
        assert!(
            output.status.success(),
            "vwmp user add {name} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Sends a request and returns the response, whatever its status.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&str>,
    ) -> Reply {
        send(method, &self.url(path), headers, body)
    }

    /// Sends a JSON body.
    pub fn send_json(
        &self,
        method: &str,
        path: &str,
        bearer: Option<&str>,
        body: &serde_json::Value,
    ) -> Reply {
        let text = body.to_string();
        let mut headers = vec![("content-type", "application/json")];
        let authorization;
        if let Some(bearer) = bearer {
            authorization = bearer.to_string();
            headers.push(("authorization", authorization.as_str()));
        }
        self.request(method, path, &headers, Some(&text))
    }

    /// Sends a request without a body, authenticated with `bearer` (a full
    /// `Authorization` value) when given.
    pub fn call(&self, method: &str, path: &str, bearer: Option<&str>) -> Reply {
        match bearer {
            Some(bearer) => self.request(method, path, &[("authorization", bearer)], None),
            None => self.request(method, path, &[], None),
        }
    }

    /// Logs in as `name` with [`PASSWORD`].
    pub fn login(&self, name: &str) -> Session {
        let reply = self.try_login(name, PASSWORD);
        assert_eq!(reply.status, 200, "login as {name} failed: {}", reply.body);
        session_from(&reply)
    }

    /// Sends a login request and returns the response.
    pub fn try_login(&self, name: &str, password: &str) -> Reply {
        let body = serde_json::json!({"username": name, "password": password});
        self.send_json("POST", "/api/v1/auth/login", None, &body)
    }

    /// Sends `POST /api/v1/auth/{action}` as a browser of [`ORIGIN`] would.
    pub fn cookie_post(&self, action: &str, session: &Session) -> Reply {
        let cookie = session.cookie_header();
        self.request(
            "POST",
            &format!("/api/v1/auth/{action}"),
            &[
                ("cookie", cookie.as_str()),
                ("x-csrf-token", session.csrf.as_str()),
                ("origin", ORIGIN),
            ],
            None,
        )
    }

    /// Sends `signal` to the server process.
    pub fn signal(&self, signal: libc::c_int) {
        let child = self.child.as_ref().expect("the server is running");
        let pid = libc::pid_t::try_from(child.id()).expect("pid fits pid_t");
        // SAFETY: `pid` is our own child, not yet reaped, so the number
        // still names that process.
        unsafe {
            libc::kill(pid, signal);
        }
    }

    /// Returns the path of the audit file.
    pub fn audit_path(&self) -> PathBuf {
        self.dir.path().join("audit.log")
    }

    /// Sends SIGTERM and waits for the process to exit.
    pub fn stop(mut self) -> ExitStatus {
        self.terminate().expect("the server was running")
    }

    fn terminate(&mut self) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        let pid = libc::pid_t::try_from(child.id()).expect("pid fits pid_t");
        // SAFETY: `pid` is our own child, not yet reaped, so the number
        // still names that process.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
        let deadline = Instant::now() + STOP_TIMEOUT;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let status = child.wait().ok();
                let _ = writeln!(
                    std::io::stderr(),
                    "vwmp serve ignored SIGTERM for {STOP_TIMEOUT:?} and was killed"
                );
                return status;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.terminate();
    }
}

/// Builds a session from a login or refresh response.
pub fn session_from(reply: &Reply) -> Session {
    let body = reply.json();
    Session {
        user_id: body["user"]["id"].as_str().expect("user id").to_string(),
        access_token: body["access_token"]
            .as_str()
            .expect("access token")
            .to_string(),
        refresh: reply
            .cookie("__Secure-vwmp_refresh")
            .expect("refresh cookie"),
        csrf: reply.cookie("__Host-vwmp_csrf").expect("CSRF cookie"),
    }
}

/// Sends one request with ureq.
pub fn send(method: &str, url: &str, headers: &[(&str, &str)], body: Option<&str>) -> Reply {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    let result = match method {
        "GET" | "DELETE" => {
            let mut request = if method == "GET" {
                agent.get(url)
            } else {
                agent.delete(url)
            };
            for (name, value) in headers {
                request = request.header(*name, *value);
            }
            request.call()
        }
        "POST" | "PUT" => {
            let mut request = if method == "POST" {
                agent.post(url)
            } else {
                agent.put(url)
            };
            for (name, value) in headers {
                request = request.header(*name, *value);
            }
            match body {
                Some(body) => request.send(body),
                None => request.send_empty(),
            }
        }
        other => panic!("unsupported method {other}"),
    };
    let mut response = result.unwrap_or_else(|error| panic!("{method} {url} failed: {error}"));
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_string(),
                value.to_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let body = response.body_mut().read_to_string().unwrap_or_default();
    Reply {
        status,
        headers,
        body,
    }
}

/// Sends raw bytes on a new connection and returns the status code and the
/// whole response text, for requests that a client library would not send
/// (chunked bodies, wrong lengths).
pub fn raw_request(address: &str, request: &[u8]) -> (u16, String) {
    use std::io::Read;

    let authority = address.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(authority).expect("connect to the server");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("set a read timeout");
    stream.write_all(request).expect("send the request");
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    (status, text)
}

impl TestServer {
    /// Returns `http://127.0.0.1:PORT`, for [`raw_request`].
    pub fn base(&self) -> &str {
        &self.base
    }
}
