//! The workflows and executions routes against the real `vwmp serve`
//! binary on 127.0.0.1: real workers, real plugins, a real SQLite file.
//!
//! Users are created in the database before the server starts, and access
//! tokens are signed with the server's own key file, so these tests depend
//! only on the routes they test.

mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use serde_json::{json, Value};
use vwmp_supervisor::auth::{JwtIssuer, SigningKey};
use vwmp_supervisor::model::{Role, UserId};
use vwmp_supervisor::plugins::sha256_file;
use vwmp_supervisor::store::{NewUser, Store};

/// Maximum time a test waits for the server or an execution.
const WAIT: Duration = Duration::from_secs(90);

fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn copy_example(plugins: &Path, name: &str) {
    let source = common::repo_root().join("examples/plugins").join(name);
    let target = plugins.join(name);
    std::fs::create_dir_all(&target).unwrap();
    set_mode(&target, 0o755);
    for entry in std::fs::read_dir(source).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), target.join(entry.file_name())).unwrap();
    }
}

fn shell_plugin(plugins: &Path, name: &str, script: &str) {
    let dir = plugins.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    set_mode(&dir, 0o755);
    let executable = dir.join("run.sh");
    std::fs::write(&executable, format!("#!/bin/sh\n{script}\n")).unwrap();
    set_mode(&executable, 0o755);
    let digest = sha256_file(&executable).unwrap();
    let manifest = format!(
        "name = \"{name}\"\nversion = \"1.0.0\"\napi_version = 1\n\
         description = \"Test plugin.\"\nexecutable = \"run.sh\"\nprofile = \"strict\"\n\n\
         [files]\n\"run.sh\" = \"{digest}\"\n\n[[handlers]]\nname = \"run\"\n"
    );
    std::fs::write(dir.join("plugin.toml"), manifest).unwrap();
}

/// Counts processes running `sleep MARK`, the `slow` plugin of a site
/// started with that mark. Each test uses its own mark, because the tests
/// run at the same time.
fn marked_sleeps(mark: &str) -> usize {
    let expected = format!("sleep\0{mark}\0");
    std::fs::read_dir("/proc")
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|entry| std::fs::read(entry.path().join("cmdline")).ok())
                .filter(|cmdline| cmdline.as_slice() == expected.as_bytes())
                .count()
        })
        .unwrap_or(0)
}

/// Returns the pids of the worker processes whose parent is `parent`.
fn workers_of(parent: u32) -> Vec<u32> {
    let worker = common::worker_binary();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().to_string_lossy().parse::<u32>().ok())
        .filter(|pid| std::fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|exe| exe == worker))
        .filter(|pid| parent_of(*pid) == Some(parent))
        .collect()
}

/// Returns the parent pid of `pid` from /proc/PID/stat.
fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name in field 2 may contain spaces; it ends at the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split(' ').nth(1)?.parse().ok()
}

/// Returns true while process `pid` exists and is not a zombie.
fn alive(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let state = stat
        .rfind(')')
        .and_then(|end| stat[end + 2..].chars().next());
    state != Some('Z')
}

/// One user and an access token for them.
struct User {
    id: UserId,
    token: String,
}

/// A state directory, configuration and users, and the running server.
struct Site {
    dir: tempfile::TempDir,
    config: PathBuf,
    server: Option<Server>,
    users: std::collections::BTreeMap<&'static str, User>,
}

struct Server {
    child: Child,
    address: SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Site {
    /// Prepares a site with users `alice` and `bob` (editor and executor),
    /// `viewer` (viewer) and `root` (admin), and starts the server. The
    /// `slow` plugin runs `sleep <sleep_mark>`.
    async fn start(sleep_mark: &str) -> Site {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        // Workers run as another user when the tests run as root.
        set_mode(root, 0o755);

        let plugins = root.join("plugins");
        std::fs::create_dir(&plugins).unwrap();
        set_mode(&plugins, 0o755);
        copy_example(&plugins, "hello");
        copy_example(&plugins, "textutil");
        shell_plugin(&plugins, "ok", "cat >/dev/null; echo '{\"done\": true}'");
        shell_plugin(
            &plugins,
            "slow",
            &format!("cat >/dev/null; echo 'sleeping' >&2; exec sleep {sleep_mark}"),
        );
        shell_plugin(
            &plugins,
            "nap",
            "cat >/dev/null; sleep 2; echo '{\"rested\": true}'",
        );
        shell_plugin(
            &plugins,
            "chatty",
            "cat >/dev/null; for i in 1 2 3 4 5 6 7; do echo \"line $i\" >&2; done; echo '{}'",
        );

        let state = root.join("state");
        let workspaces = root.join("workspaces");
        let config = root.join("vwmp.toml");
        std::fs::write(
            &config,
            format!(
                "[server]\nlisten = \"127.0.0.1:0\"\n\n[storage]\nstate_dir = \"{}\"\n\n\
                 [engine]\nplugins_dir = \"{}\"\nprofiles_dir = \"{}\"\nworkspace_root = \"{}\"\n\
                 worker_path = \"{}\"\n",
                state.display(),
                plugins.display(),
                common::profiles_dir().display(),
                workspaces.display(),
                common::worker_binary().display()
            ),
        )
        .unwrap();

        // Users go into the database before the server opens it.
        let store = Store::open(&state.join("vwmp.db")).await.unwrap();
        let key = SigningKey::load_or_create(&state.join("jwt-signing.key")).unwrap();
        let issuer = JwtIssuer::new(key, "vwmp", "vwmp-api");
        let mut users = std::collections::BTreeMap::new();
        for (name, roles) in [
            ("alice", vec![Role::Editor, Role::Executor]),
            ("bob", vec![Role::Editor, Role::Executor]),
            ("viewer", vec![Role::Viewer]),
            ("root", vec![Role::Admin]),
        ] {
            let record = store
                .create_user(NewUser {
                    username: name.to_string(),
                    password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$unused".to_string(),
                    roles: roles.clone(),
                })
                .await
                .unwrap();
            let token = issuer
                .issue(&record.id, &roles, SystemTime::now())
                .unwrap()
                .token;
            users.insert(
                name,
                User {
                    id: record.id,
                    token,
                },
            );
        }
        store.close().await.unwrap();

        let mut site = Site {
            dir,
            config,
            server: None,
            users,
        };
        site.launch();
        site
    }

    /// Starts `vwmp serve` and waits for its listening line.
    fn launch(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("server.log"))
            .unwrap();
        let mut child = Command::new(common::vwmp_binary())
            .arg("serve")
            .arg("--config")
            .arg(&self.config)
            .env("VWMP_LOG", "info")
            .env_remove("NOTIFY_SOCKET")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("start vwmp serve");
        let stdout = child.stdout.take().unwrap();
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            while let Some(Ok(line)) = lines.next() {
                if let Some(address) = line.strip_prefix("vwmp: listening on http://") {
                    let _ = sender.send(address.to_string());
                }
            }
        });
        let address = match receiver.recv_timeout(WAIT) {
            Ok(address) => address.parse().unwrap(),
            Err(_) => {
                let _ = child.kill();
                panic!("vwmp serve did not start:\n{}", self.server_log());
            }
        };
        self.server = Some(Server { child, address });
    }

    fn server_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    fn database(&self) -> PathBuf {
        self.dir.path().join("state/vwmp.db")
    }

    fn user(&self, name: &str) -> &User {
        &self.users[name]
    }

    /// Sends one request as user `name` (or without a token for `None`).
    fn call(&self, name: Option<&str>, method: &str, path: &str, body: Option<&Value>) -> Reply {
        let server = self.server.as_ref().expect("the server runs");
        let url = format!("http://{}{path}", server.address);
        let authorization = name.map(|name| format!("Bearer {}", self.user(name).token));
        let mut headers = Vec::new();
        if let Some(authorization) = &authorization {
            headers.push(("authorization", authorization.as_str()));
        }
        let text = body.map(Value::to_string);
        if text.is_some() {
            headers.push(("content-type", "application/json"));
        }
        let reply = common::server::send(method, &url, &headers, text.as_deref());
        let json = if reply.body.is_empty() {
            Value::Null
        } else {
            reply.json()
        };
        Reply {
            status: reply.status,
            headers: reply.headers,
            json,
        }
    }

    /// Polls execution `id` as `alice` until `condition` holds.
    fn wait_execution(&self, id: &str, condition: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            let reply = self.call(
                Some("alice"),
                "GET",
                &format!("/api/v1/executions/{id}"),
                None,
            );
            assert_eq!(reply.status, 200, "{reply:?}");
            if condition(&reply.json) {
                return reply.json;
            }
            assert!(
                Instant::now() < deadline,
                "execution {id} did not reach the expected state: {}\n{}",
                reply.json,
                self.server_log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn wait_final(&self, id: &str) -> Value {
        self.wait_execution(id, |execution| {
            !matches!(execution["status"].as_str(), Some("queued" | "running"))
        })
    }

    fn create_workflow(&self, user: &str, definition: &Value) -> String {
        let reply = self.call(Some(user), "POST", "/api/v1/workflows", Some(definition));
        assert_eq!(reply.status, 201, "{reply:?}");
        reply.json["id"].as_str().unwrap().to_string()
    }

    fn execute(&self, user: &str, workflow: &str, parameters: Value) -> String {
        let reply = self.call(
            Some(user),
            "POST",
            &format!("/api/v1/workflows/{workflow}/executions"),
            Some(&json!({ "parameters": parameters })),
        );
        assert_eq!(reply.status, 202, "{reply:?}");
        assert_eq!(reply.json["status"], "queued");
        let id = reply.json["id"].as_str().unwrap().to_string();
        assert_eq!(
            reply.header("location").as_deref(),
            Some(format!("/api/v1/executions/{id}").as_str())
        );
        id
    }
}

/// An HTTP response with its body parsed as JSON (null when empty).
#[derive(Debug)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    json: Value,
}

impl Reply {
    fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.clone())
    }
}

fn two_steps(name: &str, first: &str) -> Value {
    json!({
        "name": name, "version": "1.0.0", "type": "test",
        "steps": [
            {"id": "first", "handler": first},
            {"id": "second", "handler": "ok.run", "depends_on": ["first"]}
        ]
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workflow_crud_with_ownership() {
    let site = Site::start("3601").await;
    let definition = two_steps("owned", "ok.run");

    // Create: 201 with Location; a viewer may read but not create.
    let created = site.call(
        Some("alice"),
        "POST",
        "/api/v1/workflows",
        Some(&definition),
    );
    assert_eq!(created.status, 201, "{created:?}");
    let id = created.json["id"].as_str().unwrap().to_string();
    assert_eq!(
        created.header("location").as_deref(),
        Some(format!("/api/v1/workflows/{id}").as_str())
    );
    assert_eq!(created.json["revision"], 1);
    assert_eq!(created.json["owner_id"], site.user("alice").id.as_str());
    assert_eq!(
        created.json["definition"]["steps"][1]["depends_on"][0],
        "first"
    );

    let denied = site.call(
        Some("viewer"),
        "POST",
        "/api/v1/workflows",
        Some(&definition),
    );
    assert_eq!(denied.status, 403, "{denied:?}");
    let anonymous = site.call(None, "GET", "/api/v1/workflows", None);
    assert_eq!(anonymous.status, 401, "{anonymous:?}");

    let listed = site.call(Some("viewer"), "GET", "/api/v1/workflows?limit=10", None);
    assert_eq!(listed.status, 200, "{listed:?}");
    let item = &listed.json["items"][0];
    assert_eq!(item["id"], id.as_str());
    assert_eq!(item["name"], "owned");
    assert_eq!(item["version"], "1.0.0");
    assert_eq!(item["type"], "test");
    assert_eq!(item["revision"], 1);
    assert!(listed.json["next_offset"].is_null());
    let fetched = site.call(
        Some("viewer"),
        "GET",
        &format!("/api/v1/workflows/{id}"),
        None,
    );
    assert_eq!(fetched.status, 200);
    assert_eq!(fetched.json["definition"]["name"], "owned");

    // Update: only the owner (or an admin) may, and each update is a new
    // revision.
    let mut changed = definition.clone();
    changed["description"] = json!("second revision");
    let path = format!("/api/v1/workflows/{id}");
    let foreign = site.call(Some("bob"), "PUT", &path, Some(&changed));
    assert_eq!(foreign.status, 403, "{foreign:?}");
    let updated = site.call(Some("alice"), "PUT", &path, Some(&changed));
    assert_eq!(updated.status, 200, "{updated:?}");
    assert_eq!(updated.json["revision"], 2);
    let by_admin = site.call(Some("root"), "PUT", &path, Some(&changed));
    assert_eq!(by_admin.status, 200, "{by_admin:?}");
    assert_eq!(by_admin.json["revision"], 3);
    let fetched = site.call(Some("alice"), "GET", &path, None);
    assert_eq!(fetched.json["revision"], 3);
    assert_eq!(fetched.json["definition"]["description"], "second revision");

    // Unknown fields and validation errors name the field.
    let mut unknown = definition.clone();
    unknown["steps"][0]["retries"] = json!(3);
    let reply = site.call(Some("alice"), "POST", "/api/v1/workflows", Some(&unknown));
    assert_eq!(reply.status, 400, "{reply:?}");
    assert_eq!(reply.json["code"], "unknown_field");
    assert_eq!(reply.json["field"], "steps[0].retries");
    assert_eq!(
        reply.header("content-type").as_deref(),
        Some("application/problem+json")
    );
    let mut dangling = definition.clone();
    dangling["steps"][1]["depends_on"] = json!(["missing"]);
    let reply = site.call(Some("alice"), "POST", "/api/v1/workflows", Some(&dangling));
    assert_eq!(reply.status, 400, "{reply:?}");
    assert_eq!(reply.json["code"], "validation_failed");
    assert_eq!(reply.json["field"], "steps[1].depends_on[0]");
    let mut bad_handler = definition.clone();
    bad_handler["steps"][0]["handler"] = json!("nope.run");
    let reply = site.call(Some("alice"), "PUT", &path, Some(&bad_handler));
    assert_eq!(reply.status, 400, "{reply:?}");
    assert_eq!(reply.json["field"], "steps[0].handler");
    let reply = site.call(Some("alice"), "GET", "/api/v1/workflows/not-a-uuid", None);
    assert_eq!(reply.status, 404, "{reply:?}");
    assert_eq!(reply.json["code"], "not_found");

    // Delete: owner or admin only; afterwards the workflow is gone.
    let foreign = site.call(Some("bob"), "DELETE", &path, None);
    assert_eq!(foreign.status, 403, "{foreign:?}");
    let deleted = site.call(Some("alice"), "DELETE", &path, None);
    assert_eq!(deleted.status, 204, "{deleted:?}");
    let gone = site.call(Some("alice"), "GET", &path, None);
    assert_eq!(gone.status, 404);
    let again = site.call(Some("root"), "DELETE", &path, None);
    assert_eq!(again.status, 404);

    let bobs = site.create_workflow("bob", &two_steps("bobs", "ok.run"));
    let by_admin = site.call(
        Some("root"),
        "DELETE",
        &format!("/api/v1/workflows/{bobs}"),
        None,
    );
    assert_eq!(by_admin.status, 204, "{by_admin:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn execute_poll_and_page_logs() {
    let site = Site::start("3602").await;
    let hello: Value = serde_json::from_slice(
        &std::fs::read(common::repo_root().join("examples/workflows/hello.json")).unwrap(),
    )
    .unwrap();
    let workflow = site.create_workflow("alice", &hello);

    // Bad requests: a parameter that fails its schema, an unknown body
    // field, an unknown workflow, and a viewer without the executor role.
    let path = format!("/api/v1/workflows/{workflow}/executions");
    let long_name = "x".repeat(100);
    let reply = site.call(
        Some("alice"),
        "POST",
        &path,
        Some(&json!({"parameters": {"who": long_name}})),
    );
    assert_eq!(reply.status, 400, "{reply:?}");
    assert_eq!(reply.json["code"], "validation_failed");
    assert_eq!(reply.json["field"], "parameters.who");
    let reply = site.call(
        Some("alice"),
        "POST",
        &path,
        Some(&json!({"parameters": {}, "priority": 1})),
    );
    assert_eq!(reply.status, 400, "{reply:?}");
    assert_eq!(reply.json["code"], "unknown_field");
    assert_eq!(reply.json["field"], "priority");
    let reply = site.call(
        Some("alice"),
        "POST",
        "/api/v1/workflows/00000000-0000-4000-8000-000000000000/executions",
        Some(&json!({})),
    );
    assert_eq!(reply.status, 404, "{reply:?}");
    let reply = site.call(Some("viewer"), "POST", &path, Some(&json!({})));
    assert_eq!(reply.status, 403, "{reply:?}");

    // Run it and poll until it ends.
    let id = site.execute("alice", &workflow, json!({"who": "Ada"}));
    let execution = site.wait_final(&id);
    assert_eq!(execution["status"], "succeeded", "{execution}");
    assert_eq!(execution["workflow_id"], workflow.as_str());
    assert_eq!(execution["workflow_revision"], 1);
    assert_eq!(execution["created_by"], site.user("alice").id.as_str());
    assert_eq!(execution["parameters"], json!({"who": "Ada"}));
    let steps = execution["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 4);
    for step in steps {
        assert_eq!(step["status"], "succeeded", "{step}");
        assert_eq!(step["profile"], "strict");
        assert!(step["confinement"].is_object(), "{step}");
        assert!(step["started_at"].is_string(), "{step}");
    }
    assert_eq!(steps[1]["outputs"]["text"], "HELLO, ADA!");

    let listed = site.call(
        Some("viewer"),
        "GET",
        &format!("/api/v1/executions?status=succeeded&workflow_id={workflow}"),
        None,
    );
    assert_eq!(listed.status, 200, "{listed:?}");
    assert_eq!(listed.json["items"][0]["id"], id.as_str());
    let reply = site.call(
        Some("viewer"),
        "GET",
        "/api/v1/executions?status=done",
        None,
    );
    assert_eq!(reply.status, 400, "{reply:?}");
    assert_eq!(reply.json["field"], "status");
    let reply = site.call(Some("viewer"), "GET", "/api/v1/executions/not-an-id", None);
    assert_eq!(reply.status, 404, "{reply:?}");

    // Logs: a viewer may not read them; an executor pages through all of
    // them one line at a time.
    let chatty = site.create_workflow("alice", &two_steps("chatty", "chatty.run"));
    let chatty_id = site.execute("alice", &chatty, json!({}));
    site.wait_final(&chatty_id);
    let logs_path = format!("/api/v1/executions/{chatty_id}/logs");
    let reply = site.call(Some("viewer"), "GET", &logs_path, None);
    assert_eq!(reply.status, 403, "{reply:?}");
    let everything = site.call(Some("bob"), "GET", &logs_path, None);
    assert_eq!(everything.status, 200, "{everything:?}");
    assert!(everything.json["next_after"].is_null(), "{everything:?}");
    let all_lines = everything.json["items"].as_array().unwrap().clone();

    let mut paged = Vec::new();
    let mut after: Option<i64> = None;
    loop {
        let query = match after {
            Some(after) => format!("{logs_path}?limit=2&after={after}"),
            None => format!("{logs_path}?limit=2"),
        };
        let page = site.call(Some("bob"), "GET", &query, None);
        assert_eq!(page.status, 200, "{page:?}");
        paged.extend(page.json["items"].as_array().unwrap().iter().cloned());
        match page.json["next_after"].as_i64() {
            Some(next) => after = Some(next),
            None => break,
        }
        assert!(paged.len() <= all_lines.len(), "paging does not end");
    }
    assert_eq!(paged, all_lines);
    let lines: Vec<&str> = all_lines
        .iter()
        .filter(|item| item["step_id"] == "first")
        .filter_map(|item| item["line"].as_str())
        .collect();
    assert_eq!(
        lines,
        ["line 1", "line 2", "line 3", "line 4", "line 5", "line 6", "line 7"]
    );
    assert!(all_lines.iter().all(|item| item["stream"] == "stderr"));
    let seqs: Vec<i64> = all_lines
        .iter()
        .filter_map(|item| item["seq"].as_i64())
        .collect();
    assert!(seqs.windows(2).all(|pair| pair[0] < pair[1]), "{seqs:?}");
    let reply = site.call(Some("bob"), "GET", &format!("{logs_path}?limit=0"), None);
    assert_eq!(reply.status, 400, "{reply:?}");
    assert_eq!(reply.json["field"], "limit");

    // A secret parameter is masked in the parameters, outputs and logs.
    let secret_workflow: Value = serde_json::from_slice(
        &std::fs::read(common::repo_root().join("examples/workflows/secret.json")).unwrap(),
    )
    .unwrap();
    let secret_id = site.create_workflow("alice", &secret_workflow);
    let secret = "Hunter2-Very-Secret";
    let run = site.execute("alice", &secret_id, json!({ "token": secret }));
    let execution = site.wait_final(&run);
    assert_eq!(execution["status"], "succeeded", "{execution}");
    assert_eq!(execution["parameters"]["token"], "********");
    let logs = site.call(
        Some("alice"),
        "GET",
        &format!("/api/v1/executions/{run}/logs"),
        None,
    );
    for text in [execution.to_string(), logs.json.to_string()] {
        assert!(
            !text.to_lowercase().contains(&secret.to_lowercase()),
            "the secret leaked: {text}"
        );
    }
    assert!(
        execution.to_string().contains("TOKEN ********"),
        "{execution}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_running_sleep_step() {
    const MARK: &str = "3603";
    let site = Site::start(MARK).await;
    let workflow = site.create_workflow("alice", &two_steps("sleepy", "slow.run"));
    let id = site.execute("alice", &workflow, json!({}));
    site.wait_execution(&id, |execution| {
        execution["steps"][0]["status"] == "running"
    });
    let deadline = Instant::now() + WAIT;
    while marked_sleeps(MARK) == 0 {
        assert!(Instant::now() < deadline, "the sleep never started");
        std::thread::sleep(Duration::from_millis(50));
    }

    // An update while it runs makes a new revision; the execution keeps its.
    let mut changed = two_steps("sleepy", "slow.run");
    changed["description"] = json!("changed while running");
    let updated = site.call(
        Some("alice"),
        "PUT",
        &format!("/api/v1/workflows/{workflow}"),
        Some(&changed),
    );
    assert_eq!(updated.status, 200, "{updated:?}");
    assert_eq!(updated.json["revision"], 2);

    // Only the owner or an admin may cancel.
    let cancel = format!("/api/v1/executions/{id}/cancel");
    let foreign = site.call(Some("bob"), "POST", &cancel, None);
    assert_eq!(foreign.status, 403, "{foreign:?}");
    let viewer = site.call(Some("viewer"), "POST", &cancel, None);
    assert_eq!(viewer.status, 403, "{viewer:?}");
    let accepted = site.call(Some("alice"), "POST", &cancel, None);
    assert_eq!(accepted.status, 202, "{accepted:?}");
    assert_eq!(accepted.json["id"], id.as_str());

    let execution = site.wait_final(&id);
    assert_eq!(execution["status"], "cancelled", "{execution}");
    assert_eq!(execution["workflow_revision"], 1);
    assert_eq!(execution["steps"][0]["status"], "cancelled");
    assert_eq!(execution["steps"][1]["status"], "skipped");
    let deadline = Instant::now() + Duration::from_secs(10);
    while marked_sleeps(MARK) > 0 {
        assert!(Instant::now() < deadline, "the cancelled sleep survived");
        std::thread::sleep(Duration::from_millis(50));
    }

    let again = site.call(Some("alice"), "POST", &cancel, None);
    assert_eq!(again.status, 409, "{again:?}");
    assert_eq!(again.json["code"], "conflict");
    let unknown = site.call(
        Some("root"),
        "POST",
        "/api/v1/executions/00000000-0000-4000-8000-000000000000/cancel",
        None,
    );
    assert_eq!(unknown.status, 404, "{unknown:?}");

    // An admin may cancel anyone's execution.
    let second = site.execute("bob", &workflow, json!({}));
    assert_eq!(
        site.wait_execution(&second, |e| e["status"] != "queued")["workflow_revision"],
        2
    );
    let by_admin = site.call(
        Some("root"),
        "POST",
        &format!("/api/v1/executions/{second}/cancel"),
        None,
    );
    assert_eq!(by_admin.status, 202, "{by_admin:?}");
    assert_eq!(site.wait_final(&second)["status"], "cancelled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_server_leaves_execution_interrupted() {
    const MARK: &str = "3604";
    let mut site = Site::start(MARK).await;
    let workflow = site.create_workflow("alice", &two_steps("crash", "slow.run"));
    let id = site.execute("alice", &workflow, json!({}));
    site.wait_execution(&id, |execution| {
        execution["steps"][0]["status"] == "running"
    });
    let deadline = Instant::now() + WAIT;
    while marked_sleeps(MARK) == 0 {
        assert!(Instant::now() < deadline, "the sleep never started");
        std::thread::sleep(Duration::from_millis(50));
    }

    // SIGKILL: no shutdown code runs in the server. Its workers, the
    // running one and the idle pooled ones, are noted first.
    let mut server = site.server.take().unwrap();
    let workers = workers_of(server.child.id());
    assert!(!workers.is_empty(), "the server has no worker processes");
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    drop(server);

    // The workers die with their parent, and the plugin with the running
    // worker's pid namespace.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let survivors: Vec<u32> = workers.iter().copied().filter(|pid| alive(*pid)).collect();
        let sleeps = marked_sleeps(MARK);
        if survivors.is_empty() && sleeps == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "step processes survived the server: workers {survivors:?}, {sleeps} sleeps"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    site.launch();
    let execution = site.wait_final(&id);
    assert_eq!(execution["status"], "interrupted", "{execution}");
    assert!(execution["finished_at"].is_string());
    assert!(execution["error"].is_string(), "{execution}");
    assert_eq!(execution["steps"][0]["status"], "interrupted");
    assert_eq!(execution["steps"][1]["status"], "interrupted");
    let cancel = site.call(
        Some("alice"),
        "POST",
        &format!("/api/v1/executions/{id}/cancel"),
        None,
    );
    assert_eq!(cancel.status, 409, "{cancel:?}");

    // A new execution still runs after the restart.
    let fresh = site.create_workflow("alice", &two_steps("fresh", "ok.run"));
    let fresh_id = site.execute("alice", &fresh, json!({}));
    assert_eq!(site.wait_final(&fresh_id)["status"], "succeeded");

    // Stop the server and check the database file.
    let mut server = site.server.take().unwrap();
    // SAFETY: the pid is that of our own child, which has not been reaped.
    let signalled = unsafe { libc::kill(server.child.id() as i32, libc::SIGTERM) };
    assert_eq!(signalled, 0);
    let status = server.child.wait().unwrap();
    assert!(status.success(), "vwmp serve exited with {status}");
    drop(server);
    let store = Store::open(&site.database()).await.unwrap();
    assert!(
        store.integrity_check().await.unwrap(),
        "integrity check failed"
    );
    store.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_then_interrupts() {
    const MARK: &str = "3605";
    let mut site = Site::start(MARK).await;
    let short = site.create_workflow("alice", &two_steps("short", "nap.run"));
    let long = site.create_workflow("alice", &two_steps("long", "slow.run"));
    let short_id = site.execute("alice", &short, json!({}));
    let long_id = site.execute("alice", &long, json!({}));
    site.wait_execution(&short_id, |execution| {
        execution["steps"][0]["status"] == "running"
    });
    site.wait_execution(&long_id, |execution| {
        execution["steps"][0]["status"] == "running"
    });

    // SIGTERM: the server stops taking requests, lets running executions
    // finish for the grace period, then kills the rest.
    let mut server = site.server.take().unwrap();
    let stopped_at = Instant::now();
    // SAFETY: the pid is that of our own child, which has not been reaped.
    let signalled = unsafe { libc::kill(server.child.id() as i32, libc::SIGTERM) };
    assert_eq!(signalled, 0);
    let status = server.child.wait().unwrap();
    let took = stopped_at.elapsed();
    assert!(status.success(), "vwmp serve exited with {status}");
    assert!(
        took < vwmp_supervisor::server::EXECUTION_GRACE + Duration::from_secs(20),
        "shutdown took {took:?}"
    );
    drop(server);
    assert_eq!(
        marked_sleeps(MARK),
        0,
        "the long step survived the shutdown"
    );

    // The server recorded both ends itself before it exited.
    let store = Store::open(&site.database()).await.unwrap();
    let read = |id: &str| {
        let store = store.clone();
        let id = vwmp_supervisor::model::ExecutionId::parse(id).unwrap();
        async move { store.get_execution(&id).await.unwrap().unwrap() }
    };
    let short = read(&short_id).await;
    assert_eq!(short.execution.status.as_str(), "succeeded", "{short:#?}");
    let long = read(&long_id).await;
    assert_eq!(long.execution.status.as_str(), "interrupted", "{long:#?}");
    assert_eq!(long.steps[0].status.as_str(), "interrupted");
    assert_eq!(long.steps[1].status.as_str(), "skipped");
    assert!(long.execution.error.is_some());
    assert!(store.integrity_check().await.unwrap());
    store.close().await.unwrap();
}
