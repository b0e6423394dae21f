//! Tests of the interpreters, the resource limits, the binding checks and the output caps,
//! against real child processes.

use super::tests::{go, spec};
use super::*;

fn limited(script: &str, limits: Limits) -> RunSpec {
    let mut s = spec(script);
    s.limits = limits;
    s
}

#[tokio::test]
async fn each_resource_limit_is_in_force_soft_and_hard() {
    let limits = Limits {
        cpu: Some(Duration::from_secs(7)),
        memory_bytes: 256 << 20,
        open_files: 64,
        file_size_bytes: 1 << 20,
        ..Limits::default()
    };
    let (o, text) = go(limited(
        "for f in c n d t f; do echo \"$f $(ulimit -S -$f) $(ulimit -H -$f)\"; done",
        limits,
    ))
    .await;
    assert!(o.succeeded(), "{text}");
    // bash reports -d in KiB and -f in 1024-byte blocks; the CPU hard limit is a second later.
    assert_eq!(
        text,
        "c 0 0\nn 64 64\nd 262144 262144\nt 7 8\nf 1024 1024\n"
    );
}

#[tokio::test]
async fn default_cpu_limit_follows_the_timeout() {
    let mut s = spec("ulimit -t");
    s.timeout = Duration::from_millis(42_500);
    let (_, text) = go(s).await;
    assert_eq!(text, "43\n");
}

#[tokio::test]
async fn a_script_that_allocates_too_much_memory_fails() {
    let mut s = limited(
        "b = bytearray(512 * 1024 * 1024)\nprint('allocated', len(b))\n",
        Limits {
            memory_bytes: 128 << 20,
            ..Limits::default()
        },
    );
    s.interpreter = Interpreter::Python3;
    let (o, text) = go(s).await;
    assert_eq!(o.exit_code, Some(1), "{text}");
    assert!(text.contains("MemoryError"), "{text}");
    assert!(!text.contains("allocated"), "{text}");
}

#[tokio::test]
async fn a_cpu_bound_loop_is_stopped_by_the_cpu_limit() {
    let (o, text) = go(limited(
        "while :; do :; done",
        Limits {
            cpu: Some(Duration::from_secs(1)),
            ..Limits::default()
        },
    ))
    .await;
    assert!(
        !o.timed_out,
        "the wall-clock limit (60 s) is not what stopped it"
    );
    assert_eq!(o.signal, Some(Signal::SIGXCPU as i32), "{text}");
    assert!(text.contains("CPU time limit (1 s)"), "{text}");
}

#[tokio::test]
async fn opening_too_many_files_fails() {
    let mut s = limited(
        "fs = [open('/dev/null') for _ in range(100)]\n",
        Limits {
            open_files: 32,
            ..Limits::default()
        },
    );
    s.interpreter = Interpreter::Python3;
    let (o, text) = go(s).await;
    assert_eq!(o.exit_code, Some(1), "{text}");
    assert!(text.contains("Too many open files"), "{text}");
}

#[tokio::test]
async fn a_file_over_the_size_limit_is_cut_off() {
    let (o, text) = go(limited(
        "head -c 3000000 /dev/zero > big; echo \"rc=$?\"; stat -c %s big",
        Limits {
            file_size_bytes: 1 << 20,
            ..Limits::default()
        },
    ))
    .await;
    assert!(o.succeeded(), "{text}");
    // head was killed by SIGXFSZ (128 + 25) after writing exactly the limit; bash says so.
    assert!(text.contains("File size limit exceeded"), "{text}");
    // stdout and stderr are two pipes: bash's message may come before or after stdout's lines.
    assert!(text.lines().any(|l| l == "rc=153"), "{text}");
    assert!(text.lines().any(|l| l == "1048576"), "{text}");
}

#[tokio::test]
async fn zero_limits_are_refused() {
    let masker = Masker::with_default_mask(["x"]);
    let s = limited(
        "true",
        Limits {
            open_files: 0,
            ..Limits::default()
        },
    );
    let e = run(s, &masker, &mut |_, _| {}).await.unwrap_err();
    assert!(matches!(e, RunnerError::Limits(LimitsError::Zero)), "{e}");
}

#[tokio::test]
async fn sh_blocks_run_with_sh() {
    let mut s = spec("echo \"sh $ARKBRIDGE_MODE\"");
    s.interpreter = Interpreter::for_language(Some("sh")).unwrap();
    let (o, text) = go(s).await;
    assert!(o.succeeded(), "{text}");
    assert_eq!(text, "sh write\n");
}

#[tokio::test]
async fn python_sees_the_same_exact_environment() {
    let mut s = spec("import os\nprint(' '.join(sorted(os.environ)))\n");
    s.interpreter = Interpreter::Python3;
    let (o, text) = go(s).await;
    assert!(o.succeeded(), "{text}");
    assert_eq!(
        text.trim(),
        "ARKBRIDGE_MODE ARKBRIDGE_PAGE_ID ARKBRIDGE_RUN_ID DB_PASSWORD HOME KEY_FILE LANG PATH"
    );
}

#[test]
fn unknown_languages_are_refused_by_name() {
    let e = Interpreter::for_language(Some("cobol")).unwrap_err();
    assert_eq!(e, InterpreterError::Unsupported("cobol".into()));
    assert!(e.to_string().contains("`cobol` is not supported"), "{e}");
}

#[test]
fn pwsh_is_refused_clearly_when_not_installed() {
    let empty = tempfile::tempdir().unwrap();
    let e = Interpreter::for_language_in(Some("PowerShell"), &empty.path().to_string_lossy())
        .unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("`powershell` needs `pwsh`, which is not installed on this host"),
        "{msg}"
    );
}

#[test]
fn pwsh_is_chosen_when_installed() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("pwsh");
    std::fs::write(&fake, "#!/bin/sh\n").unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = dir.path().to_string_lossy();
    assert_eq!(
        Interpreter::for_language_in(Some("pwsh"), &path),
        Ok(Interpreter::Pwsh)
    );
    // A file that is not executable does not count.
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert!(Interpreter::for_language_in(Some("pwsh"), &path).is_err());
}

/// On this host either PowerShell runs the block, or the block is refused as not installed.
#[tokio::test]
async fn pwsh_blocks_run_or_are_refused_on_this_host() {
    match Interpreter::for_language(Some("powershell")) {
        Ok(i) => {
            let mut s = spec("Write-Output \"ps $env:ARKBRIDGE_MODE $env:DB_PASSWORD\"");
            s.interpreter = i;
            let (o, text) = go(s).await;
            assert!(o.succeeded(), "{text}");
            assert_eq!(text.trim(), "ps write *****");
        }
        Err(e) => {
            assert!(Interpreter::Pwsh.locate_in(SEARCH_PATH).is_none());
            assert!(e.to_string().contains("not installed"), "{e}");
        }
    }
}

#[tokio::test]
async fn bindings_that_would_replace_runner_variables_or_escape_are_refused() {
    let masker = Masker::with_default_mask(["v"]);
    for (name, file) in [
        ("PATH", false),
        ("ARKBRIDGE_MODE", false),
        ("../../etc/x", true),
        ("A B", false),
        ("", true),
        ("DB_PASSWORD", false), // bound twice: `spec` already has it
    ] {
        let mut s = spec("true");
        let binding = (name.to_string(), SecretString::from("v"));
        if file {
            s.secret_files.push(binding);
        } else {
            s.secret_vars.push(binding);
        }
        let e = run(s, &masker, &mut |_, _| {}).await.unwrap_err();
        assert!(matches!(e, RunnerError::Binding(..)), "{name}: {e}");
    }
}

#[tokio::test]
async fn long_output_keeps_its_start_and_end_with_a_note() {
    let s = limited(
        "for i in $(seq 1 5000); do echo \"line $i\"; done",
        Limits {
            output_bytes: 1000,
            ..Limits::default()
        },
    );
    let masker = Masker::with_default_mask([SECRET_FOR_CAPS]);
    let mut live = Vec::new();
    let o = run(s, &masker, &mut |_, b: &[u8]| live.extend_from_slice(b))
        .await
        .unwrap();
    let text = String::from_utf8(o.output).unwrap();
    assert!(o.truncated);
    assert!(text.starts_with("line 1\nline 2\n"), "{text}");
    assert!(text.ends_with("line 4999\nline 5000\n"), "{text}");
    assert!(text.contains("bytes of output left out here"), "{text}");
    assert!(text.len() < 1200, "{}", text.len());
    assert!(
        String::from_utf8(live).unwrap().contains("line 2500\n"),
        "the live sink sees it all"
    );
}

const SECRET_FOR_CAPS: &str = "not-printed-here";

#[tokio::test]
async fn live_output_stops_at_its_cap() {
    let s = limited(
        "for i in $(seq 1 1000); do echo \"line $i\"; done",
        Limits {
            live_output_bytes: 100,
            ..Limits::default()
        },
    );
    let masker = Masker::with_default_mask([SECRET_FOR_CAPS]);
    let mut live = Vec::new();
    let o = run(s, &masker, &mut |_, b: &[u8]| live.extend_from_slice(b))
        .await
        .unwrap();
    let live = String::from_utf8(live).unwrap();
    assert!(
        live.contains("[arkbridge: live output stops after 100 bytes"),
        "{live}"
    );
    assert!(!live.contains("line 1000"), "{live}");
    assert!(
        String::from_utf8(o.output)
            .unwrap()
            .ends_with("line 1000\n")
    );
}
