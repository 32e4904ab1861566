//! CPU time of a process tree, from `/proc/<pid>/stat`: user plus system time (`utime` and
//! `stime`, fields 14 and 15 of proc(5)), in clock ticks, which include the threads that have
//! already exited.

use crate::processes::{app_tree, stat_fields};
use std::collections::HashMap;

/// The CPU time each process of a tree had used at one moment.
pub struct Snapshot {
    /// By pid: the process's name and its CPU time in milliseconds.
    used: HashMap<u32, (String, f64)>,
}

/// CPU time so far of every descendant of `root` that is not a WebDriver process.
pub fn snapshot(root: u32) -> Result<Snapshot, String> {
    let ms_per_tick = ms_per_tick();
    let used: HashMap<u32, (String, f64)> = app_tree(root)?
        .into_iter()
        .filter_map(|(pid, name)| Some((pid, (name, ticks(pid)? as f64 * ms_per_tick))))
        .collect();
    if used.is_empty() {
        return Err(format!("no app process found under {root}"));
    }
    Ok(Snapshot { used })
}

impl Snapshot {
    /// CPU milliseconds per process (by name) from `earlier` to this snapshot, the largest first.
    /// A process started in between counts from zero; one that ended in between is lost, so
    /// the windows measured keep every process alive throughout.
    pub fn since(&self, earlier: &Snapshot) -> Vec<(String, f64)> {
        let mut used: Vec<(String, f64)> = self
            .used
            .iter()
            .map(|(pid, (name, now))| {
                let before = earlier.used.get(pid).map_or(0.0, |(_, ms)| *ms);
                (name.clone(), now - before)
            })
            .collect();
        used.sort_by(|a, b| b.1.total_cmp(&a.1));
        used
    }
}

/// The fields' resolution: one clock tick in milliseconds.
pub fn ms_per_tick() -> f64 {
    1000.0 / ticks_per_second()
}

/// `utime + stime` of `pid`; `None` once it has exited.
fn ticks(pid: u32) -> Option<u64> {
    let fields = stat_fields(pid)?;
    // After the name, field 3 (the state) is the first: utime and stime are 14 and 15.
    let field = |n: usize| fields.get(n - 3)?.parse::<u64>().ok();
    Some(field(14)? + field(15)?)
}

/// The kernel's clock ticks per second for these fields (`getconf CLK_TCK`), 100 on Linux.
#[cfg(unix)]
fn ticks_per_second() -> f64 {
    use nix::unistd::{SysconfVar, sysconf};
    match sysconf(SysconfVar::CLK_TCK) {
        Ok(Some(ticks)) if ticks > 0 => ticks as f64,
        _ => 100.0,
    }
}

#[cfg(not(unix))]
fn ticks_per_second() -> f64 {
    100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// This process's CPU time as the kernel reports it to the process itself, in ms.
    fn own_cpu_ms() -> f64 {
        use nix::sys::resource::{UsageWho, getrusage};
        let usage = getrusage(UsageWho::RUSAGE_SELF).unwrap();
        let ms =
            |t: nix::sys::time::TimeVal| t.tv_sec() as f64 * 1000.0 + t.tv_usec() as f64 / 1000.0;
        ms(usage.user_time()) + ms(usage.system_time())
    }

    #[test]
    fn a_busy_process_shows_its_cpu_time_and_an_idle_one_none() {
        let mut idle = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let before = snapshot(std::process::id()).unwrap();
        let own_before = own_cpu_ms();
        let started = std::time::Instant::now();
        let mut spin = 0u64;
        while started.elapsed() < std::time::Duration::from_millis(300) {
            spin = std::hint::black_box(spin.wrapping_add(1));
        }
        let own = own_cpu_ms() - own_before;
        let after = snapshot(std::process::id()).unwrap();
        let _ = idle.kill();
        let _ = idle.wait();
        let used = after.since(&before);
        // The busiest is this process, within a few ticks of what the kernel told it directly.
        assert!(
            (used[0].1 - own).abs() <= 4.0 * ms_per_tick() && own > 50.0,
            "this process spun {own:.0} ms: {used:?}"
        );
        let sleeping = used
            .iter()
            .find(|(name, _)| name == "sleep")
            .map(|(_, ms)| *ms);
        assert!(sleeping.is_some_and(|ms| ms < 50.0), "{used:?}");
    }
}
