//! Which program runs a block, chosen from the code macro's language.

/// A supported interpreter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interpreter {
    Bash,
    Sh,
    Python3,
}

impl Interpreter {
    /// The interpreter for a code macro's language. A block without a language runs with bash,
    /// the code macro's usual default for scripts.
    pub fn for_language(language: Option<&str>) -> Result<Interpreter, String> {
        match language.map(|l| l.trim().to_ascii_lowercase()).as_deref() {
            None | Some("") | Some("bash") | Some("shell") => Ok(Interpreter::Bash),
            Some("sh") => Ok(Interpreter::Sh),
            Some("python") | Some("python3") | Some("py") => Ok(Interpreter::Python3),
            Some(other) => Err(format!(
                "runbook language `{other}` is not supported; use bash, sh or python"
            )),
        }
    }

    pub fn program(self) -> &'static str {
        match self {
            Interpreter::Bash => "bash",
            Interpreter::Sh => "sh",
            Interpreter::Python3 => "python3",
        }
    }

    pub(crate) fn args(self) -> &'static [&'static str] {
        match self {
            // No rc files: the environment is exactly what the runner sets.
            Interpreter::Bash => &["--noprofile", "--norc"],
            Interpreter::Sh => &[],
            // Isolated mode: ignore PYTHON* variables and the user site directory.
            Interpreter::Python3 => &["-I"],
        }
    }
}
