//! A script's process group as crash recovery knows it, and ending one a dead arkbridge left
//! behind.
//!
//! When a run starts, the runner reports the group's id (the leader's pid) and the leader's start
//! time in clock ticks since boot (`/proc/PID/stat`, field 22), which the engine stores. If
//! arkbridge is killed, the script goes on as an orphan; recovery then calls
//! [`kill_orphaned_group`], which kills the group only if it is still ours: its leader is the
//! same process (same pid *and* start time), or one of its members carries the run's
//! `ARKBRIDGE_RUN_ID` in its environment. A pid the kernel gave to some other program since is
//! never signalled.

use std::path::Path;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

/// The process group of a running script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessGroup {
    /// The group id, which is the leader's pid.
    pub pgid: i32,
    /// The leader's start time in clock ticks since boot; `None` when `/proc` could not tell.
    pub start_ticks: Option<u64>,
}

impl ProcessGroup {
    /// The group led by `pid`, with the leader's start time read now.
    pub fn of_leader(pid: i32) -> ProcessGroup {
        ProcessGroup {
            pgid: pid,
            start_ticks: read_stat(Path::new("/proc"), pid).map(|s| s.start_ticks),
        }
    }
}

/// What [`kill_orphaned_group`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrphanOutcome {
    /// The group was ours and still had live members; it was sent SIGKILL.
    Killed { members: usize },
    /// No live process is in the group any more.
    Gone,
    /// Live processes hold the group id, but none is the recorded leader or carries the run's
    /// id: the number was reused, and nothing was signalled.
    NotOurs,
}

/// Kills (SIGKILL) the process group `pgid` of run `run_id` if it still lives and is ours (see
/// the module's documentation).
pub fn kill_orphaned_group(
    pgid: i32,
    start_ticks: Option<u64>,
    run_id: &str,
) -> std::io::Result<OrphanOutcome> {
    kill_orphaned_in(Path::new("/proc"), pgid, start_ticks, run_id)
}

fn kill_orphaned_in(
    proc_root: &Path,
    pgid: i32,
    start_ticks: Option<u64>,
    run_id: &str,
) -> std::io::Result<OrphanOutcome> {
    if pgid <= 1 {
        // Group 0 or 1 is never a script's: refuse rather than signal init or ourselves.
        return Ok(OrphanOutcome::NotOurs);
    }
    let members = group_members(proc_root, pgid)?;
    if members.is_empty() {
        return Ok(OrphanOutcome::Gone);
    }
    let marker = format!("ARKBRIDGE_RUN_ID={run_id}");
    let ours = members.iter().any(|m| {
        (m.pid == pgid && start_ticks.is_some_and(|t| t == m.start_ticks))
            || carries_marker(proc_root, m.pid, &marker)
    });
    if !ours {
        return Ok(OrphanOutcome::NotOurs);
    }
    match killpg(Pid::from_raw(pgid), Signal::SIGKILL) {
        Ok(()) => Ok(OrphanOutcome::Killed {
            members: members.len(),
        }),
        // The group ended between the scan and the signal.
        Err(nix::errno::Errno::ESRCH) => Ok(OrphanOutcome::Gone),
        Err(e) => Err(std::io::Error::from(e)),
    }
}

/// The fields of `/proc/PID/stat` used here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stat {
    pid: i32,
    state: char,
    pgrp: i32,
    start_ticks: u64,
}

fn read_stat(proc_root: &Path, pid: i32) -> Option<Stat> {
    let text = std::fs::read_to_string(proc_root.join(pid.to_string()).join("stat")).ok()?;
    parse_stat(pid, &text)
}

/// Parses `/proc/PID/stat`. The command name (field 2) may hold spaces and parentheses, so the
/// fields are counted from the last `)`.
fn parse_stat(pid: i32, text: &str) -> Option<Stat> {
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // fields[0] is field 3 (state), fields[2] field 5 (pgrp), fields[19] field 22 (starttime).
    Some(Stat {
        pid,
        state: fields.first()?.chars().next()?,
        pgrp: fields.get(2)?.parse().ok()?,
        start_ticks: fields.get(19)?.parse().ok()?,
    })
}

/// Live (not zombie) processes whose process group is `pgid`.
fn group_members(proc_root: &Path, pgid: i32) -> std::io::Result<Vec<Stat>> {
    let mut members = Vec::new();
    for entry in std::fs::read_dir(proc_root)? {
        let Ok(entry) = entry else { continue };
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        // A process may end while the folder is read; it is then simply not a member.
        if let Some(stat) = read_stat(proc_root, pid)
            && stat.pgrp == pgid
            && !matches!(stat.state, 'Z' | 'X')
        {
            members.push(stat);
        }
    }
    Ok(members)
}

/// Whether the process's initial environment holds exactly the entry `marker`.
fn carries_marker(proc_root: &Path, pid: i32, marker: &str) -> bool {
    std::fs::read(proc_root.join(pid.to_string()).join("environ"))
        .map(|env| env.split(|b| *b == 0).any(|e| e == marker.as_bytes()))
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_is_parsed_after_a_command_name_with_spaces_and_parentheses() {
        let text = "4242 (my (odd) cmd) S 1 4240 4240 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 \
                    987654 1000 10 18446744073709551615";
        let s = parse_stat(4242, text).unwrap();
        assert_eq!((s.state, s.pgrp, s.start_ticks), ('S', 4240, 987_654));
    }

    #[test]
    fn truncated_stat_is_rejected() {
        assert_eq!(parse_stat(1, "1 (init) S 0"), None);
    }

    #[test]
    fn own_process_group_start_time_is_read_from_proc() {
        let me = std::process::id() as i32;
        let g = ProcessGroup::of_leader(me);
        assert!(g.start_ticks.is_some());
        let stat = read_stat(Path::new("/proc"), me).unwrap();
        assert_eq!(g.start_ticks, Some(stat.start_ticks));
    }

    /// A process in its own group, started as a script would be, with the run's marker.
    fn spawn_group(run_id: &str) -> std::process::Child {
        use std::os::unix::process::CommandExt;
        std::process::Command::new("sleep")
            .arg("30")
            .env_clear()
            .env("ARKBRIDGE_RUN_ID", run_id)
            .process_group(0)
            .spawn()
            .unwrap()
    }

    #[test]
    fn recorded_group_is_killed_and_then_reported_gone() {
        let mut child = spawn_group("run-kill-1");
        let g = ProcessGroup::of_leader(child.id() as i32);
        let got = kill_orphaned_group(g.pgid, g.start_ticks, "run-kill-1").unwrap();
        assert_eq!(got, OrphanOutcome::Killed { members: 1 });
        let status = child.wait().unwrap();
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(9)
        );
        assert_eq!(
            kill_orphaned_group(g.pgid, g.start_ticks, "run-kill-1").unwrap(),
            OrphanOutcome::Gone
        );
    }

    #[test]
    fn group_with_another_start_time_and_run_is_left_alone() {
        let mut child = spawn_group("someone-else");
        let g = ProcessGroup::of_leader(child.id() as i32);
        let wrong_start = g.start_ticks.map(|t| t + 1);
        let got = kill_orphaned_group(g.pgid, wrong_start, "run-kill-2").unwrap();
        assert_eq!(got, OrphanOutcome::NotOurs);
        // Still alive: it was not signalled.
        assert!(child.try_wait().unwrap().is_none());
        child.kill().unwrap();
        child.wait().unwrap();
    }

    #[test]
    fn run_marker_identifies_the_group_without_a_start_time() {
        let mut child = spawn_group("run-kill-3");
        let got = kill_orphaned_group(child.id() as i32, None, "run-kill-3").unwrap();
        assert_eq!(got, OrphanOutcome::Killed { members: 1 });
        child.wait().unwrap();
    }

    #[test]
    fn init_is_never_a_scripts_group() {
        assert_eq!(
            kill_orphaned_group(1, None, "x").unwrap(),
            OrphanOutcome::NotOurs
        );
    }
}
