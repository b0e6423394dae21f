//! The load test's world: the simulators (CyberArk, Confluence and the OIDC provider) on a seed
//! with [`USERS`] generated users and a read-only runbook page, `arkbridge serve`'s own
//! [`serve`] over a real TCP listener on a bridge built from the simulator's
//! `arkbridge-oidc.toml`, and OIDC access tokens that each user gets through the simulated
//! provider's authorization code flow with PKCE (sign-in form, then the token endpoint), as a
//! CLI user would.
//!
//! The simulators and the server each get a Tokio runtime of their own, as separate services
//! would have; the callers run on a third (see `load.rs`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use arkbridge_core::config::Config;
use arkbridge_engine::Bridge;
use arkbridge_server::{Authenticator, ServerState, ShutdownReport, serve};
use arkbridge_sim::{SimHandle, SimInfo, SimOptions};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use tokio::runtime::Runtime;
use tokio::sync::oneshot;

/// How many users the load phase runs as, one caller each.
pub(crate) const USERS: usize = 50;
/// The value of `Prod-DB-RO/payments-db-ro`: it must never appear in any output or answer.
pub(crate) const PLANTED: &str = "Load-Planted-Secret-4%x";
/// The title of the page with the runbook the callers run.
pub(crate) const PAGE_TITLE: &str = "Load check";
/// The name of its block.
pub(crate) const BLOCK: &str = "check";
/// The audit reader: `change-approvers` may read every audit record.
pub(crate) const AUDITOR: &str = "carol@example.com";
/// The public client the users sign in with, and a loopback redirect it accepts on any port.
const CLIENT_ID: &str = "arkbridge-cli";
const REDIRECT_URI: &str = "http://127.0.0.1:8765/callback";

/// Why the world could not be built.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SetupError {
    #[error("cannot create a runtime or folder: {0}")]
    Io(#[from] std::io::Error),
    #[error("the simulator did not start: {0}")]
    Sim(#[from] arkbridge_sim::SimError),
    #[error("cannot load the simulator's config: {0}")]
    Config(String),
    #[error("the bridge did not connect: {0}")]
    Bridge(#[from] arkbridge_engine::EngineError),
    #[error("invalid identity settings: {0}")]
    Identity(#[from] arkbridge_identity::IdentityError),
    #[error("HTTP: {0}")]
    Http(#[from] reqwest::Error),
    #[error("signing in {user} failed: {why}")]
    SignIn { user: String, why: String },
    #[error("the page `{PAGE_TITLE}` was not found: {0}")]
    Page(String),
}

/// The e-mail of generated user `n` (1-based).
pub(crate) fn user_email(n: usize) -> String {
    format!("load-{n:02}@example.com")
}

/// The demo seed plus [`USERS`] users in `developers` (read on `Prod-DB-RO`), the planted
/// secret on `Prod-DB-RO/payments-db-ro` (never rotated), and the page [`PAGE_TITLE`] with a
/// `read` block on it. A read block on a non-rotating account takes no account lock, so runs
/// of different users do not wait for each other there.
pub(crate) fn seed() -> String {
    let users: String = (1..=USERS)
        .map(|n| {
            format!(
                "  - email: {}\n    displayName: Load User {n:02}\n",
                user_email(n)
            )
        })
        .collect();
    let members: Vec<String> = (1..=USERS).map(user_email).collect();
    let page = format!(
        r#"
  - space: OPS
    title: {PAGE_TITLE}
    author: alice@example.com
    labels: [runbook]
    body: |
      <p local-id="5d1f0a3e-8c2b-4e6f-9a1d-3b5c7e9f1a01">Read-only check the load test runs.</p><ac:structured-macro ac:name="code" ac:schema-version="1" ac:macro-id="7f3b5d9e-1a2c-4e4f-8b6d-0c2e4a6b8d0f" ac:local-id="1a3c5e7f-9b2d-4f6a-8c0e-2b4d6f8a0c1e"><ac:parameter ac:name="language">bash</ac:parameter><ac:parameter ac:name="title">arkbridge: {BLOCK}</ac:parameter><ac:plain-text-body><![CDATA[#!/usr/bin/env bash
      # arkbridge: mode read
      # arkbridge: secret DB_PASSWORD cyberark://Prod-DB-RO/payments-db-ro
      echo "load check as $ARKBRIDGE_MODE with password $DB_PASSWORD"]]></ac:plain-text-body></ac:structured-macro>
"#
    );
    let mut seed = arkbridge_sim::DEMO_SEED
        .replacen(
            "    displayName: Carol Okafor\n",
            &format!("    displayName: Carol Okafor\n{users}"),
            1,
        )
        .replacen(
            "    members: [bob@example.com]\n",
            &format!("    members: [bob@example.com, {}]\n", members.join(", ")),
            1,
        )
        .replacen(
            "      - name: payments-db-ro\n",
            &format!("      - name: payments-db-ro\n        secret: \"{PLANTED}\"\n"),
            1,
        );
    seed.push_str(&page);
    seed
}

/// A signed-in user of the API.
pub(crate) struct User {
    pub(crate) token: SecretString,
}

/// The running simulators and server.
pub(crate) struct World {
    pub(crate) sim_rt: Runtime,
    /// Kept alive for the thread that drives `serve` on it.
    _server_rt: Runtime,
    pub(crate) sim: SimHandle,
    pub(crate) info: SimInfo,
    /// `http://127.0.0.1:PORT` of `arkbridge serve`.
    pub(crate) base: String,
    pub(crate) page_id: String,
    stop: Option<oneshot::Sender<()>>,
    served: Option<std::thread::JoinHandle<Result<ShutdownReport, arkbridge_server::ServeError>>>,
    _dir: tempfile::TempDir,
}

impl World {
    /// Starts the simulators and the server.
    pub(crate) fn start(threads: usize) -> Result<World, SetupError> {
        let runtime = |name: &str| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(threads)
                .thread_name(name)
                .enable_all()
                .build()
        };
        let sim_rt = runtime("sim")?;
        let server_rt = runtime("server")?;
        let dir = tempfile::tempdir()?;
        let seed_path = dir.path().join("seed.yaml");
        std::fs::write(&seed_path, seed())?;
        let sim = sim_rt.block_on(arkbridge_sim::start(SimOptions {
            dir: dir.path().join("sim"),
            seed: Some(seed_path),
            cpm_delay: Duration::from_millis(20),
        }))?;
        let info = sim.info().clone();
        let config_path: PathBuf = dir.path().join("sim").join("arkbridge-oidc.toml");
        let config = Config::load(&config_path).map_err(|e| SetupError::Config(e.to_string()))?;
        let (stop, stopped) = oneshot::channel::<()>();
        let (listener, state, page_id) = server_rt.block_on(async move {
            let auth = Authenticator::from_config(&config)?;
            let (bridge, _recovery) = Bridge::connect(config).await?;
            let page_id = bridge
                .confluence()
                .find_pages(PAGE_TITLE, None)
                .await
                .map_err(|e| SetupError::Page(e.to_string()))?
                .into_iter()
                .next()
                .ok_or_else(|| SetupError::Page("no such page".into()))?
                .id;
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            Ok::<_, SetupError>((listener, ServerState::new(Arc::new(bridge), auth), page_id))
        })?;
        let address: SocketAddr = listener.local_addr()?;
        // `serve` is driven on a thread of its own inside the server's runtime, as the binary
        // drives it on its main thread: its future is not `Send`, so it cannot be a task.
        let handle = server_rt.handle().clone();
        let signal = async move {
            let _ = stopped.await;
        };
        let served = std::thread::Builder::new()
            .name("serve".into())
            .spawn(move || {
                handle.block_on(serve(listener, state, Duration::from_secs(30), signal))
            })?;
        let base = format!("http://{address}");
        Ok(World {
            sim_rt,
            _server_rt: server_rt,
            sim,
            info,
            base,
            page_id,
            stop: Some(stop),
            served: Some(served),
            _dir: dir,
        })
    }

    /// Signs `email` in through the simulated provider: the sign-in form of the authorization
    /// endpoint (PKCE S256), then the code at the token endpoint; returns the access token.
    pub(crate) async fn sign_in(
        &self,
        http: &reqwest::Client,
        email: &str,
    ) -> Result<User, SetupError> {
        let fail = |why: String| SetupError::SignIn {
            user: email.to_string(),
            why,
        };
        let password = self
            .info
            .identity
            .users
            .iter()
            .find(|u| u.email.eq_ignore_ascii_case(email))
            .map(|u| SecretString::from(u.password.clone()))
            .ok_or_else(|| fail("not a user of the simulated provider".into()))?;
        let verifier = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        let issuer = &self.info.identity.oidc_issuer;
        let form = form_body(&[
            ("client_id", CLIENT_ID),
            ("redirect_uri", REDIRECT_URI),
            ("response_type", "code"),
            ("scope", "openid email profile"),
            ("state", "load"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
            ("username", email),
            ("password", password.expose_secret()),
        ]);
        let signed = http
            .post(format!("{issuer}/v1/authorize"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form)
            .send()
            .await?;
        let code = signed
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .and_then(|l| url::Url::parse(l).ok())
            .and_then(|l| {
                l.query_pairs()
                    .find(|(k, _)| k == "code")
                    .map(|(_, v)| v.into_owned())
            })
            .ok_or_else(|| fail(format!("the sign-in answered {}", signed.status())))?;
        let form = form_body(&[
            ("grant_type", "authorization_code"),
            ("client_id", CLIENT_ID),
            ("code", &code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", &verifier),
        ]);
        let answer = http
            .post(format!("{issuer}/v1/token"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form)
            .send()
            .await?;
        let status = answer.status();
        let body: serde_json::Value = answer.json().await?;
        let token = body["access_token"]
            .as_str()
            .ok_or_else(|| fail(format!("the token endpoint answered {status}")))?;
        Ok(User {
            token: SecretString::from(token.to_string()),
        })
    }

    /// A client of the simulated provider (trusting the simulator's CA, no redirects).
    pub(crate) fn idp_client(&self) -> Result<reqwest::Client, SetupError> {
        let ca = reqwest::Certificate::from_pem(&std::fs::read(&self.info.ca_cert)?)?;
        Ok(reqwest::Client::builder()
            .tls_certs_only([ca])
            .redirect(reqwest::redirect::Policy::none())
            .build()?)
    }

    /// Stops the server gracefully (its runs are over by now), then the simulators.
    pub(crate) fn shutdown(mut self) -> Result<ShutdownReport, String> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let report = match self.served.take() {
            Some(served) => match served.join() {
                Ok(Ok(report)) => Ok(report),
                Ok(Err(e)) => Err(format!("the server failed: {e}")),
                Err(_) => Err("the server's thread panicked".to_string()),
            },
            None => Err("the server was not running".into()),
        };
        self.sim_rt.block_on(self.sim.shutdown());
        report
    }
}

/// An `application/x-www-form-urlencoded` body.
fn form_body(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs.iter().copied())
        .finish()
}
