//! Shared helpers for the end-to-end tests: a simulator process, the real binary, and a search of
//! files for planted secrets.

#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use arkbridge_core::config::Config;

pub const BIN: &str = env!("CARGO_BIN_EXE_arkbridge");

/// A running `arkbridge sim` process; killed when dropped.
pub struct Sim {
    child: Child,
    pub dir: PathBuf,
    pub config_path: PathBuf,
    pub config: Config,
    pub info: serde_json::Value,
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The demo seed with `payments-db`'s secret set to `planted`, plus any extra pages (YAML list
/// items, indented for the `pages:` list).
pub fn seed_with(planted: &str, extra_pages: &str) -> String {
    let seed = arkbridge_sim::DEMO_SEED.replacen(
        "      - name: payments-db\n",
        &format!("      - name: payments-db\n        secret: \"{planted}\"\n"),
        1,
    );
    assert!(seed.contains(planted), "the demo seed's layout changed");
    format!("{seed}\n{extra_pages}")
}

/// Starts `arkbridge sim` in `dir` with a seed file from `seed_dir` (kept apart from what the
/// tests search), and waits until it says it serves.
pub fn start_sim(root: &Path, seed: &str) -> Sim {
    let dir = root.join("sim");
    let seed_dir = root.join("seed");
    std::fs::create_dir_all(&seed_dir).unwrap();
    let seed_path = seed_dir.join("seed.yaml");
    std::fs::write(&seed_path, seed).unwrap();
    let mut child = Command::new(BIN)
        .args(["sim", "--dir"])
        .arg(&dir)
        .arg("--seed")
        .arg(&seed_path)
        .args(["--cpm-delay-ms", "100"])
        .env("ARKBRIDGE_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::from(
            std::fs::File::create(root.join("logs").join("sim.log")).unwrap(),
        ))
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    loop {
        match lines.next() {
            Some(Ok(l)) if l.starts_with("Serving until") => break,
            Some(Ok(_)) => {}
            other => panic!(
                "the simulator stopped before serving: {other:?}; see {}",
                root.join("logs/sim.log").display()
            ),
        }
    }
    let config_path = dir.join("arkbridge.toml");
    let config = Config::load(&config_path).unwrap();
    let info =
        serde_json::from_str(&std::fs::read_to_string(dir.join("sim.json")).unwrap()).unwrap();
    Sim {
        child,
        dir,
        config_path,
        config,
        info,
    }
}

/// The test's folders: `logs/` for captured output, `tmp/` as the children's TMPDIR.
pub fn test_root() -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("logs")).unwrap();
    std::fs::create_dir_all(root.path().join("tmp")).unwrap();
    root
}

/// Runs the real binary with `args`; stdout and stderr are also saved under `logs/`.
pub fn arkbridge(root: &Path, name: &str, args: &[&str]) -> Output {
    let out = Command::new(BIN)
        .args(args)
        .env("TMPDIR", root.join("tmp"))
        .env("ARKBRIDGE_LOG", "debug")
        .output()
        .unwrap();
    std::fs::write(
        root.join("logs").join(format!("{name}.stdout")),
        &out.stdout,
    )
    .unwrap();
    std::fs::write(
        root.join("logs").join(format!("{name}.stderr")),
        &out.stderr,
    )
    .unwrap();
    out
}

/// Every file below `dirs` whose bytes contain `needle`.
pub fn files_containing(dirs: &[&Path], needle: &[u8]) -> Vec<PathBuf> {
    let mut hits = Vec::new();
    let mut stack: Vec<PathBuf> = dirs.iter().map(|d| d.to_path_buf()).collect();
    while let Some(p) = stack.pop() {
        let Ok(meta) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        if meta.is_dir() {
            for e in std::fs::read_dir(&p).into_iter().flatten().flatten() {
                stack.push(e.path());
            }
        } else if meta.is_file()
            && let Ok(bytes) = std::fs::read(&p)
            && bytes.windows(needle.len()).any(|w| w == needle)
        {
            hits.push(p);
        }
    }
    hits
}

/// A multi-thread runtime for the async clients used to look at the simulators.
pub fn rt() -> tokio::runtime::Runtime {
    let _ = rustls::crypto::ring::default_provider().install_default();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A Confluence client logged on as the bridge's service user of the simulator.
pub fn confluence(sim: &Sim) -> arkbridge_confluence::ConfluenceClient {
    let token =
        secrecy::SecretString::from(sim.info["confluence_token"].as_str().unwrap().to_string());
    arkbridge_confluence::ConfluenceClient::new(&sim.config.confluence, token).unwrap()
}

/// The id of the simulator's page with this title.
pub fn page_id_by_title(sim: &Sim, title: &str) -> String {
    rt().block_on(confluence(sim).find_pages(title, None))
        .unwrap()
        .remove(0)
        .id
}

/// carol (change-approvers in the demo seed) approves `block` of `page_id` as it is now, as
/// every write block must be approved before it runs.
pub fn approve(root: &Path, sim: &Sim, page_id: &str, block: &str) {
    let config = sim.config_path.to_str().unwrap();
    let out = arkbridge(
        root,
        &format!("approve-{block}"),
        &[
            "approve",
            page_id,
            "--block",
            block,
            "--config",
            config,
            "--as",
            "carol@example.com",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "approve failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A running `arkbridge serve`; killed when dropped.
pub struct Served {
    pub child: Child,
    /// Its base URL, `http://127.0.0.1:PORT`.
    pub url: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `arkbridge serve` on `config` on a free loopback port, its JSON log in
/// `logs/NAME.log`; returns once it printed its address.
pub fn start_serve(root: &Path, config: &Path, name: &str) -> Served {
    let log = root.join("logs").join(format!("{name}.log"));
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(config)
        .env("ARKBRIDGE_LOG", "info")
        .env("TMPDIR", root.join("tmp"))
        .stdout(Stdio::piped())
        .stderr(Stdio::from(std::fs::File::create(&log).unwrap()))
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    loop {
        match lines.next() {
            Some(Ok(l)) if l.starts_with("Listening on ") => {
                let url = l.trim_start_matches("Listening on ").trim().to_string();
                return Served { child, url };
            }
            Some(Ok(_)) => {}
            other => panic!(
                "serve stopped before listening: {other:?}; see {}",
                log.display()
            ),
        }
    }
}

/// The simulator's config `text` with its default `[store]` section turned into the PostgreSQL
/// database at `url` (its password fetched through the simulated CCP; the test cluster trusts
/// loopback connections, so any password works), followed by `extra`.
pub fn with_postgres_store(text: &str, url: &str, extra: &str) -> String {
    let default = "[store]\ntls = \"verify-full\"\n";
    assert!(
        text.contains(default),
        "the simulator's config layout changed"
    );
    text.replace(
        default,
        &format!(
            "[store]\nurl = \"{url}\"\npassword = \"cyberark://Prod-DB/payments-db\"\n\
             tls = \"disable\"\n{extra}"
        ),
    )
}

/// Mints Forge invocation tokens through the simulator's admin call; each is good for one API
/// call (replays are refused).
pub struct FitMinter {
    http: reqwest::Client,
    url: String,
    admin_password: String,
}

impl FitMinter {
    /// A minter for `sim`, whose seed gives the `Administrator` user `admin_password`.
    pub fn new(sim: &Sim, admin_password: &str) -> FitMinter {
        let ca = std::fs::read(sim.info["ca_cert"].as_str().unwrap()).unwrap();
        let http = reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(&ca).unwrap()])
            .build()
            .unwrap();
        FitMinter {
            http,
            url: sim.info["identity"]["forge_fit_url"]
                .as_str()
                .unwrap()
                .to_string(),
            admin_password: admin_password.to_string(),
        }
    }

    /// A token with the claims `body` asks for (`{"email": …, "contentId": …}`).
    pub async fn mint(&self, body: serde_json::Value) -> String {
        let minted: serde_json::Value = self
            .http
            .post(&self.url)
            .basic_auth("Administrator", Some(&self.admin_password))
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        minted["token"].as_str().unwrap().to_string()
    }
}
