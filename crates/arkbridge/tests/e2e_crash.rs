//! Crash safety: when arkbridge dies in the middle of a run, the next command that opens the store
//! rotates the credential that run was holding.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use arkbridge_cyberark::{CcpClient, CcpQuery};
use secrecy::ExposeSecret;
use support::*;

const PLANTED: &str = "Crash-Planted-Secret-42";
/// Each test plants its own value: they run in parallel and both search `/dev/shm`.
const CTRL_C_PLANTED: &str = "CtrlC-Planted-Secret-77";

const SLOW_PAGE: &str = r#"
  - space: OPS
    title: Slow payments job
    author: alice@example.com
    body: |
      <ac:structured-macro ac:name="code" ac:schema-version="1"><ac:parameter ac:name="language">bash</ac:parameter><ac:parameter ac:name="title">arkbridge: slow</ac:parameter><ac:plain-text-body><![CDATA[# arkbridge: mode write
      # arkbridge: secret DB_PASSWORD cyberark://Prod-DB/payments-db
      # arkbridge: secret-file DB_PASSWORD_FILE cyberark://Prod-DB/payments-db
      echo "started $$"
      exec sleep 120]]></ac:plain-text-body></ac:structured-macro>
"#;

#[test]
fn lease_of_a_killed_run_is_rotated_at_next_start() {
    let root = test_root();
    let r = root.path();
    let sim = start_sim(r, &seed_with(PLANTED, SLOW_PAGE));
    let config = sim.config_path.to_str().unwrap();
    let rt = rt();
    let ccp = CcpClient::new(&sim.config.cyberark.ccp).unwrap();
    let current = || {
        rt.block_on(ccp.get(&CcpQuery::for_account("Prod-DB", "payments-db")))
            .unwrap()
            .content()
            .expose_secret()
            .to_string()
    };
    assert_eq!(current(), PLANTED);

    let page_id = page_id_by_title(&sim, "Slow payments job");
    approve(r, &sim, &page_id, "slow");

    // Start the slow run and kill arkbridge (SIGKILL: no cleanup at all) once the script runs.
    let (mut child, script_pid) = start_slow_run(r, &page_id, config, Stdio::null());
    child.kill().unwrap();
    child.wait().unwrap();
    // The script's process group outlives its killed parent; end it as an operator would.
    nix::sys::signal::killpg(
        nix::unistd::Pid::from_raw(script_pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("the script's process group was still there");
    assert_eq!(
        current(),
        PLANTED,
        "nothing rotated yet: the run died before its end"
    );

    // The next command that opens the store recovers: here a run of another block.
    let health = page_id_by_title(&sim, "Payments DB health");
    let out = arkbridge(
        r,
        "after-crash",
        &[
            "run",
            &health,
            "--config",
            config,
            "--as",
            "alice@example.com",
            "--json",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("recovered leases left open by a crashed run"),
        "{stderr}"
    );
    assert_ne!(
        current(),
        PLANTED,
        "the crashed run's credential was rotated"
    );

    let out = arkbridge(r, "verify", &["audit", "verify", "--config", config]);
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn ctrl_c_stops_the_script_and_rotates_at_once() {
    let root = test_root();
    let r = root.path();
    let sim = start_sim(r, &seed_with(CTRL_C_PLANTED, SLOW_PAGE));
    let config = sim.config_path.to_str().unwrap();
    let rt = rt();
    let ccp = CcpClient::new(&sim.config.cyberark.ccp).unwrap();
    let page_id = page_id_by_title(&sim, "Slow payments job");
    approve(r, &sim, &page_id, "slow");
    let (child, script_pid) = start_slow_run(r, &page_id, config, Stdio::piped());
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    // The script's group is gone (a zombie at most), its secret file too, and the credential
    // was rotated before arkbridge exited.
    let gone = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(script_pid), None).is_err()
        || std::fs::read_to_string(format!("/proc/{script_pid}/stat"))
            .map(|s| s.contains(") Z"))
            .unwrap_or(true);
    assert!(gone, "the script still runs");
    let shm = std::path::Path::new("/dev/shm");
    assert!(files_containing(&[shm], CTRL_C_PLANTED.as_bytes()).is_empty());
    let now = rt
        .block_on(ccp.get(&CcpQuery::for_account("Prod-DB", "payments-db")))
        .unwrap();
    assert_ne!(now.content().expose_secret(), CTRL_C_PLANTED);
}

/// Starts `arkbridge run` of the slow block as alice and waits until its script has started.
/// Returns the arkbridge process and the script's pid (its process group).
fn start_slow_run(
    root: &std::path::Path,
    page_id: &str,
    config: &str,
    stderr: Stdio,
) -> (std::process::Child, i32) {
    let mut child = Command::new(BIN)
        .args([
            "run",
            page_id,
            "--config",
            config,
            "--as",
            "alice@example.com",
        ])
        .env("TMPDIR", root.join("tmp"))
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let script_pid = loop {
        let line = lines.next().expect("the script started").unwrap();
        if let Some(pid) = line.strip_prefix("started ") {
            break pid.trim().parse().unwrap();
        }
    };
    (child, script_pid)
}
