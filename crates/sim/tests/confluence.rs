//! The Confluence simulator over HTTPS: Cloud REST v2 and v1 on the site, the API gateway, the
//! Data Center flavour, permissions and restrictions, CQL, and Confluence fault injection. One
//! test binary; the parts live in `tests/confluence/`.

mod common;

#[path = "confluence/cql.rs"]
mod cql;
#[path = "confluence/faults.rs"]
mod faults;
#[path = "confluence/hosts.rs"]
mod hosts;
#[path = "confluence/page_parts.rs"]
mod page_parts;
#[path = "confluence/pages.rs"]
mod pages;
#[path = "confluence/permissions.rs"]
mod permissions;
#[path = "confluence/v1.rs"]
mod v1;

use common::{Sim, client, start_with};
use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::Value;

/// Users, spaces and pages added to the demo seed for these tests.
const USERS: &[(&str, &str)] = &[
    (
        "  - email: alice@example.com\n    displayName: Alice Martin\n",
        "    apiToken: alice-token-1\n    password: alice-pass-1\n    pat: alice-pat-1\n",
    ),
    (
        "  - email: bob@example.com\n    displayName: Bob Chen\n",
        "    apiToken: bob-token-1\n    username: bchen\n    pat: bob-pat-1\n",
    ),
    (
        "  - email: arkbridge@example.com\n    displayName: arkbridge service\n",
        "    scopedTokens:\n      - { token: scoped-all-1 }\n      - { token: scoped-read-1, scopes: [read:page:confluence] }\n    oauthTokens:\n      - { token: oauth-search-1, scopes: [search:confluence, read:space:confluence] }\n",
    ),
];

const SPACES: &str = "  - key: SEC
    name: Security
    permissions:
      - { group: platform-admins, grant: [view, edit, comment] }
      - { user: bob@example.com, grant: [view] }
  - key: BULK
    name: Bulk pages
    generate: { count: 300, title: \"Bulk page {n}\", labels: [bulk] }
";

const PAGES: &str = "  - space: OPS
    title: Admins only
    author: alice@example.com
    body: <p>Only platform admins may read this.</p>
    restrictions: { read: { groups: [platform-admins] } }
  - space: OPS
    title: Admins child
    author: bob@example.com
    parent: Admins only
    body: <p>Inherits the read restriction of its parent.</p>
  - space: OPS
    title: Locked runbook
    author: carol@example.com
    labels: [runbook]
    body: <p>Only Alice may edit this.</p>
    restrictions: { update: { users: [alice@example.com] } }
    properties: { arkbridge.binding: { safe: Prod-DB } }
    attachments:
      - { filename: notes.txt, content: \"rotate quarterly\" }
  - space: SEC
    title: Incident keys
    created: 2024-01-15
    body: <p>Break-glass procedure.</p>
";

/// The demo seed with the users, spaces and pages above.
pub fn seed() -> String {
    let mut text = common::with_admin_password(arkbridge_sim::DEMO_SEED);
    for (anchor, extra) in USERS {
        text = text.replacen(anchor, &format!("{anchor}{extra}"), 1);
    }
    text = text.replacen("\nspaces:\n", &format!("\nspaces:\n{SPACES}"), 1);
    text.replacen("\npages:\n", &format!("\npages:\n{PAGES}"), 1)
}

pub async fn sim() -> Sim {
    start_with(Some(&seed()), std::time::Duration::from_millis(20)).await
}

/// How a test client authenticates.
#[derive(Clone)]
pub enum Auth {
    Basic(String, String),
    Bearer(String),
    None,
}

/// A small Confluence client: every call returns the status, the headers and the JSON body
/// (`Null` when empty or not JSON).
#[derive(Clone)]
pub struct Api {
    pub c: reqwest::Client,
    pub origin: String,
    pub auth: Auth,
}

impl Api {
    /// The bridge's own user on the Cloud site.
    pub fn bridge(sim: &Sim) -> Api {
        let info = sim.info();
        Api::with(
            sim,
            Auth::Basic(info.confluence_user.clone(), info.confluence_token.clone()),
        )
    }

    pub fn with(sim: &Sim, auth: Auth) -> Api {
        Api {
            c: client(sim.info(), false),
            origin: sim.info().confluence_url.clone(),
            auth,
        }
    }

    pub fn basic(sim: &Sim, user: &str, secret: &str) -> Api {
        Api::with(sim, Auth::Basic(user.into(), secret.into()))
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, HeaderMap, Value) {
        let mut req = self.c.request(method, format!("{}{path}", self.origin));
        req = match &self.auth {
            Auth::Basic(u, p) => req.basic_auth(u, Some(p)),
            Auth::Bearer(t) => req.bearer_auth(t),
            Auth::None => req,
        };
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await.unwrap();
        (
            status,
            headers,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    pub async fn get(&self, path: &str) -> (u16, HeaderMap, Value) {
        self.call(Method::GET, path, None).await
    }

    /// GET that must answer 200; returns the body.
    pub async fn ok(&self, path: &str) -> Value {
        let (s, _, b) = self.get(path).await;
        assert_eq!(s, 200, "GET {path}: {b}");
        b
    }

    /// The id of the page titled `title` (v2 list), as the bridge's user.
    pub async fn page_id(&self, title: &str) -> String {
        let q: String = url::form_urlencoded::byte_serialize(title.as_bytes()).collect();
        let b = self.ok(&format!("/wiki/api/v2/pages?title={q}")).await;
        b["results"][0]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("no page {title}: {b}"))
            .to_string()
    }
}

/// The `results` of a list body, as a vector.
pub fn results(body: &Value) -> Vec<Value> {
    body["results"].as_array().cloned().unwrap_or_default()
}

/// The titles in a v2 list or v1 content list body.
pub fn titles(body: &Value) -> Vec<String> {
    results(body)
        .iter()
        .map(|r| {
            r.get("content").unwrap_or(r)["title"]
                .as_str()
                .unwrap_or("")
                .to_string()
        })
        .collect()
}
