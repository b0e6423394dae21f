//! Tests of the runner against real child processes.

use super::*;

const SECRET: &str = "s3cr3t-Value/+=";

fn spec(script: &str) -> RunSpec {
    RunSpec {
        run_id: "test-run".into(),
        interpreter: Interpreter::Bash,
        script: script.to_string(),
        vars: vec![("ARKBRIDGE_MODE".into(), "write".into())],
        secret_vars: vec![("DB_PASSWORD".into(), SecretString::from(SECRET))],
        secret_files: vec![(
            "KEY_FILE".into(),
            SecretString::from(format!("key-{SECRET}")),
        )],
        timeout: Duration::from_secs(60),
    }
}

async fn go(spec: RunSpec) -> (Outcome, String) {
    let masker = Masker::with_default_mask([SECRET, &format!("key-{SECRET}")]);
    let mut live = Vec::new();
    let outcome = run(spec, &masker, &mut |_, b: &[u8]| live.extend_from_slice(b))
        .await
        .unwrap();
    assert_eq!(live, outcome.output, "the sink sees what is kept");
    let text = String::from_utf8(outcome.output.clone()).unwrap();
    (outcome, text)
}

#[tokio::test]
async fn secrets_are_masked_in_stdout_and_stderr_in_every_form() {
    let (o, text) = go(spec(
        "echo \"out $DB_PASSWORD\"\necho \"err $DB_PASSWORD\" >&2\nprintf '%s' \"$DB_PASSWORD\" | base64\n\
         printf '%s' \"$DB_PASSWORD\" | od -An -tx1 | tr -d ' \\n'; echo\ncat \"$KEY_FILE\"; echo\n",
    ))
    .await;
    assert!(o.succeeded(), "{text}");
    assert!(!text.contains("s3cr3t"), "{text}");
    assert!(
        text.contains("out *****") && text.contains("err *****"),
        "{text}"
    );
    assert_eq!(text.matches("*****").count(), 5, "{text}");
}

#[tokio::test]
async fn environment_is_cleared_and_minimal() {
    let (_, text) = go(spec("env | cut -d= -f1 | sort | tr '\\n' ' '")).await;
    let mut names: Vec<&str> = text.split_whitespace().collect();
    names.retain(|n| !["PWD", "SHLVL", "_", "OLDPWD"].contains(n));
    assert_eq!(
        names,
        [
            "ARKBRIDGE_MODE",
            "DB_PASSWORD",
            "HOME",
            "KEY_FILE",
            "LANG",
            "PATH"
        ]
    );
}

#[tokio::test]
async fn secret_file_is_private_and_removed_afterwards() {
    let (o, text) = go(spec(
        "stat -c '%a' \"$KEY_FILE\"; stat -c '%a' \"$(dirname \"$KEY_FILE\")\"; echo \"$HOME\"",
    ))
    .await;
    assert!(o.succeeded());
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(&lines[..2], ["600", "700"]);
    assert!(
        !std::path::Path::new(lines[2]).exists(),
        "workspace {} left behind",
        lines[2]
    );
}

#[tokio::test]
async fn exit_code_is_reported() {
    let (o, _) = go(spec("exit 7")).await;
    assert_eq!(
        (o.exit_code, o.timed_out, o.succeeded()),
        (Some(7), false, false)
    );
}

/// A real child process's timeout runs on real time: tokio's paused clock does not advance while
/// the runtime waits on a child, so `start_paused` cannot drive this one. Nothing here measures
/// time; the deadline only has to pass after the script has started its background child, and the
/// script does that at once.
#[tokio::test]
async fn timeout_kills_the_whole_group() {
    let mut s = spec("sleep 300 &\necho \"child $!\"\nexec sleep 300\n");
    s.timeout = Duration::from_secs(3);
    let (o, text) = go(s).await;
    assert!(o.timed_out, "{text}");
    assert_eq!((o.exit_code, o.signal), (None, Some(9)));
    assert!(o.duration >= Duration::from_secs(3));
    let pid: u32 = text
        .trim()
        .strip_prefix("child ")
        .expect("the script ran")
        .parse()
        .unwrap();
    assert_process_gone(pid);
}

#[tokio::test]
async fn background_children_do_not_outlive_the_script() {
    let (o, text) = go(spec("sleep 300 &\necho \"child $!\"\n")).await;
    assert!(o.succeeded());
    let pid: u32 = text.trim().strip_prefix("child ").unwrap().parse().unwrap();
    assert_process_gone(pid);
}

#[tokio::test]
async fn python_blocks_run_isolated() {
    let mut s = spec("import os\nprint('py', os.environ['DB_PASSWORD'])\n");
    s.interpreter = Interpreter::for_language(Some("python")).unwrap();
    let (o, text) = go(s).await;
    assert!(o.succeeded(), "{text}");
    assert_eq!(text.trim(), "py *****");
}

#[test]
fn unknown_language_is_refused() {
    let e = Interpreter::for_language(Some("cobol")).unwrap_err();
    assert!(e.contains("cobol"), "{e}");
}

#[test]
fn debug_hides_secret_values() {
    let d = format!("{:?}", spec("x"));
    assert!(!d.contains("s3cr3t") && d.contains("DB_PASSWORD"), "{d}");
}

/// Waits until the process is gone, or a zombie about to be reaped: either way it runs no more.
/// SIGKILL is asynchronous, so the kernel may take a moment to carry it out; this waits for that
/// condition (bounded), it does not time anything.
fn assert_process_gone(pid: u32) {
    let mut last = String::new();
    for _ in 0..200_000 {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Err(_) => return,
            Ok(stat) => {
                let state = stat
                    .rsplit(')')
                    .next()
                    .unwrap()
                    .split_whitespace()
                    .next()
                    .unwrap();
                if state == "Z" || state == "X" {
                    return;
                }
                last = stat;
            }
        }
        std::thread::yield_now();
    }
    panic!("process {pid} still runs: {last}");
}

#[tokio::test]
async fn a_process_that_leaves_the_group_does_not_hang_the_run() {
    // setsid takes the child out of the group; it keeps stdout open for 300 s.
    let (o, text) = go(spec("setsid sleep 300 &\necho done\n")).await;
    assert!(o.succeeded(), "{text}");
    assert_eq!(text, "done\n");
    assert!(o.duration < Duration::from_secs(300));
}

#[tokio::test]
async fn leftover_workspaces_of_a_run_are_removed() {
    let ws = Workspace::create("crashed-run-1").unwrap();
    let path = ws.path().to_path_buf();
    std::mem::forget(ws); // as if the process had died
    assert!(path.exists());
    assert_eq!(remove_leftover_workspaces("crashed-run-1"), 1);
    assert!(!path.exists());
    assert_eq!(remove_leftover_workspaces("crashed-run-1"), 0);
}

#[tokio::test]
async fn a_cancelled_run_kills_its_group() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};
    let masker = Masker::with_default_mask([SECRET]);
    let pid = Arc::new(AtomicU32::new(0));
    let seen = pid.clone();
    let mut sink = move |_: Stream, b: &[u8]| {
        if let Some(p) = String::from_utf8_lossy(b).trim().strip_prefix("child ") {
            seen.store(p.parse().unwrap(), Ordering::SeqCst);
        }
    };
    let s = spec("sleep 300 &\necho \"child $!\"\nexec sleep 300\n");
    let mut fut = Box::pin(run(s, &masker, &mut sink));
    // Poll the run until the script reported its background child, then drop (cancel) it.
    while pid.load(Ordering::SeqCst) == 0 {
        tokio::select! {
            _ = &mut fut => panic!("the run ended by itself"),
            _ = tokio::task::yield_now() => {}
        }
    }
    drop(fut);
    assert_process_gone(pid.load(Ordering::SeqCst));
}
