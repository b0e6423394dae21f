//! Resource limits of a run's processes, applied through `prlimit` from util-linux.
//!
//! The limits are set in the child, between its fork and the exec of the interpreter, by
//! running the interpreter as `prlimit --cpu=.. --data=.. --nofile=.. --fsize=.. --core=0:0 --
//! INTERPRETER ...`: prlimit sets the limits on itself and then execs the interpreter, which
//! inherits them (as does every process it starts), in the same process, so the process group
//! and pid the runner watches are the interpreter's.
//!
//! Why not the alternatives: a `pre_exec` hook calling `setrlimit` is `unsafe`, which this
//! workspace forbids. Lowering the limits in arkbridge itself around the spawn and restoring
//! them is wrong under concurrency: resource limits belong to the whole process, so every other
//! thread (other runs, the store, the HTTP clients) would run under them meanwhile, and two runs
//! starting at once would race to restore each other's values. A shell wrapper (`sh -c 'ulimit
//! ...; exec "$@"'`) would add variables of its own (`PWD`) to the script's environment. prlimit
//! touches nothing but the limits and costs one extra exec of a small binary (see
//! `BENCHMARKS.md`). If it is missing, runs are refused rather than started without limits.
//!
//! Soft and hard limits are equal (except CPU time), so a script cannot raise them unless it runs
//! as root. Each limit is capped at arkbridge's own hard limit, which an unprivileged prlimit
//! could not exceed.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use nix::sys::resource::{Resource, getrlimit};

use crate::interpreter::find_executable;

/// Where `prlimit` is looked for.
const PRLIMIT_PATH: &str = "/usr/bin:/bin:/usr/sbin:/sbin:/usr/local/bin";

/// Resource limits of one run. Every process of the run gets its own CPU, memory and file-size
/// limits (they are per process, inherited); the output caps apply to the run as a whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// CPU time per process (`RLIMIT_CPU`): `SIGXCPU` when it is used up, `SIGKILL` one second
    /// later. `None`: the run's wall-clock timeout (one busy thread can use no more).
    pub cpu: Option<Duration>,
    /// Memory per process, as `RLIMIT_DATA`: the heap and every private writable mapping.
    /// `RLIMIT_AS` is not used because runtimes that reserve address space they never touch
    /// (.NET and so PowerShell, Go, the JVM) fail to start under it.
    pub memory_bytes: u64,
    /// Open file descriptors per process (`RLIMIT_NOFILE`).
    pub open_files: u64,
    /// Largest file a process may write (`RLIMIT_FSIZE`): the run's home is on a memory
    /// filesystem.
    pub file_size_bytes: u64,
    /// Output kept for the run's record and comment: the first half and the last half of this,
    /// with a note of what was left out in between.
    pub output_bytes: usize,
    /// Output passed live to the caller's sink; past it the sink gets a note and nothing more.
    pub live_output_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            cpu: None,
            memory_bytes: 2 << 30,
            open_files: 1024,
            file_size_bytes: 1 << 30,
            output_bytes: crate::OUTPUT_CAP,
            live_output_bytes: 64 << 20,
        }
    }
}

/// Why the limits cannot be applied.
#[derive(Debug, thiserror::Error)]
pub enum LimitsError {
    #[error(
        "cannot apply resource limits: `prlimit` (util-linux) is not installed (looked in \
         {PRLIMIT_PATH}); runs are not started without limits"
    )]
    NoPrlimit,
    #[error("resource limits must be positive (memory, open files, file size, CPU time)")]
    Zero,
}

impl Limits {
    /// The program to start and its arguments up to (and including) the interpreter's path.
    pub(crate) fn wrap(
        &self,
        interpreter: PathBuf,
        timeout: Duration,
    ) -> Result<(PathBuf, Vec<OsString>), LimitsError> {
        let cpu = self.cpu.unwrap_or(timeout);
        if self.memory_bytes == 0
            || self.open_files == 0
            || self.file_size_bytes == 0
            || cpu.is_zero()
        {
            return Err(LimitsError::Zero);
        }
        let prlimit = find_executable("prlimit", PRLIMIT_PATH).ok_or(LimitsError::NoPrlimit)?;
        // Whole seconds, rounded up: a limit of 0 would mean "none at all" to nobody's benefit.
        let cpu_secs = cpu.as_secs() + u64::from(cpu.subsec_nanos() > 0);
        let mut args: Vec<OsString> = vec![
            option("cpu", Resource::RLIMIT_CPU, cpu_secs, cpu_secs + 1),
            option(
                "data",
                Resource::RLIMIT_DATA,
                self.memory_bytes,
                self.memory_bytes,
            ),
            option(
                "nofile",
                Resource::RLIMIT_NOFILE,
                self.open_files,
                self.open_files,
            ),
            option(
                "fsize",
                Resource::RLIMIT_FSIZE,
                self.file_size_bytes,
                self.file_size_bytes,
            ),
            "--core=0:0".into(),
            "--".into(),
        ];
        args.push(interpreter.into_os_string());
        Ok((prlimit, args))
    }
}

/// `--NAME=SOFT:HARD`, both capped at this process's own hard limit.
fn option(name: &str, resource: Resource, soft: u64, hard: u64) -> OsString {
    let ceiling = getrlimit(resource).map_or(u64::MAX, |(_, hard)| hard);
    let (soft, hard) = (soft.min(ceiling), hard.min(ceiling));
    format!("--{name}={soft}:{hard}").into()
}
