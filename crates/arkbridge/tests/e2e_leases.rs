//! Durable leases through the real binary and the simulator: two runs on one account are
//! serialised (and the second gives up clearly when told to wait no longer), a CPM that fails
//! is retried and then alerted, a run past its deadline is stopped and rotated, and after
//! arkbridge is killed with SIGKILL `arkbridge recover` kills the orphaned script, removes its
//! secret files and rotates. After each, the planted secret is in no file anywhere.
//!
//! Scripts tell the test where they are through marker lines (on stdout or in a file) and wait
//! on a fifo the test controls, so nothing depends on how long anything takes.

mod leases_support;
mod support;

use std::io::Write;

use leases_support::*;
use support::*;

/// A block that writes `hold-start`, then waits for a line on `fifo`, then writes `hold-end`.
fn holder_page(marks: &str, fifo: &str) -> String {
    page(
        "Lease holder",
        "hold",
        "",
        &format!(
            "echo hold-start >> {marks}\necho holding\nread line < {fifo}\necho hold-end >> {marks}"
        ),
    )
}

fn waiter_page(marks: &str) -> String {
    page(
        "Lease waiter",
        "wait",
        "",
        &format!("echo wait-start >> {marks}\necho wait-end >> {marks}"),
    )
}

/// Starts the holder's run and returns once its script holds the account and waits on the fifo.
fn start_holder(
    r: &std::path::Path,
    sim: &Sim,
    config: &str,
) -> (std::process::Child, std::thread::JoinHandle<String>) {
    let page_id = page_id_by_title(sim, "Lease holder");
    let mut child = spawn_run(r, &page_id, config);
    let mut out = stdout_lines(&mut child);
    let seen = read_until(&mut out, "holding");
    drain(r, "holder.stdout", out, seen);
    let err = drain(r, "holder.stderr", stderr_lines(&mut child), String::new());
    (child, err)
}

fn release(fifo: &std::path::Path) {
    // Opening for writing waits for the script's reader, which is already there.
    let mut f = std::fs::OpenOptions::new().write(true).open(fifo).unwrap();
    f.write_all(b"go\n").unwrap();
}

fn setup(planted: &str, extra_pages: &str) -> (tempfile::TempDir, Sim) {
    let root = test_root();
    let sim = start_sim(root.path(), &with_admin(seed_with(planted, extra_pages)));
    (root, sim)
}

#[test]
fn two_concurrent_runs_on_one_account_do_not_overlap() {
    const PLANTED: &str = "Lease-Serial-Planted-51";
    let tmp = tempfile::tempdir().unwrap();
    let marks = tmp.path().join("marks.txt");
    let fifo = tmp.path().join("go.fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
    let pages = holder_page(marks.to_str().unwrap(), fifo.to_str().unwrap())
        + &waiter_page(marks.to_str().unwrap());
    let (root, sim) = setup(PLANTED, &pages);
    let r = root.path();
    let config = sim.config_path.to_str().unwrap();

    let (mut holder, holder_err) = start_holder(r, &sim, config);
    // The second run reaches the account's lock and says it waits; only then is the first let go.
    let mut waiter = spawn_run(r, &page_id_by_title(&sim, "Lease waiter"), config);
    let mut err = stderr_lines(&mut waiter);
    let waiting = read_until(&mut err, "waiting for an account in use");
    let waiter_err = drain(r, "waiter.stderr", err, waiting.clone());
    let waiter_out = drain(r, "waiter.stdout", stdout_lines(&mut waiter), String::new());
    assert!(waiting.contains("Prod-DB/payments-db"), "{waiting}");
    release(&fifo);

    assert!(holder.wait().unwrap().success());
    assert!(waiter.wait().unwrap().success());
    let holder_err = holder_err.join().unwrap();
    let waiter_err = waiter_err.join().unwrap();
    waiter_out.join().unwrap();
    // The waiter named the holder's run, and started its script only after the holder's ended
    // (and its rotation, which came before the lock was released).
    let holder_run = holder_err
        .lines()
        .find_map(|l| l.strip_prefix("run "))
        .and_then(|l| l.split(':').next())
        .unwrap_or_else(|| panic!("{holder_err}"));
    assert!(waiting.contains(holder_run), "{waiting}");
    assert_eq!(
        std::fs::read_to_string(&marks).unwrap(),
        "hold-start\nhold-end\nwait-start\nwait-end\n"
    );
    assert!(
        holder_err.contains("rotated Prod-DB/payments-db"),
        "{holder_err}"
    );
    assert!(
        waiter_err.contains("rotated Prod-DB/payments-db"),
        "{waiter_err}"
    );
    assert_ne!(payments_db_secret(&sim), PLANTED);
    assert_no_secret_left(r, &sim, PLANTED);
}

#[test]
fn run_that_waits_too_long_for_an_account_fails_clearly_and_is_audited() {
    const PLANTED: &str = "Lease-Busy-Planted-62";
    let tmp = tempfile::tempdir().unwrap();
    let marks = tmp.path().join("marks.txt");
    let fifo = tmp.path().join("go.fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
    let pages = holder_page(marks.to_str().unwrap(), fifo.to_str().unwrap())
        + &waiter_page(marks.to_str().unwrap());
    let (root, sim) = setup(PLANTED, &pages);
    let r = root.path();
    let config = sim.config_path.to_str().unwrap();
    let impatient = config_variant(r, &sim, "impatient", |c| c.runner.lease_wait_secs = 0);

    let (mut holder, holder_err) = start_holder(r, &sim, config);
    let waiter = page_id_by_title(&sim, "Lease waiter");
    let out = arkbridge(
        r,
        "busy",
        &[
            "run",
            &waiter,
            "--config",
            &impatient,
            "--as",
            "alice@example.com",
            "--json",
        ],
    );
    release(&fifo);
    assert!(holder.wait().unwrap().success());
    let holder_err = holder_err.join().unwrap();

    assert_eq!(out.status.code(), Some(2));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let error = report["error"].as_str().unwrap();
    assert!(
        error.starts_with("account Prod-DB/payments-db is in use by run ")
            && error.contains("; waited 0 s"),
        "{error}"
    );
    // The waiter's script never ran, and its refusal is on the audit log with the reason.
    assert_eq!(
        std::fs::read_to_string(&marks).unwrap(),
        "hold-start\nhold-end\n"
    );
    let refused = audit_of(&sim.config.data_dir, "run.finished");
    assert!(
        refused.iter().any(|e| e["outcome"] == "failure"
            && e["reason"]
                .as_str()
                .is_some_and(|m| m.contains("is in use by run"))),
        "{refused:#?}"
    );
    assert!(
        holder_err.contains("rotated Prod-DB/payments-db"),
        "{holder_err}"
    );
    assert_no_secret_left(r, &sim, PLANTED);
}

#[test]
fn cpm_failure_is_retried_then_alerted_and_recover_rotates_once_it_works() {
    const PLANTED: &str = "Lease-Cpm-Planted-73";
    let (root, sim) = setup(PLANTED, "");
    let r = root.path();
    let config = config_variant(r, &sim, "fast-retry", |c| {
        c.rotation.attempts = 3;
        c.rotation.base_delay_ms = 50;
        c.rotation.max_delay_ms = 100;
    });
    set_faults(&sim, Some(serde_json::json!({ "cpm_failure_rate": 1.0 })));

    let health = page_id_by_title(&sim, "Payments DB health");
    let out = arkbridge(
        r,
        "cpm-fails",
        &[
            "run",
            &health,
            "--config",
            &config,
            "--as",
            "alice@example.com",
            "--json",
        ],
    );
    // The script ran; the credential could not be rotated, which is alerted, not hidden.
    assert_eq!(out.status.code(), Some(0));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["rotated"], serde_json::json!([]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("ALERT: rotation failed after every try"),
        "{stderr}"
    );
    let data = &sim.config.data_dir;
    let tries: Vec<_> = audit_of(data, "rotation.requested")
        .into_iter()
        .filter(|e| e["outcome"] == "failure")
        .collect();
    assert_eq!(
        tries.len(),
        2,
        "two failed tries were tried again: {tries:#?}"
    );
    assert_eq!(tries[1]["details"]["attempt"], 2);
    let alerts = audit_of(data, "rotation.failed");
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(alerts[0]["details"]["alert"], true);
    assert_eq!(alerts[0]["details"]["attempts"], 3);
    assert_eq!(payments_db_secret(&sim), PLANTED, "nothing was rotated");

    // Recovery tries again: still failing, it says so with exit code 1.
    let out = arkbridge(
        r,
        "recover-fails",
        &["recover", "--config", &config, "--json"],
    );
    assert_eq!(out.status.code(), Some(1));
    let rec: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rec["failed"], serde_json::json!(["Prod-DB/payments-db"]));
    assert_eq!(audit_of(data, "rotation.failed").len(), 2);

    // Once the CPM works again, recovery rotates the credential and has nothing left to do.
    set_faults(&sim, None);
    let out = arkbridge(
        r,
        "recover-works",
        &["recover", "--config", &config, "--json"],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rec: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rec["rotated"], serde_json::json!(["Prod-DB/payments-db"]));
    assert_ne!(payments_db_secret(&sim), PLANTED);
    let out = arkbridge(r, "recover-idle", &["recover", "--config", &config]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "nothing to recover\n");
    assert_no_secret_left(r, &sim, PLANTED);
}

#[test]
fn run_past_its_deadline_is_killed_and_rotated_even_when_it_ignores_sigterm() {
    const PLANTED: &str = "Lease-Ttl-Planted-84";
    let script = "trap '' TERM\necho \"started $$\"\nsleep 300 &\necho \"sleeper $!\"\nwait\nwait";
    let (root, sim) = setup(
        PLANTED,
        &page(
            "Stubborn job",
            "stubborn",
            "# arkbridge: timeout 2s",
            script,
        ),
    );
    let r = root.path();
    // No grace: the watchdog fires at the deadline, set when the credentials were requested,
    // so before the runner's own time limit, which starts later, when the script starts.
    let config = config_variant(r, &sim, "no-grace", |c| c.runner.lease_grace_secs = 0);
    let page_id = page_id_by_title(&sim, "Stubborn job");
    let out = arkbridge(
        r,
        "stubborn",
        &[
            "run",
            &page_id,
            "--config",
            &config,
            "--as",
            "alice@example.com",
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("held its credentials past its deadline (timeout 2 s + grace 0 s)"),
        "{stderr}"
    );
    for pid in [
        number_after(&stdout, "started "),
        number_after(&stdout, "sleeper "),
    ] {
        assert!(dead_or_dying(pid), "process {pid} outlived the deadline");
    }
    assert_ne!(
        payments_db_secret(&sim),
        PLANTED,
        "the credential was rotated"
    );
    let ends = audit_of(&sim.config.data_dir, "run.finished");
    assert!(
        ends.iter().any(|e| e["reason"]
            .as_str()
            .is_some_and(|m| m.contains("past its deadline"))),
        "{ends:#?}"
    );
    assert_no_secret_left(r, &sim, PLANTED);
}

#[test]
fn sigkill_mid_run_then_recover_kills_the_orphan_removes_secret_files_and_rotates() {
    const PLANTED: &str = "Lease-Kill-Planted-95";
    let script = "echo \"started $$\"\nsleep 300 &\necho \"sleeper $!\"\nwait";
    let (root, sim) = setup(PLANTED, &page("Crashing job", "crash", "", script));
    let r = root.path();
    let config = sim.config_path.to_str().unwrap();
    let mut child = spawn_run(r, &page_id_by_title(&sim, "Crashing job"), config);
    let mut out = stdout_lines(&mut child);
    let seen = read_until(&mut out, "sleeper ");
    let (script_pid, sleeper) = (
        number_after(&seen, "started "),
        number_after(&seen, "sleeper "),
    );
    // SIGKILL: arkbridge gets no chance to clean anything up.
    child.kill().unwrap();
    child.wait().unwrap();
    drain(r, "crash.stdout", out, seen);
    drain(r, "crash.stderr", stderr_lines(&mut child), String::new())
        .join()
        .unwrap();
    assert!(!dead_or_dying(sleeper), "the orphaned script goes on");
    let shm = std::path::Path::new("/dev/shm");
    assert!(
        !files_containing(&[shm], PLANTED.as_bytes()).is_empty(),
        "its secret file is still there"
    );
    assert_eq!(payments_db_secret(&sim), PLANTED);

    let out = arkbridge(r, "recover", &["recover", "--config", config, "--json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rec: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rec["killed_groups"], serde_json::json!([script_pid]));
    assert_eq!(rec["rotated"], serde_json::json!(["Prod-DB/payments-db"]));
    assert!(rec["workspaces_removed"].as_u64().unwrap() >= 1, "{rec}");
    for pid in [script_pid, sleeper] {
        assert!(dead_or_dying(pid), "process {pid} survived recovery");
    }
    assert!(files_containing(&[shm], PLANTED.as_bytes()).is_empty());
    assert_ne!(payments_db_secret(&sim), PLANTED);
    // The lock of the dead run's account was free: the next run on it starts at once.
    let again = arkbridge(
        r,
        "after",
        &[
            "run",
            &page_id_by_title(&sim, "Payments DB health"),
            "--config",
            config,
            "--as",
            "alice@example.com",
            "--json",
        ],
    );
    assert_eq!(again.status.code(), Some(0));
    let out = arkbridge(r, "verify", &["audit", "verify", "--config", config]);
    assert_eq!(out.status.code(), Some(0));
    assert_no_secret_left(r, &sim, PLANTED);
    // Recovery took no more than it needed: the dead run's own record says what happened.
    let ended = audit_of(&sim.config.data_dir, "run.finished");
    assert!(
        ended
            .iter()
            .any(|e| e["details"]["killed_process_group"] == script_pid),
        "{ended:#?}"
    );
}
