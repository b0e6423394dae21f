//! `arkbridge sim`: faithful simulators of CyberArk's Central Credential Provider, the CyberArk
//! PVWA REST API and Confluence Cloud, for trying runbooks locally.
//!
//! [`start`] generates a throw-away PKI, serves the three services over HTTPS on free local
//! ports, and writes `ca.pem`, `client.pem`, `client-key.pem`, `sim.json` and a ready-to-use
//! `arkbridge.toml` into the chosen folder. The simulated data comes from a seed file (see
//! `SEED.md`) or the built-in [`DEMO_SEED`]. Account secrets live only in memory.
//!
//! Faults (latency, error rate, Vault down, dropped connections, malformed bodies, CPM failures,
//! killed sessions) are switched at run time through [`SimHandle::set_faults`] (see
//! [`parse_fault_spec`]) or the PVWA admin endpoint `/__arkbridge_sim/faults`; `SEED.md` has the
//! details.

// Request helpers return the finished error response as their `Err`; it is built once per
// failed request, so its size does not matter.
#![allow(clippy::result_large_err)]

mod account_patch;
mod activity;
mod admin;
mod bridge_config;
mod ccp;
mod ccp_auth;
mod confluence;
mod confluence_attachments;
mod confluence_auth;
mod confluence_comment_writes;
mod confluence_comments;
mod confluence_cql;
mod confluence_cql_dates;
mod confluence_cql_eval;
mod confluence_dc;
mod confluence_dc_comments;
mod confluence_dc_spaces;
mod confluence_fault_spec;
mod confluence_faults;
mod confluence_http;
mod confluence_json;
mod confluence_page_edit;
mod confluence_page_parts;
mod confluence_pages;
mod confluence_properties;
mod confluence_restrictions;
mod confluence_scopes;
mod confluence_spaces;
mod confluence_v1;
mod confluence_v1_content;
mod confluence_v1_json;
mod confluence_v1_users;
mod confluence_write;
mod cpm;
mod error;
mod faults;
mod files;
mod forge;
mod http;
mod idp;
mod idp_http;
mod idp_info;
mod idp_keys;
mod idp_seed;
mod ispss;
mod oidc;
mod oidc_authorize;
mod oidc_device;
mod oidc_refresh;
mod oidc_token;
mod perms;
mod pki;
mod pvwa;
mod pvwa_account_admin;
mod pvwa_account_list;
mod pvwa_accounts;
mod pvwa_auth;
mod pvwa_members;
mod pvwa_ops;
mod pvwa_paging;
mod pvwa_safes;
mod seed;
mod seed_check;
mod sessions;
mod state;
mod tls;
mod wiki;
mod wiki_access;
mod wiki_build;
mod wiki_seed;
mod wiki_storage;
mod world;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

pub use confluence_faults::ConfluenceFaults;
pub use error::SimError;
pub use faults::{Faults, parse_fault_spec};
pub use idp_info::{IdentityInfo, IdpUserInfo, OidcClientInfo};

/// The built-in demo data (documented in `SEED.md`).
pub const DEMO_SEED: &str = include_str!("demo-seed.yaml");

/// How to start the simulator.
#[derive(Debug, Clone)]
pub struct SimOptions {
    /// Folder for the generated files; created if missing.
    pub dir: PathBuf,
    /// Seed file; the built-in [`DEMO_SEED`] when `None`.
    pub seed: Option<PathBuf>,
    /// How long the simulated CPM takes to change a password.
    pub cpm_delay: Duration,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            dir: PathBuf::from("."),
            seed: None,
            cpm_delay: Duration::from_millis(500),
        }
    }
}

/// What a started simulator offers; also written to `DIR/sim.json`.
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq)]
pub struct SimInfo {
    /// CCP base URL (`https://localhost:PORT`); the service is at `/AIMWebService/api/Accounts`.
    pub ccp_url: String,
    /// PVWA base URL; the API is at `/PasswordVault/API/...`.
    pub pvwa_url: String,
    /// Confluence site base URL without `/wiki`.
    pub confluence_url: String,
    pub ca_cert: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    /// The AppID the client certificate authenticates.
    pub app_id: String,
    pub pvwa_user: String,
    pub pvwa_password: String,
    pub confluence_user: String,
    pub confluence_token: String,
    /// The simulated site's cloud id (`/_edge/tenant_info`).
    #[serde(default)]
    pub confluence_cloud_id: String,
    /// The simulated API gateway origin: the Cloud APIs are also at
    /// `{confluence_gateway_url}/ex/confluence/{confluence_cloud_id}/wiki/...`.
    #[serde(default)]
    pub confluence_gateway_url: String,
    /// The simulated Confluence Data Center base URL (with its context path `/confluence`).
    #[serde(default)]
    pub confluence_dc_url: String,
    /// The simulated OIDC provider and Forge token minter.
    #[serde(default)]
    pub identity: IdentityInfo,
}

impl std::fmt::Debug for SimInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimInfo")
            .field("ccp_url", &self.ccp_url)
            .field("pvwa_url", &self.pvwa_url)
            .field("confluence_url", &self.confluence_url)
            .field("ca_cert", &self.ca_cert)
            .field("client_cert", &self.client_cert)
            .field("client_key", &self.client_key)
            .field("app_id", &self.app_id)
            .field("pvwa_user", &self.pvwa_user)
            .field("pvwa_password", &"[redacted]")
            .field("confluence_user", &self.confluence_user)
            .field("confluence_token", &"[redacted]")
            .field("confluence_cloud_id", &self.confluence_cloud_id)
            .field("confluence_gateway_url", &self.confluence_gateway_url)
            .field("confluence_dc_url", &self.confluence_dc_url)
            .field("identity", &self.identity)
            .finish()
    }
}

/// A running simulator. Dropping it signals the servers to stop; [`SimHandle::shutdown`] also
/// waits for them.
pub struct SimHandle {
    info: SimInfo,
    world: Arc<world::World>,
    idp: Arc<idp::IdpState>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for SimHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimHandle")
            .field("info", &self.info)
            .finish()
    }
}

impl SimHandle {
    pub fn info(&self) -> &SimInfo {
        &self.info
    }

    /// Fault switch: while down, the CCP answers 400 APPAP007E ("connection to the Vault has
    /// failed"), the trigger of the bridge's read-only fallback, and the PVWA answers 500
    /// CAWS00001E. The same switch as [`Faults::vault_down`].
    pub fn set_vault_down(&self, down: bool) {
        self.world.vault().vault_down = down;
    }

    /// The PVWA session inactivity timeout (20 minutes by default). A zero timeout expires every
    /// token at its next use.
    pub fn set_session_timeout(&self, timeout: Duration) {
        self.world.vault().session_timeout = timeout;
    }

    /// Replaces every fault setting of the simulated CyberArk services (see [`Faults`]) and
    /// restarts the deterministic rate counters. `Faults::default()` clears them.
    pub fn set_faults(&self, faults: Faults) -> Result<(), SimError> {
        faults.validate()?;
        self.world.set_faults(faults);
        Ok(())
    }

    /// The current fault settings.
    pub fn faults(&self) -> Faults {
        self.world.current_faults()
    }

    /// Ends every PVWA session (as a PVWA restart or a load-balancer node switch does); returns
    /// how many there were.
    pub fn kill_sessions(&self) -> usize {
        let mut vault = self.world.vault();
        let n = vault.sessions.len();
        vault.sessions.clear();
        n
    }

    /// Load-balancer node switch: later PVWA requests go to another node, which does not know
    /// the tokens the earlier node issued (401 PASWS006E until the client logs on again).
    /// Returns the new node number.
    pub fn switch_pvwa_node(&self) -> u32 {
        self.world.switch_node()
    }

    /// ISPSS mode: the PVWA accepts only `Authorization: Bearer <token>` (tokens from
    /// `/auth/Cyberark/Logon` or `POST /oauth2/platformtoken`).
    pub fn set_bearer_only(&self, bearer_only: bool) {
        self.world.vault().bearer_only = bearer_only;
    }

    /// Someone else edits Confluence page `page_id` now (a new version), so that a client
    /// holding the old version number meets a 409. Returns the new version number, or `None`
    /// when there is no such page.
    pub fn concurrent_edit(&self, page_id: &str) -> Option<u32> {
        confluence_write::bump(&self.world, page_id)
    }

    /// Does what a person does on the identity provider's `/activate` page: signs in as
    /// `username` with `password` and allows the device showing `user_code` (device
    /// authorization grant). `Err` carries the page's message (wrong password, unknown or
    /// expired code).
    pub fn activate_device(
        &self,
        user_code: &str,
        username: &str,
        password: &str,
    ) -> Result<(), SimError> {
        oidc_device::sign_in_and_allow(&self.idp, user_code, username, password)
            .map_err(|m| SimError::SignIn(m.to_string()))
    }

    /// Stops the three servers (open connections finish their request) and the CPM task.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        for task in std::mem::take(&mut self.tasks) {
            let _ = task.await;
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

fn load_seed(opts: &SimOptions) -> Result<seed::Seed, SimError> {
    match &opts.seed {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|source| SimError::SeedRead {
                path: path.clone(),
                source,
            })?;
            let mut seed = seed::parse(&text, &path.display().to_string())?;
            wiki_seed::read_body_files(&mut seed.pages, path.parent())?;
            Ok(seed)
        }
        None => {
            let mut seed = seed::parse(DEMO_SEED, "built-in demo seed")?;
            wiki_seed::read_body_files(&mut seed.pages, None)?;
            Ok(seed)
        }
    }
}

fn absolute(dir: &Path) -> Result<PathBuf, SimError> {
    std::fs::create_dir_all(dir).map_err(|source| SimError::CreateDir {
        path: dir.to_path_buf(),
        source,
    })?;
    std::fs::canonicalize(dir).map_err(|source| SimError::CreateDir {
        path: dir.to_path_buf(),
        source,
    })
}

/// Starts the three simulated services and writes the generated files into `opts.dir`.
pub async fn start(opts: SimOptions) -> Result<SimHandle, SimError> {
    let seed = load_seed(&opts)?;
    let dir = absolute(&opts.dir)?;
    let data_dir = dir.join("data");
    std::fs::create_dir_all(&data_dir).map_err(|source| SimError::CreateDir {
        path: data_dir.clone(),
        source,
    })?;

    let pki = pki::generate(&seed.bridge.app_id)?;
    let ca_cert = dir.join("ca.pem");
    let client_cert = dir.join("client.pem");
    let client_key = dir.join("client-key.pem");
    files::write_atomic(&ca_cert, pki.ca_pem.as_bytes(), false)?;
    files::write_atomic(&client_cert, pki.client_cert_pem.as_bytes(), false)?;
    files::write_atomic(&client_key, pki.client_key_pem.as_bytes(), true)?;

    let (ccp_listener, ccp_addr) = tls::bind().await?;
    let (pvwa_listener, pvwa_addr) = tls::bind().await?;
    let (conf_listener, conf_addr) = tls::bind().await?;
    let url = |port: u16| format!("https://localhost:{port}");

    let (vault, wiki) = world::build(&seed)?;
    let (cpm_tx, cpm_rx) = mpsc::unbounded_channel();
    let world = Arc::new(world::World::new(
        vault,
        wiki,
        cpm_tx,
        url(conf_addr.port()),
    ));
    let idp = idp::IdpServer::bind(&seed, &world, &dir).await?;
    let idp_state = idp.state();

    let (pvwa_password, confluence_token) = {
        let v = world.vault();
        let pw = v
            .users
            .iter()
            .find(|u| u.username.eq_ignore_ascii_case(&seed.bridge.pvwa_user))
            .map(|u| u.password.expose_secret().to_string())
            .unwrap_or_default();
        drop(v);
        let w = world.wiki();
        let token = w
            .users
            .iter()
            .find(|u| u.email.eq_ignore_ascii_case(&seed.bridge.confluence_user))
            .and_then(|u| u.token.as_ref().map(|t| t.expose_secret().to_string()))
            .unwrap_or_default();
        (pw, token)
    };
    let info = SimInfo {
        ccp_url: url(ccp_addr.port()),
        pvwa_url: url(pvwa_addr.port()),
        confluence_url: url(conf_addr.port()),
        ca_cert,
        client_cert,
        client_key,
        app_id: seed.bridge.app_id.clone(),
        pvwa_user: seed.bridge.pvwa_user.clone(),
        pvwa_password,
        confluence_user: seed.bridge.confluence_user.clone(),
        confluence_token,
        confluence_cloud_id: world.wiki().cloud_id.clone(),
        confluence_gateway_url: url(conf_addr.port()),
        confluence_dc_url: format!("{}{}", url(conf_addr.port()), confluence_http::DC_CONTEXT),
        identity: idp.info(),
    };
    let config = bridge_config::build(&seed, &info, &dir)?;

    let (stop, stop_rx) = watch::channel(false);
    let tasks = vec![
        tls::spawn_server(
            "ccp",
            ccp_listener,
            tls::server_config(&pki, true)?,
            ccp::router(world.clone()),
            Some(ccp::FOLDER),
            Some(faults::Gate {
                world: world.clone(),
                service: faults::Service::Ccp,
            }),
            stop_rx.clone(),
        ),
        tls::spawn_server(
            "pvwa",
            pvwa_listener,
            tls::server_config(&pki, false)?,
            pvwa::router(world.clone()),
            Some(pvwa::FOLDER),
            Some(faults::Gate {
                world: world.clone(),
                service: faults::Service::Pvwa,
            }),
            stop_rx.clone(),
        ),
        tls::spawn_server(
            "confluence",
            conf_listener,
            tls::server_config(&pki, false)?,
            confluence::router(world.clone()),
            None,
            None,
            stop_rx.clone(),
        ),
        idp.spawn(&pki, stop_rx.clone())?,
        cpm::spawn(world.clone(), cpm_rx, opts.cpm_delay, stop_rx),
    ];
    let handle = SimHandle {
        info,
        world,
        idp: idp_state,
        stop,
        tasks,
    };

    let json = serde_json::to_vec_pretty(&handle.info)
        .map_err(|e| SimError::Config(format!("cannot serialise sim.json: {e}")))?;
    files::write_atomic(&dir.join("sim.json"), &json, true)?;
    files::write_atomic(
        &dir.join("arkbridge.toml"),
        config.to_toml().as_bytes(),
        false,
    )?;
    files::write_atomic(
        &dir.join("arkbridge-oidc.toml"),
        bridge_config::with_oidc(&config, &handle.info)
            .to_toml()
            .as_bytes(),
        false,
    )?;
    tracing::info!(
        ccp = handle.info.ccp_url,
        pvwa = handle.info.pvwa_url,
        confluence = handle.info.confluence_url,
        "arkbridge sim is listening"
    );
    Ok(handle)
}
