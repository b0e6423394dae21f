//! The browser test's helpers: `arkbridge demo` as a process (started as a user would, without
//! a desktop browser, and read for the web UI's URL), the simulators' clients and secret values
//! the test checks against, and the playwright-core side (`tests/browser/web_ui.mjs`), run one
//! scenario at a time.

#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use arkbridge_core::config::Config;
use arkbridge_cyberark::{CcpClient, CcpQuery};
use secrecy::ExposeSecret;

use crate::support::{BIN, rt};

/// A running `arkbridge demo`; killed when the test ends, however it ends.
pub struct Demo {
    child: Child,
    pub dir: PathBuf,
    /// The web UI's base URL (without `/ui`).
    pub base: String,
    pub config: Config,
    pub info: serde_json::Value,
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `arkbridge demo` as a user would, without opening a desktop browser, and waits until
/// it serves the web UI. Its stdout goes on to `logs/demo.stdout`, its stderr to `logs/demo.log`.
pub fn start_demo(root: &Path, seed_yaml: &str) -> Demo {
    let seed = root.join("seed");
    std::fs::create_dir_all(&seed).unwrap();
    std::fs::write(seed.join("seed.yaml"), seed_yaml).unwrap();
    let dir = root.join("demo");
    let mut child = Command::new(BIN)
        .arg("demo")
        .arg("--dir")
        .arg(&dir)
        .arg("--seed")
        .arg(seed.join("seed.yaml"))
        .args(["--listen", "127.0.0.1:0", "--no-browser"])
        .env("ARKBRIDGE_LOG", "info")
        .env("TMPDIR", root.join("tmp"))
        .stdout(Stdio::piped())
        .stderr(Stdio::from(
            std::fs::File::create(root.join("logs/demo.log")).unwrap(),
        ))
        .spawn()
        .unwrap();
    let mut log = std::fs::File::create(root.join("logs/demo.stdout")).unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let printed = loop {
        match lines.next() {
            Some(Ok(line)) => {
                writeln!(log, "{line}").unwrap();
                if let Some(url) = line.strip_prefix("== the web UI: ") {
                    break url.to_string();
                }
            }
            other => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "the demo stopped before serving the web UI: {other:?}\n{}\n{}",
                    std::fs::read_to_string(root.join("logs/demo.stdout")).unwrap_or_default(),
                    std::fs::read_to_string(root.join("logs/demo.log")).unwrap_or_default()
                );
            }
        }
    };
    // The demo keeps printing (shutdown notes); a closed pipe would make it fail.
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            let _ = writeln!(log, "{line}");
        }
    });
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("web-ui.json")).unwrap()).unwrap();
    assert_eq!(
        file["url"],
        printed.as_str(),
        "web-ui.json names the printed URL"
    );
    assert_eq!(file["passwords"], dir.join("sim.json").to_str().unwrap());
    let base = printed
        .strip_suffix("/ui")
        .unwrap_or_else(|| panic!("the web UI's URL ends in /ui: {printed}"))
        .to_string();
    let config = Config::load(&dir.join("arkbridge.toml")).unwrap();
    let info =
        serde_json::from_str(&std::fs::read_to_string(dir.join("sim.json")).unwrap()).unwrap();
    Demo {
        child,
        dir,
        base,
        config,
        info,
    }
}

/// A Confluence client logged on as the bridge's service user of the demo's simulator.
pub fn confluence(demo: &Demo) -> arkbridge_confluence::ConfluenceClient {
    let token =
        secrecy::SecretString::from(demo.info["confluence_token"].as_str().unwrap().to_string());
    arkbridge_confluence::ConfluenceClient::new(&demo.config.confluence, token).unwrap()
}

/// A Confluence client logged on as `email`, with that user's API token from the seed.
pub fn confluence_as(
    demo: &Demo,
    email: &str,
    token: &str,
) -> arkbridge_confluence::ConfluenceClient {
    let mut settings = demo.config.confluence.clone();
    settings.user = email.into();
    let token = secrecy::SecretString::from(token.to_string());
    arkbridge_confluence::ConfluenceClient::new(&settings, token).unwrap()
}

/// `payments-db`'s value in CyberArk now.
pub fn current_secret(demo: &Demo) -> String {
    let ccp = CcpClient::new(&demo.config.cyberark.ccp).unwrap();
    let value = rt()
        .block_on(ccp.get(&CcpQuery::for_account("Prod-DB", "payments-db")))
        .unwrap();
    value.content().expose_secret().to_string()
}

/// The simulated provider's password for `email` (from the demo's `sim.json`).
pub fn password(demo: &Demo, email: &str) -> String {
    demo.info["identity"]["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == email)
        .and_then(|u| u["password"].as_str())
        .unwrap_or_else(|| panic!("sim.json has no password for {email}"))
        .to_string()
}

fn require_tool(path: &str, what: &str) {
    let found = Command::new(path)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        found,
        "{what} is missing ({path} --version failed): install it (`apt-get install chromium npm`; \
         .ci/run does) — this test is not skipped without it"
    );
}

/// The browser's side of the test, with its packages installed.
pub struct Browser {
    chromium: String,
    dir: PathBuf,
    pub shots: PathBuf,
    logs: PathBuf,
}

impl Browser {
    pub fn install(root: &Path) -> Browser {
        let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
        require_tool(&chromium, "Chromium");
        require_tool("npm", "npm");
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
        let npm = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&dir)
            .output()
            .unwrap();
        assert!(
            npm.status.success(),
            "npm ci failed: {}",
            String::from_utf8_lossy(&npm.stderr)
        );
        // This run's screenshots only: an older run's must not pass for them.
        let shots =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/browser-screenshots");
        let _ = std::fs::remove_dir_all(&shots);
        std::fs::create_dir_all(&shots).unwrap();
        Browser {
            chromium,
            dir,
            shots,
            logs: root.join("logs"),
        }
    }

    /// Runs one scenario of `web_ui.mjs` as `email`; returns its JSON result.
    pub fn scenario(
        &self,
        demo: &Demo,
        name: &str,
        email: &str,
        page_id: &str,
        secrets: &[&str],
        extra_env: &[(&str, &str)],
    ) -> serde_json::Value {
        let run = Command::new("node")
            .args(["web_ui.mjs", name])
            .current_dir(&self.dir)
            .env("CHROMIUM", &self.chromium)
            .env("BASE_URL", &demo.base)
            .env("SHOTS_DIR", &self.shots)
            .env("SECRETS", serde_json::to_string(secrets).unwrap())
            .env("RESTART_PAGE", page_id)
            .env("EMAIL", email)
            .env("PASSWORD", password(demo, email))
            .envs(extra_env.iter().copied())
            .output()
            .unwrap();
        let log = |ext: &str, bytes: &[u8]| {
            std::fs::write(self.logs.join(format!("browser-{name}.{ext}")), bytes).unwrap();
        };
        log("stdout", &run.stdout);
        log("stderr", &run.stderr);
        let stdout = String::from_utf8_lossy(&run.stdout);
        assert!(
            run.status.success(),
            "the browser scenario {name} failed:\n{stdout}\n{}\n(demo logs: {})",
            String::from_utf8_lossy(&run.stderr),
            self.logs.display()
        );
        let last = stdout.lines().last().unwrap_or_default();
        serde_json::from_str(last)
            .unwrap_or_else(|e| panic!("scenario {name} ended without its result ({e}): {stdout}"))
    }

    pub fn assert_screenshots(&self, names: &[&str]) {
        for name in names {
            let file = self.shots.join(format!("{name}.png"));
            let bytes = std::fs::read(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            assert!(bytes.starts_with(b"\x89PNG"), "{} is a PNG", file.display());
        }
    }
}
