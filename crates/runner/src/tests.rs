//! Tests of the runner against real child processes.

use super::*;

const SECRET: &str = "s3cr3t-Value/+=";

pub(crate) fn spec(script: &str) -> RunSpec {
    RunSpec {
        run_id: "test-run".into(),
        page_id: "98765".into(),
        mode: "write".into(),
        interpreter: Interpreter::Bash,
        script: script.to_string(),
        secret_vars: vec![("DB_PASSWORD".into(), SecretString::from(SECRET))],
        secret_files: vec![(
            "KEY_FILE".into(),
            SecretString::from(format!("key-{SECRET}")),
        )],
        timeout: Duration::from_secs(60),
        limits: Limits::default(),
    }
}

pub(crate) async fn go(spec: RunSpec) -> (Outcome, String) {
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

/// The interpreter's environment as the kernel handed it over (`/proc/PID/environ`), before
/// bash adds variables of its own (`PWD`, `SHLVL`, `_`).
#[tokio::test]
async fn environment_is_exactly_the_documented_variables() {
    let mut s = spec("tr '\\0' '\\n' < /proc/$$/environ | sort");
    s.run_id = "env-run-1".into();
    let (o, text) = go(s).await;
    assert!(o.succeeded(), "{text}");
    let vars: Vec<(&str, &str)> = text
        .lines()
        .map(|l| l.split_once('=').expect("NAME=value"))
        .collect();
    let names: Vec<&str> = vars.iter().map(|(k, _)| *k).collect();
    assert_eq!(
        names,
        [
            "ARKBRIDGE_MODE",
            "ARKBRIDGE_PAGE_ID",
            "ARKBRIDGE_RUN_ID",
            "DB_PASSWORD",
            "HOME",
            "KEY_FILE",
            "LANG",
            "PATH"
        ]
    );
    let get = |k: &str| vars.iter().find(|(n, _)| *n == k).unwrap().1;
    assert_eq!(get("ARKBRIDGE_MODE"), "write");
    assert_eq!(get("ARKBRIDGE_PAGE_ID"), "98765");
    assert_eq!(get("ARKBRIDGE_RUN_ID"), "env-run-1");
    assert_eq!(
        get("DB_PASSWORD"),
        "*****",
        "the value is there, masked in output"
    );
    assert_eq!(get("LANG"), "C.UTF-8");
    assert_eq!(get("PATH"), SEARCH_PATH);
    assert!(get("HOME").contains("arkbridge-run-env-run-1-"), "{text}");
    assert!(get("HOME").ends_with("/home"), "{text}");
    assert!(get("KEY_FILE").starts_with(get("HOME").trim_end_matches("home")));
}

#[tokio::test]
async fn home_is_the_working_directory() {
    let (o, text) = go(spec("[ \"$(pwd)\" = \"$HOME\" ] && echo same")).await;
    assert!(o.succeeded(), "{text}");
    assert_eq!(text, "same\n");
}

#[tokio::test]
async fn secret_file_is_private_and_removed_afterwards() {
    let (o, text) = go(spec(
        "stat -c '%a' \"$KEY_FILE\"; stat -c '%a' \"$(dirname \"$KEY_FILE\")\"; \
         stat -c '%a' \"$(dirname \"$HOME\")\"; stat -f -c '%T' \"$KEY_FILE\"; echo \"$HOME\"",
    ))
    .await;
    assert!(o.succeeded());
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(&lines[..4], ["600", "700", "700", "tmpfs"]);
    assert!(
        !std::path::Path::new(lines[4]).exists(),
        "workspace {} left behind",
        lines[4]
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
    assert!(
        text.contains("[arkbridge: time limit of 3 s reached"),
        "{text}"
    );
    let pid: u32 = text
        .lines()
        .next()
        .unwrap()
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
fn debug_hides_secret_values() {
    let d = format!("{:?}", spec("x"));
    assert!(!d.contains("s3cr3t") && d.contains("DB_PASSWORD"), "{d}");
}

/// Waits until the process is gone, or a zombie about to be reaped: either way it runs no more.
/// SIGKILL is asynchronous, so the kernel may take a moment to carry it out; this waits for that
/// condition (bounded), it does not time anything.
pub(crate) fn assert_process_gone(pid: u32) {
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
    let ws = Workspace::create("crashed-run-1", true).unwrap();
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
