//! The lease time-to-live: a run never holds its credentials past its deadline plus a grace
//! period.
//!
//! A run's deadline is fixed when its credentials are about to be requested: that moment plus
//! the script's timeout. It is stored with the run (and so with each lease) before anything is
//! fetched. The watchdog wraps the fetching and the script: at deadline plus grace it drops them,
//! which kills the script's whole process group with SIGKILL (a script that ignores SIGTERM
//! cannot delay it) and removes its private directory; the run then settles its leases, which
//! rotates the credentials, as after any other failure.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

/// When a run's credentials are due.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadline {
    /// The deadline itself, as stored (Unix microseconds).
    pub(crate) wall_micros: i64,
    /// Deadline plus grace on tokio's clock: when the watchdog fires.
    pub(crate) expires: Instant,
    pub(crate) timeout: Duration,
    pub(crate) grace: Duration,
}

impl Deadline {
    /// The deadline of a run whose credentials are requested now and whose script may run
    /// `timeout`, enforced `grace` later.
    pub(crate) fn starting_now(now_micros: i64, timeout: Duration, grace: Duration) -> Deadline {
        let timeout_micros = i64::try_from(timeout.as_micros()).unwrap_or(i64::MAX);
        Deadline {
            wall_micros: now_micros.saturating_add(timeout_micros),
            expires: after(timeout.saturating_add(grace)),
            timeout,
            grace,
        }
    }
}

/// Now plus `span` on tokio's clock; a span too long for the clock (a config of absurd values)
/// means "never" in practice: thirty years.
pub(crate) fn after(span: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(span)
        .unwrap_or_else(|| now + Duration::from_secs(30 * 365 * 86_400))
}

/// The watchdog fired: the run was stopped at its deadline plus grace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Expired;

/// Runs `work` until it finishes or `deadline` expires, whichever comes first. On expiry `work`
/// is dropped, with everything it owns (a running script's process group among it).
pub(crate) async fn watch<F: Future>(deadline: &Deadline, work: F) -> Result<F::Output, Expired> {
    tokio::time::timeout_at(deadline.expires, work)
        .await
        .map_err(|_| Expired)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn watchdog_fires_exactly_at_deadline_plus_grace() {
        let d = Deadline::starting_now(1_000_000, Duration::from_secs(60), Duration::from_secs(30));
        assert_eq!(d.wall_micros, 61_000_000);
        let t0 = Instant::now();
        let got = watch(&d, std::future::pending::<()>()).await;
        assert_eq!(got, Err(Expired));
        assert_eq!(t0.elapsed(), Duration::from_secs(90));
    }

    #[tokio::test(start_paused = true)]
    async fn absurd_grace_does_not_overflow_the_clock() {
        let d = Deadline::starting_now(i64::MAX - 1, Duration::from_secs(60), Duration::MAX);
        assert_eq!(d.wall_micros, i64::MAX);
        assert!(d.expires > Instant::now() + Duration::from_secs(86_400 * 365));
    }

    #[tokio::test(start_paused = true)]
    async fn work_that_ends_in_time_keeps_its_result() {
        let d = Deadline::starting_now(0, Duration::from_secs(10), Duration::ZERO);
        let work = async {
            tokio::time::sleep(Duration::from_secs(9)).await;
            7
        };
        assert_eq!(watch(&d, work).await, Ok(7));
    }

    /// A real script that ignores SIGTERM, with a script timeout far beyond the deadline: the
    /// watchdog still ends it, and its whole group (the `sleep` too) is gone at once.
    #[tokio::test]
    async fn expired_run_kills_a_script_that_ignores_sigterm() {
        use arkbridge_core::mask::Masker;
        use arkbridge_runner::{Interpreter, Limits, RunSpec};

        let spec = RunSpec {
            run_id: "ttl-test-run".into(),
            page_id: "1".into(),
            mode: "read".into(),
            interpreter: Interpreter::Bash,
            script: "trap '' TERM\nsleep 300 &\necho \"pids $$ $!\"\nwait\n".into(),
            secret_vars: Vec::new(),
            secret_files: Vec::new(),
            timeout: Duration::from_secs(3600),
            limits: Limits::default(),
        };
        let masker = Masker::with_default_mask(["not-used-here"]);
        let mut printed = Vec::new();
        let d = Deadline::starting_now(0, Duration::from_secs(2), Duration::ZERO);
        let got = watch(
            &d,
            arkbridge_runner::run(spec, &masker, &mut |_, b: &[u8]| {
                printed.extend_from_slice(b)
            }),
        )
        .await;
        assert!(got.is_err(), "the watchdog fired");
        let text = String::from_utf8(printed).unwrap();
        let pids: Vec<i32> = text
            .trim()
            .strip_prefix("pids ")
            .unwrap_or_else(|| panic!("{text}"))
            .split(' ')
            .map(|p| p.parse().unwrap())
            .collect();
        for pid in pids {
            assert!(dead_or_dying(pid), "process {pid} still runs");
        }
    }

    /// Gone, a zombie, or with SIGKILL pending (the kernel ends it before it runs again).
    fn dead_or_dying(pid: i32) -> bool {
        let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
            return true;
        };
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .map(str::trim)
                .unwrap_or("")
                .to_string()
        };
        let sigkill_pending =
            |mask: String| u64::from_str_radix(&mask, 16).is_ok_and(|m| m & (1 << (9 - 1)) != 0);
        let state = field("State:");
        state.starts_with('Z')
            || state.starts_with('X')
            || sigkill_pending(field("SigPnd:"))
            || sigkill_pending(field("ShdPnd:"))
    }
}
