//! Which program runs a block, chosen from the code macro's language, and where it is installed.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// The directories searched for interpreters; also the `PATH` a script gets.
pub const SEARCH_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// A supported interpreter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interpreter {
    Bash,
    Sh,
    Python3,
    /// PowerShell 7 (`pwsh`), when it is installed.
    Pwsh,
}

/// Why a block's language cannot be run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InterpreterError {
    #[error("runbook language `{0}` is not supported; use bash, sh, python or powershell (pwsh)")]
    Unsupported(String),
    #[error(
        "runbook language `{language}` needs `{program}`, which is not installed on this host \
         (looked in {path}); install it or rewrite the block in bash, sh or python"
    )]
    NotInstalled {
        language: String,
        program: &'static str,
        path: String,
    },
}

impl Interpreter {
    /// The interpreter for a code macro's language, if it is installed in [`SEARCH_PATH`]. A
    /// block without a language runs with bash, the code macro's usual default for scripts.
    pub fn for_language(language: Option<&str>) -> Result<Interpreter, InterpreterError> {
        Self::for_language_in(language, SEARCH_PATH)
    }

    /// [`Interpreter::for_language`] with another search path (`dir:dir:...`).
    pub fn for_language_in(
        language: Option<&str>,
        search_path: &str,
    ) -> Result<Interpreter, InterpreterError> {
        let name = language.map(|l| l.trim().to_ascii_lowercase());
        let interpreter = match name.as_deref() {
            None | Some("") | Some("bash") | Some("shell") => Interpreter::Bash,
            Some("sh") => Interpreter::Sh,
            Some("python") | Some("python3") | Some("py") => Interpreter::Python3,
            Some("powershell") | Some("pwsh") | Some("ps1") | Some("ps") => Interpreter::Pwsh,
            Some(_) => {
                return Err(InterpreterError::Unsupported(
                    language.unwrap_or_default().trim().to_string(),
                ));
            }
        };
        match interpreter.locate_in(search_path) {
            Some(_) => Ok(interpreter),
            None => Err(InterpreterError::NotInstalled {
                language: name.unwrap_or_else(|| "bash".into()),
                program: interpreter.program(),
                path: search_path.to_string(),
            }),
        }
    }

    pub fn program(self) -> &'static str {
        match self {
            Interpreter::Bash => "bash",
            Interpreter::Sh => "sh",
            Interpreter::Python3 => "python3",
            Interpreter::Pwsh => "pwsh",
        }
    }

    /// The installed program's path: the first executable file of that name in `search_path`.
    pub fn locate_in(self, search_path: &str) -> Option<PathBuf> {
        find_executable(self.program(), search_path)
    }

    pub(crate) fn args(self) -> &'static [&'static str] {
        match self {
            // No rc files: the environment is exactly what the runner sets.
            Interpreter::Bash => &["--noprofile", "--norc"],
            Interpreter::Sh => &[],
            // Isolated mode: ignore PYTHON* variables and the user site directory.
            Interpreter::Python3 => &["-I"],
            // No profile scripts, no prompts; `-File` runs the script (it must end in `.ps1`).
            Interpreter::Pwsh => &["-NoLogo", "-NoProfile", "-NonInteractive", "-File"],
        }
    }

    /// The script's file name in the run's directory.
    pub(crate) fn script_name(self) -> &'static str {
        match self {
            Interpreter::Pwsh => "script.ps1",
            _ => "script",
        }
    }
}

/// The first executable regular file called `program` in the `:`-separated `search_path`.
pub(crate) fn find_executable(program: &str, search_path: &str) -> Option<PathBuf> {
    search_path
        .split(':')
        .filter(|d| !d.is_empty())
        .map(|d| Path::new(d).join(program))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}
