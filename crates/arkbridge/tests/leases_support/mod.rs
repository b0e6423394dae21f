//! Helpers for the lease end-to-end tests: config variants, pages whose scripts report to the
//! test through files and a fifo, reading the audit log, the simulator's fault switch, and the
//! checks that a process is gone and that no planted secret was left anywhere.

#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, ChildStdout, Command, Stdio};

use arkbridge_core::config::Config;

use crate::support::{BIN, Sim, files_containing, rt};

pub const ADMIN_PASSWORD: &str = "leases-admin-pw-7b2e";

/// `seed` with a known `Administrator` password for the simulator's fault endpoint.
pub fn with_admin(seed: String) -> String {
    let seed = seed.replacen(
        "  - username: Administrator\n",
        &format!("  - username: Administrator\n    password: \"{ADMIN_PASSWORD}\"\n"),
        1,
    );
    assert!(
        seed.contains(ADMIN_PASSWORD),
        "the demo seed's layout changed"
    );
    seed
}

/// A page (YAML list item for the seed) with one bash block `block` reading `payments-db`.
pub fn page(title: &str, block: &str, directives: &str, script: &str) -> String {
    let mut body = String::new();
    for line in directives.lines().chain(script.lines()) {
        body.push_str("      ");
        body.push_str(line);
        body.push('\n');
    }
    format!(
        r#"
  - space: OPS
    title: {title}
    author: alice@example.com
    body: |
      <ac:structured-macro ac:name="code" ac:schema-version="1"><ac:parameter ac:name="language">bash</ac:parameter><ac:parameter ac:name="title">arkbridge: {block}</ac:parameter><ac:plain-text-body><![CDATA[# arkbridge: mode read
      # arkbridge: secret DB_PASSWORD cyberark://Prod-DB/payments-db
      # arkbridge: secret-file DB_PASSWORD_FILE cyberark://Prod-DB/payments-db
{body}      ]]></ac:plain-text-body></ac:structured-macro>
"#
    )
}

/// Writes the simulator's config changed by `edit` next to the test's files; returns its path.
pub fn config_variant(
    root: &Path,
    sim: &Sim,
    name: &str,
    edit: impl FnOnce(&mut Config),
) -> String {
    let mut config = sim.config.clone();
    edit(&mut config);
    let path = root.join(format!("{name}.toml"));
    std::fs::write(&path, config.to_toml()).unwrap();
    path.to_str().unwrap().to_string()
}

/// `arkbridge run PAGE --config CONFIG --as alice` as a child process, logging at info, with
/// stdout and stderr piped.
pub fn spawn_run(root: &Path, page_id: &str, config: &str) -> Child {
    Command::new(BIN)
        .args([
            "run",
            page_id,
            "--config",
            config,
            "--as",
            "alice@example.com",
        ])
        .env("TMPDIR", root.join("tmp"))
        .env("ARKBRIDGE_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Reads lines until one contains `needle`; returns it and the lines read so far. Panics with
/// what was read if the stream ends first.
pub fn read_until<R: Read>(lines: &mut std::io::Lines<BufReader<R>>, needle: &str) -> String {
    let mut seen = String::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        seen.push_str(&line);
        seen.push('\n');
        if line.contains(needle) {
            return seen;
        }
    }
    panic!("the stream ended before `{needle}`:\n{seen}");
}

/// Keeps reading a child's stream on a thread into `logs/NAME`, so that the child never blocks
/// on a full pipe; the join handle gives all that was read.
pub fn drain<R: Read + Send + 'static>(
    root: &Path,
    name: &str,
    lines: std::io::Lines<BufReader<R>>,
    already: String,
) -> std::thread::JoinHandle<String> {
    let path = root.join("logs").join(name);
    std::thread::spawn(move || {
        let mut all = already;
        for line in lines.map_while(Result::ok) {
            all.push_str(&line);
            all.push('\n');
        }
        std::fs::write(path, &all).unwrap();
        all
    })
}

pub fn stdout_lines(child: &mut Child) -> std::io::Lines<BufReader<ChildStdout>> {
    BufReader::new(child.stdout.take().unwrap()).lines()
}

pub fn stderr_lines(child: &mut Child) -> std::io::Lines<BufReader<ChildStderr>> {
    BufReader::new(child.stderr.take().unwrap()).lines()
}

/// Every audit record with `action`, in order, as JSON.
pub fn audit_of(data_dir: &Path, action: &str) -> Vec<serde_json::Value> {
    let rt = rt();
    let url = format!("sqlite://{}", data_dir.join("arkbridge.db").display());
    let rows: Vec<(String,)> = rt.block_on(async {
        let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
        let rows = sqlx::query_as("SELECT record FROM audit WHERE action = $1 ORDER BY seq")
            .bind(action.to_string())
            .fetch_all(&pool)
            .await
            .unwrap();
        pool.close().await;
        rows
    });
    rows.into_iter()
        .map(|(r,)| serde_json::from_str(&r).unwrap())
        .collect()
}

/// Sets (`Some`) or clears (`None`) the simulated CyberArk's faults through its admin endpoint.
pub fn set_faults(sim: &Sim, faults: Option<serde_json::Value>) {
    let pvwa = sim.info["pvwa_url"].as_str().unwrap().to_string();
    let ca = std::fs::read(sim.config.cyberark.ccp.ca_cert.as_ref().unwrap()).unwrap();
    let status = rt().block_on(async {
        let client = reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(&ca).unwrap()])
            .build()
            .unwrap();
        let url = format!("{pvwa}/__arkbridge_sim/faults");
        let req = match faults {
            Some(f) => client.post(url).json(&f),
            None => client.delete(url),
        };
        req.basic_auth("Administrator", Some(ADMIN_PASSWORD))
            .send()
            .await
            .unwrap()
            .status()
    });
    assert!(status.is_success(), "changing the faults failed: {status}");
}

/// The current value of `Prod-DB/payments-db`, as the CCP hands it out.
pub fn payments_db_secret(sim: &Sim) -> String {
    use secrecy::ExposeSecret;
    let ccp = arkbridge_cyberark::CcpClient::new(&sim.config.cyberark.ccp).unwrap();
    rt().block_on(ccp.get(&arkbridge_cyberark::CcpQuery::for_account(
        "Prod-DB",
        "payments-db",
    )))
    .unwrap()
    .content()
    .expose_secret()
    .to_string()
}

/// Gone, a zombie, or with SIGKILL pending (the kernel ends it before it runs again).
pub fn dead_or_dying(pid: i32) -> bool {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return true;
    };
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(str::trim)
            .unwrap_or("")
            .to_string()
    };
    let sigkill = |mask: String| u64::from_str_radix(&mask, 16).is_ok_and(|m| m & (1 << 8) != 0);
    let state = field("State:");
    state.starts_with('Z')
        || state.starts_with('X')
        || sigkill(field("SigPnd:"))
        || sigkill(field("ShdPnd:"))
}

/// The number after `prefix` on the first line of `text` that starts with it.
pub fn number_after(text: &str, prefix: &str) -> i32 {
    text.lines()
        .find_map(|l| l.strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no `{prefix}` line in:\n{text}"))
        .trim()
        .parse()
        .unwrap()
}

/// The planted value is in no file of the data folder, the simulator's folder, the temp folders
/// (the test's TMPDIR and the memory filesystem of run directories) or the logs; the seed file,
/// which holds it, is the positive control.
pub fn assert_no_secret_left(root: &Path, sim: &Sim, planted: &str) {
    assert_eq!(
        files_containing(&[&root.join("seed")], planted.as_bytes()).len(),
        1,
        "the search finds the planted value where it is"
    );
    let dirs: [PathBuf; 5] = [
        sim.dir.clone(),
        sim.config.data_dir.clone(),
        root.join("tmp"),
        root.join("logs"),
        PathBuf::from("/dev/shm"),
    ];
    let dirs: Vec<&Path> = dirs.iter().map(PathBuf::as_path).collect();
    assert_eq!(
        files_containing(&dirs, planted.as_bytes()),
        Vec::<PathBuf>::new()
    );
}
