//! mastodon-mock (PyPI), a stateful Mastodon API server: a real HTTP peer with accounts,
//! statuses, threads, notifications, the streaming API and fault injection. `scripts/test`
//! installs it and sets HELPHIVE_MASTODON_MOCK; each user starts its own on a free loopback port.

use std::time::Duration;

use serde_json::{Value, json};

/// A mastodon-mock process, killed on drop.
pub struct Mock {
    child: std::process::Child,
    pub base: String,
    pub http: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl Drop for Mock {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A certificate authority and a server certificate for 127.0.0.1 it signed, made with the
/// `openssl` command in `dir`: (CA, certificate, key) paths.
pub fn test_certificates(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    let run = |args: &[&str]| {
        let out = std::process::Command::new("openssl").args(args).current_dir(dir).output().expect("openssl runs");
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    run(&["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2"]
        .into_iter()
        .chain(["-subj", "/CN=helphive test CA", "-addext", "basicConstraints=critical,CA:TRUE"])
        .chain(["-addext", "keyUsage=critical,keyCertSign"])
        .collect::<Vec<_>>());
    run(&["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "srv.key", "-out", "srv.csr", "-subj", "/CN=127.0.0.1"]);
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    run(&["x509", "-req", "-in", "srv.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial"]
        .into_iter()
        .chain(["-out", "srv.pem", "-days", "2", "-extfile", "ext.cnf"])
        .collect::<Vec<_>>());
    (dir.join("ca.pem"), dir.join("srv.pem"), dir.join("srv.key"))
}

impl Mock {
    pub async fn start() -> Mock {
        Self::start_with(None).await
    }

    /// Serves HTTPS with `(ca, certificate, key)` from [`test_certificates`]; the mock's own
    /// client trusts the CA.
    pub async fn start_tls(certs: &(std::path::PathBuf, std::path::PathBuf, std::path::PathBuf)) -> Mock {
        Self::start_with(Some(certs)).await
    }

    async fn start_with(tls: Option<&(std::path::PathBuf, std::path::PathBuf, std::path::PathBuf)>) -> Mock {
        let exe = std::env::var("HELPHIVE_MASTODON_MOCK").unwrap_or_default();
        assert!(
            !exe.is_empty() && std::path::Path::new(&exe).exists(),
            "HELPHIVE_MASTODON_MOCK is not set to the mastodon_mock executable ('{exe}'): run the tests with scripts/test, which installs mastodon-mock 0.6.1 and sets it"
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        // Its own directory: the mock reads .mastodon_mock.toml or pyproject.toml from there.
        let dir = tempfile::tempdir().unwrap();
        let mut command = std::process::Command::new(&exe);
        if let Some((_, cert, key)) = tls {
            command.arg("serve").arg("--ssl-certfile").arg(cert).arg("--ssl-keyfile").arg(key);
        } else {
            command.arg("serve");
        }
        let child = command
            .args(["--in-memory", "--host", "127.0.0.1", "--port", &port.to_string(), "--log-level", "warning"])
            .current_dir(dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {exe}: {e}"));
        // A fresh connection per request: the mock may close an idle keep-alive connection just
        // as the test reuses it (an IncompleteMessage under load), which says nothing about
        // helphive.
        let mut http = helphive::tls::client_builder().pool_max_idle_per_host(0);
        if let Some((ca, _, _)) = tls {
            http = http.add_root_certificate(reqwest::Certificate::from_pem(&std::fs::read(ca).unwrap()).unwrap());
        }
        let scheme = if tls.is_some() { "https" } else { "http" };
        let mock = Mock { child, base: format!("{scheme}://127.0.0.1:{port}"), http: http.build().unwrap(), _dir: dir };
        for _ in 0..300 {
            if let Ok(r) = mock.http.get(format!("{}/api/v1/instance", mock.base)).send().await
                && r.status().is_success()
            {
                return mock;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("mastodon-mock did not answer on {} within 30 s", mock.base);
    }

    /// A local account and its token.
    /// A `[[channels]]` entry for this mock's brand account `helpdesk` (the token is passed to
    /// the connector directly).
    pub fn channel_config(&self) -> helphive::config::ChannelConfig {
        toml::from_str(&format!(
            "kind = \"mastodon\"\nbase_url = \"{}\"\naccount = \"helpdesk\"\ntoken_env = \"UNUSED\"\n",
            self.base
        ))
        .unwrap()
    }

    pub async fn account(&self, username: &str) -> (String, String) {
        let v: Value = self
            .http
            .post(format!("{}/api/v1/_mock/dev_user", self.base))
            .json(&json!({ "username": username }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        (v["id"].as_str().unwrap().to_string(), v["access_token"].as_str().unwrap().to_string())
    }

    pub async fn post_status(&self, token: &str, text: &str, visibility: &str) -> String {
        let v: Value = self
            .http
            .post(format!("{}/api/v1/statuses", self.base))
            .bearer_auth(token)
            .json(&json!({ "status": text, "visibility": visibility }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v["id"].as_str().unwrap().to_string()
    }

    /// Statuses replying to `status`, as anyone looking at the thread sees them.
    pub async fn replies(&self, token: &str, status: &str) -> Vec<Value> {
        let v: Value = self
            .http
            .get(format!("{}/api/v1/statuses/{status}/context", self.base))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v["descendants"].as_array().unwrap().iter().filter(|s| s["in_reply_to_id"] == json!(status)).cloned().collect()
    }

    pub async fn statuses_of(&self, account_id: &str) -> usize {
        let v: Value = self
            .http
            .get(format!("{}/api/v1/accounts/{account_id}/statuses", self.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v.as_array().unwrap().len()
    }

    pub async fn fault(&self, rule: Value) {
        let r = self.http.post(format!("{}/api/v1/_mock/faults", self.base)).json(&rule).send().await.unwrap();
        assert!(r.status().is_success(), "fault rule refused: {}", r.text().await.unwrap());
    }
}
