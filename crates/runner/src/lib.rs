//! Running a runbook script as a child process.
//!
//! Each run gets a private 0700 directory on a memory filesystem (`workspace.rs`) holding the
//! script, a working directory that is also `HOME`, and a `secrets/` folder for `secret-file`
//! bindings (0600 files). The interpreter follows the block's language (`interpreter.rs`). The
//! child starts with exactly this environment: `PATH`, `HOME`, `LANG`, `ARKBRIDGE_RUN_ID`,
//! `ARKBRIDGE_PAGE_ID`, `ARKBRIDGE_MODE` and the bindings. It runs in its own process group
//! under resource limits (CPU time, memory, open files, file size, no core dumps; `limits.rs`);
//! when the time limit passes, or when the script's main process exits, the whole group is
//! killed. stdout and stderr are streamed through a [`MaskStream`] each, so no secret value (or
//! its common encodings) ever leaves this crate in the output, even when it is split across two
//! reads; the output is capped (`output.rs`). The private directory is removed when the run
//! ends, and by [`remove_leftover_workspaces`] after a crash. [`run_reporting`] also hands the
//! caller the script's process group before any output is forwarded, so that it can be recorded;
//! after a crash, [`kill_orphaned_group`] ends such a group if it is still ours (`process.rs`).
//!
//! [`MaskStream`]: arkbridge_core::mask::MaskStream

mod interpreter;
mod limits;
mod output;
mod process;
mod workspace;

use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::time::Duration;

use arkbridge_core::mask::Masker;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use secrecy::{ExposeSecret, SecretString};
use tokio::io::AsyncReadExt;
use tokio::process::Command;
use tokio::time::Instant;
use zeroize::Zeroizing;

pub use interpreter::{Interpreter, InterpreterError, SEARCH_PATH};
pub use limits::{Limits, LimitsError};
pub use process::{OrphanOutcome, ProcessGroup, kill_orphaned_group};
pub use workspace::Workspace;

use output::Collector;

/// Bytes read from the child per read call (also the masking benchmark's default chunk).
pub const READ_CHUNK: usize = 32 * 1024;

/// Most output kept for the run's record by default ([`Limits::output_bytes`]).
pub const OUTPUT_CAP: usize = 1 << 20;

/// The `LANG` a script gets.
const LANG: &str = "C.UTF-8";

/// How to run one script.
pub struct RunSpec {
    /// `ARKBRIDGE_RUN_ID`; also names the private directory, so that recovery can find it.
    pub run_id: String,
    /// `ARKBRIDGE_PAGE_ID`.
    pub page_id: String,
    /// `ARKBRIDGE_MODE`: `read`, `write` or `read-only`.
    pub mode: String,
    pub interpreter: Interpreter,
    pub script: String,
    /// Secret bindings passed as environment variables.
    pub secret_vars: Vec<(String, SecretString)>,
    /// Secret bindings passed as files: the variable holds the file's path.
    pub secret_files: Vec<(String, SecretString)>,
    /// Wall-clock limit, after which the whole process group is killed.
    pub timeout: Duration,
    pub limits: Limits,
}

impl std::fmt::Debug for RunSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunSpec")
            .field("run_id", &self.run_id)
            .field("page_id", &self.page_id)
            .field("mode", &self.mode)
            .field("interpreter", &self.interpreter)
            .field(
                "secret_vars",
                &self.secret_vars.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .field(
                "secret_files",
                &self.secret_files.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .field("timeout", &self.timeout)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

/// Which of the child's streams a chunk came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// How a run ended. `output` is masked.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The exit code, or `None` when the child was killed by a signal.
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub timed_out: bool,
    pub duration: Duration,
    /// stdout and stderr interleaved as they arrived, masked, with the runner's notes; at most
    /// [`Limits::output_bytes`] of the script's output (its start and its end).
    pub output: Vec<u8>,
    pub truncated: bool,
}

impl Outcome {
    pub fn succeeded(&self) -> bool {
        !self.timed_out && self.exit_code == Some(0)
    }
}

/// Why a script could not be run (its own failure is an [`Outcome`], not an error).
#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    #[error("cannot prepare the run's private directory: {0}")]
    Workspace(std::io::Error),
    #[error("cannot start `{program}`: {source}")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
    #[error("reading the script's output failed: {0}")]
    Output(std::io::Error),
    #[error(transparent)]
    Interpreter(#[from] InterpreterError),
    #[error(transparent)]
    Limits(#[from] LimitsError),
    #[error("binding `{0}`: {1}")]
    Binding(String, &'static str),
}

/// The script has started: its process group, to be recorded for crash recovery. The runner
/// reads (and so forwards) no output before `ack` is sent or dropped, so whatever the script
/// prints is seen only once its group is on record; it waits at most until the run's timeout.
#[derive(Debug)]
pub struct Started {
    pub group: ProcessGroup,
    pub ack: tokio::sync::oneshot::Sender<()>,
}

/// Runs `spec`, feeding masked output to `sink` as it arrives.
pub async fn run(
    spec: RunSpec,
    masker: &Masker,
    sink: &mut (dyn FnMut(Stream, &[u8]) + Send),
) -> Result<Outcome, RunnerError> {
    run_reporting(spec, masker, sink, None).await
}

/// [`run`], reporting the script's process group on `started` as soon as it exists (see
/// [`Started`]).
pub async fn run_reporting(
    spec: RunSpec,
    masker: &Masker,
    sink: &mut (dyn FnMut(Stream, &[u8]) + Send),
    started: Option<tokio::sync::oneshot::Sender<Started>>,
) -> Result<Outcome, RunnerError> {
    check_bindings(&spec)?;
    let program =
        spec.interpreter
            .locate_in(SEARCH_PATH)
            .ok_or_else(|| InterpreterError::NotInstalled {
                language: spec.interpreter.program().into(),
                program: spec.interpreter.program(),
                path: SEARCH_PATH.into(),
            })?;
    let (launcher, launcher_args) = spec.limits.wrap(program, spec.timeout)?;
    let ws = Workspace::create(&spec.run_id, !spec.secret_files.is_empty())
        .map_err(RunnerError::Workspace)?;
    let script_path = ws
        .write_script(spec.interpreter.script_name(), &spec.script)
        .map_err(RunnerError::Workspace)?;
    let mut cmd = Command::new(&launcher);
    cmd.args(&launcher_args)
        .args(spec.interpreter.args())
        .arg(&script_path)
        .env_clear()
        .env("PATH", SEARCH_PATH)
        .env("HOME", ws.home())
        .env("LANG", LANG)
        .env("ARKBRIDGE_RUN_ID", &spec.run_id)
        .env("ARKBRIDGE_PAGE_ID", &spec.page_id)
        .env("ARKBRIDGE_MODE", &spec.mode)
        .current_dir(ws.home())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    for (k, v) in &spec.secret_vars {
        cmd.env(k, v.expose_secret());
    }
    for (k, v) in &spec.secret_files {
        let path = ws.write_secret(k, v).map_err(RunnerError::Workspace)?;
        cmd.env(k, path);
    }
    let started_at = Instant::now();
    let mut child = cmd.spawn().map_err(|source| RunnerError::Spawn {
        program: spec.interpreter.program().to_string(),
        source,
    })?;
    // The command holds the secret values as environment strings: drop it at once.
    drop(cmd);
    // Killing the group on drop covers a cancelled run (the caller dropped this future).
    let group = GroupGuard(child.id().map(|id| Pid::from_raw(id as i32)));
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let deadline = started_at + spec.timeout;
    if let (Some(report), Some(pid)) = (started, group.0) {
        let (ack, acked) = tokio::sync::oneshot::channel();
        let start = Started {
            group: ProcessGroup::of_leader(pid.as_raw()),
            ack,
        };
        if report.send(start).is_ok() {
            // A dropped `ack` is an answer too; only the run's own deadline bounds the wait.
            let _ = tokio::time::timeout_at(deadline, acked).await;
        }
    }

    let mut out_mask = masker.stream();
    let mut err_mask = masker.stream();
    let mut collector = Collector::new(
        sink,
        spec.limits.output_bytes,
        spec.limits.live_output_bytes,
    );
    let mut masked = Vec::with_capacity(READ_CHUNK + 256);
    // Once the main process has exited (or the deadline passed), output is drained for a short
    // grace period only: a process that left the group (setsid) may keep a pipe open forever.
    let mut drain_until: Option<Instant> = None;
    let (mut out_open, mut err_open) = (true, true);
    let mut status = None;
    let mut timed_out = false;
    let mut out_buf = Zeroizing::new(vec![0u8; READ_CHUNK]);
    let mut err_buf = Zeroizing::new(vec![0u8; READ_CHUNK]);
    while out_open || err_open || status.is_none() {
        tokio::select! {
            r = stdout.read(&mut out_buf[..]), if out_open => {
                let n = r.map_err(RunnerError::Output)?;
                if n == 0 { out_open = false; } else {
                    out_mask.push_into(&out_buf[..n], &mut masked);
                    collector.push(Stream::Stdout, &masked);
                    masked.clear();
                }
            }
            r = stderr.read(&mut err_buf[..]), if err_open => {
                let n = r.map_err(RunnerError::Output)?;
                if n == 0 { err_open = false; } else {
                    err_mask.push_into(&err_buf[..n], &mut masked);
                    collector.push(Stream::Stderr, &masked);
                    masked.clear();
                }
            }
            s = child.wait(), if status.is_none() => {
                status = Some(s.map_err(RunnerError::Output)?);
                // The main process is done: nothing it started may outlive it or hold the pipes.
                group.kill();
                drain_until.get_or_insert(Instant::now() + DRAIN_GRACE);
            }
            _ = tokio::time::sleep_until(deadline), if !timed_out => {
                timed_out = true;
                group.kill();
                drain_until.get_or_insert(Instant::now() + DRAIN_GRACE);
            }
            _ = sleep_until_some(drain_until), if drain_until.is_some() => {
                if status.is_none() {
                    let _ = child.start_kill();
                    status = Some(child.wait().await.map_err(RunnerError::Output)?);
                }
                break;
            }
        }
    }
    out_mask.finish_into(&mut masked);
    collector.push(Stream::Stdout, &masked);
    masked.clear();
    err_mask.finish_into(&mut masked);
    collector.push(Stream::Stderr, &masked);
    let status = status.expect("the loop ends only after wait");
    let duration = started_at.elapsed();
    if let Some(note) = ending_note(timed_out, status.signal(), &spec) {
        collector.note(&note);
    }
    let (output, truncated) = collector.finish();
    drop(ws);
    Ok(Outcome {
        exit_code: status.code(),
        signal: status.signal(),
        timed_out,
        duration,
        output,
        truncated,
    })
}

/// Why the run was stopped, when a limit stopped it.
fn ending_note(timed_out: bool, signal: Option<i32>, spec: &RunSpec) -> Option<String> {
    if timed_out {
        return Some(format!(
            "time limit of {} s reached; the script's process group was killed",
            spec.timeout.as_secs_f64()
        ));
    }
    match signal.and_then(|s| Signal::try_from(s).ok()) {
        Some(Signal::SIGXCPU) => Some(format!(
            "the script used up its CPU time limit ({} s) and was stopped",
            spec.limits.cpu.unwrap_or(spec.timeout).as_secs_f64()
        )),
        Some(Signal::SIGXFSZ) => Some(format!(
            "the script wrote a file over the size limit ({} bytes) and was stopped",
            spec.limits.file_size_bytes
        )),
        _ => None,
    }
}

/// Refuses binding names that could not be environment variables or file names, that would
/// replace a variable the runner sets, or that appear twice.
fn check_bindings(spec: &RunSpec) -> Result<(), RunnerError> {
    let names = spec.secret_vars.iter().chain(&spec.secret_files);
    let mut seen = std::collections::HashSet::new();
    for (name, _) in names {
        let bad = |why| Err(RunnerError::Binding(name.clone(), why));
        let mut chars = name.chars();
        let valid = chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return bad("not a valid variable name (letters, digits and _)");
        }
        if ["PATH", "HOME", "LANG"].contains(&name.as_str()) || name.starts_with("ARKBRIDGE_") {
            return bad("the runner sets this variable itself");
        }
        if !seen.insert(name.as_str()) {
            return bad("bound twice");
        }
    }
    Ok(())
}

/// How long output is still read after the main process exited or was killed.
const DRAIN_GRACE: Duration = Duration::from_secs(2);

async fn sleep_until_some(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// The child's process group, killed when this is dropped.
struct GroupGuard(Option<Pid>);

impl GroupGuard {
    fn kill(&self) {
        if let Some(pgid) = self.0 {
            // ESRCH (the group is already gone) is the expected, harmless case.
            let _ = killpg(pgid, Signal::SIGKILL);
        }
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Removes the private directories a crashed run left behind (its secret files among them).
/// Returns how many were removed.
pub fn remove_leftover_workspaces(run_id: &str) -> usize {
    Workspace::remove_leftovers(run_id)
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_limits;
#[cfg(test)]
mod tests_started;
