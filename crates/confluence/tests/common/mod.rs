//! Starting the in-process simulator for the client's integration tests, with the demo seed plus
//! optional extra pages (for paging and crawling) and optional extra credentials for the
//! gateway and Data Center doors (scoped API token, OAuth token, personal access token).

#![allow(dead_code, unreachable_pub)]

use std::time::Duration;

use arkbridge_confluence::{ConfluenceClient, ConfluenceFlavor};
use arkbridge_core::config::{Config, ConfigSecret, ConfluenceAuth, ConfluenceConfig};
use arkbridge_sim::{SimHandle, SimInfo, SimOptions};
use secrecy::SecretString;

/// The bridge user's scoped API token (gateway, HTTP basic).
pub const SCOPED_TOKEN: &str = "scoped-arkbridge-token";
/// The bridge user's OAuth 2.0 access token (gateway, Bearer).
pub const OAUTH_TOKEN: &str = "oauth-arkbridge-token";
/// The bridge user's Data Center personal access token.
pub const PAT: &str = "pat-arkbridge-token";

pub struct Sim {
    pub dir: tempfile::TempDir,
    pub handle: SimHandle,
    pub config: Config,
}

/// What to add to the demo seed.
#[derive(Default)]
pub struct Extra {
    /// Pages `Bulk page 0001`... in space OPS.
    pub pages: usize,
    /// Gateway and Data Center credentials for the bridge user (needs a simulator with those
    /// doors).
    pub credentials: bool,
}

fn seed(extra: &Extra) -> String {
    let mut text = arkbridge_sim::DEMO_SEED.to_string();
    if extra.credentials {
        let anchor = "    displayName: arkbridge service\n";
        assert!(
            text.contains(anchor),
            "the demo seed changed; update this test helper"
        );
        let fields = format!(
            "{anchor}    scopedTokens: [{{ token: {SCOPED_TOKEN} }}]\n    \
             oauthTokens: [{{ token: {OAUTH_TOKEN} }}]\n    pat: {PAT}\n"
        );
        text = text.replacen(anchor, &fields, 1);
    }
    if !text.ends_with('\n') {
        text.push('\n');
    }
    // `pages:` is the demo seed's last list, so more items can be appended to it.
    for i in 0..extra.pages {
        text.push_str(&format!(
            "  - space: OPS\n    title: Bulk page {i:04}\n    body: \"<p>bulk page {i}</p>\"\n"
        ));
    }
    text
}

pub async fn start(extra: Extra) -> Sim {
    let dir = tempfile::tempdir().unwrap();
    let seed_path = dir.path().join("seed.yaml");
    std::fs::write(&seed_path, seed(&extra)).unwrap();
    let handle = arkbridge_sim::start(SimOptions {
        dir: dir.path().to_path_buf(),
        seed: Some(seed_path),
        cpm_delay: Duration::from_millis(50),
    })
    .await
    .unwrap();
    let config = Config::load(&dir.path().join("arkbridge.toml")).unwrap();
    Sim {
        dir,
        handle,
        config,
    }
}

impl Sim {
    pub fn info(&self) -> &SimInfo {
        self.handle.info()
    }

    /// The bridge's own client: Cloud site, basic auth, as `arkbridge.toml` configures it.
    pub fn site(&self) -> ConfluenceClient {
        let token = SecretString::from(self.info().confluence_token.clone());
        ConfluenceClient::new(&self.config.confluence, token).unwrap()
    }

    /// A client through the simulator's gateway door (`/ex/confluence/{cloudId}`), which is
    /// served on the site's own host.
    pub fn gateway(&self, cloud_id: &str, auth: ConfluenceAuth) -> ConfluenceClient {
        let (user, token) = match auth {
            ConfluenceAuth::Basic => (self.info().confluence_user.clone(), SCOPED_TOKEN),
            _ => (String::new(), OAUTH_TOKEN),
        };
        let cfg = ConfluenceConfig {
            auth,
            user,
            token: ConfigSecret::Inline(String::new()),
            cloud_id: Some(cloud_id.to_string()),
            gateway_url: Some(self.info().confluence_url.clone()),
            ..self.config.confluence.clone()
        };
        ConfluenceClient::new(&cfg, SecretString::from(token)).unwrap()
    }

    /// A client through the simulator's Data Center door (`/confluence/rest/api`) with the PAT.
    pub fn data_center(&self) -> ConfluenceClient {
        let cfg = ConfluenceConfig {
            url: format!("{}/confluence", self.info().confluence_url),
            flavor: ConfluenceFlavor::DataCenter,
            auth: ConfluenceAuth::Pat,
            user: String::new(),
            token: ConfigSecret::Inline(String::new()),
            ..self.config.confluence.clone()
        };
        ConfluenceClient::new(&cfg, SecretString::from(PAT)).unwrap()
    }
}
