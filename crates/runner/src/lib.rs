//! Running a runbook script as a child process.
//!
//! Each run gets a private 0700 directory (on a memory filesystem when one is available) holding
//! the script, a working directory that is also `HOME`, and a `secrets/` folder for
//! `secret-file` bindings (0600 files). The child starts with a cleared environment: `PATH`,
//! `HOME`, `LANG`, the caller's plain variables and the secret bindings, nothing else. It runs in
//! its own process group; when the time limit passes, or when the script's main process exits, the
//! whole group is killed. stdout and stderr are streamed through a [`MaskStream`] each, so no
//! secret value (or its common encodings) ever leaves this crate in the output, even when it is
//! split across two reads. The private directory is removed when the run ends.

mod interpreter;
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

pub use interpreter::Interpreter;
pub use workspace::Workspace;

/// Most output kept for the run's record (the live sink sees all of it).
pub const OUTPUT_CAP: usize = 1 << 20;

/// How to run one script.
pub struct RunSpec {
    /// Names the private directory, so that recovery can find it after a crash.
    pub run_id: String,
    pub interpreter: Interpreter,
    pub script: String,
    /// Non-secret variables (`ARKBRIDGE_RUN_ID`, `ARKBRIDGE_MODE`, ...).
    pub vars: Vec<(String, String)>,
    /// Secret bindings passed as environment variables.
    pub secret_vars: Vec<(String, SecretString)>,
    /// Secret bindings passed as files: the variable holds the file's path.
    pub secret_files: Vec<(String, SecretString)>,
    pub timeout: Duration,
}

impl std::fmt::Debug for RunSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunSpec")
            .field("run_id", &self.run_id)
            .field("interpreter", &self.interpreter)
            .field("vars", &self.vars)
            .field(
                "secret_vars",
                &self.secret_vars.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .field(
                "secret_files",
                &self.secret_files.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .field("timeout", &self.timeout)
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
    /// stdout and stderr interleaved as they arrived, masked, at most [`OUTPUT_CAP`] bytes.
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
    #[error("{0}")]
    Interpreter(String),
}

/// Runs `spec`, feeding masked output to `sink` as it arrives.
pub async fn run(
    spec: RunSpec,
    masker: &Masker,
    sink: &mut (dyn FnMut(Stream, &[u8]) + Send),
) -> Result<Outcome, RunnerError> {
    let ws = Workspace::create(&spec.run_id).map_err(RunnerError::Workspace)?;
    let script_path = ws
        .write_script(&spec.script)
        .map_err(RunnerError::Workspace)?;
    let mut cmd = Command::new(spec.interpreter.program());
    cmd.args(spec.interpreter.args())
        .arg(&script_path)
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("HOME", ws.home())
        .env("LANG", "C.UTF-8")
        .current_dir(ws.home())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    for (k, v) in &spec.vars {
        cmd.env(k, v);
    }
    for (k, v) in &spec.secret_vars {
        cmd.env(k, v.expose_secret());
    }
    for (k, v) in &spec.secret_files {
        let path = ws.write_secret(k, v).map_err(RunnerError::Workspace)?;
        cmd.env(k, path);
    }
    let started = Instant::now();
    let mut child = cmd.spawn().map_err(|source| RunnerError::Spawn {
        program: spec.interpreter.program().to_string(),
        source,
    })?;
    drop(cmd);
    // Killing the group on drop covers a cancelled run (the caller dropped this future).
    let group = GroupGuard(child.id().map(|id| Pid::from_raw(id as i32)));
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let mut stderr = child.stderr.take().expect("stderr is piped");

    let mut out_mask = masker.stream();
    let mut err_mask = masker.stream();
    let mut output = Vec::new();
    let mut truncated = false;
    let mut keep = |stream: Stream, masked: Vec<u8>, output: &mut Vec<u8>, truncated: &mut bool| {
        if masked.is_empty() {
            return;
        }
        sink(stream, &masked);
        let room = OUTPUT_CAP.saturating_sub(output.len());
        if masked.len() > room {
            *truncated = true;
        }
        output.extend_from_slice(&masked[..masked.len().min(room)]);
    };

    let deadline = started + spec.timeout;
    // Once the main process has exited (or the deadline passed), output is drained for a short
    // grace period only: a process that left the group (setsid) may keep a pipe open forever.
    let mut drain_until: Option<Instant> = None;
    let (mut out_open, mut err_open) = (true, true);
    let mut status = None;
    let mut timed_out = false;
    let mut out_buf = vec![0u8; 8192];
    let mut err_buf = vec![0u8; 8192];
    while out_open || err_open || status.is_none() {
        tokio::select! {
            r = stdout.read(&mut out_buf), if out_open => {
                let n = r.map_err(RunnerError::Output)?;
                if n == 0 { out_open = false; } else {
                    keep(Stream::Stdout, out_mask.push(&out_buf[..n]), &mut output, &mut truncated);
                }
            }
            r = stderr.read(&mut err_buf), if err_open => {
                let n = r.map_err(RunnerError::Output)?;
                if n == 0 { err_open = false; } else {
                    keep(Stream::Stderr, err_mask.push(&err_buf[..n]), &mut output, &mut truncated);
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
    out_buf.fill(0);
    err_buf.fill(0);
    keep(
        Stream::Stdout,
        out_mask.finish(),
        &mut output,
        &mut truncated,
    );
    keep(
        Stream::Stderr,
        err_mask.finish(),
        &mut output,
        &mut truncated,
    );
    let status = status.expect("the loop ends only after wait");
    drop(ws);
    Ok(Outcome {
        exit_code: status.code(),
        signal: status.signal(),
        timed_out,
        duration: started.elapsed(),
        output,
        truncated,
    })
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
