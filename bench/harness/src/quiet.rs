//! Waiting for the machine to go quiet before a measured run, so that other
//! work on a shared machine (a build, a test run) does not land in the
//! numbers. The harness's own idle servers cost nothing.

use std::thread;
use std::time::{Duration, Instant};

use crate::Result;

/// A window is quiet when the CPUs were idle this share of it.
const IDLE: f64 = 0.9;
/// The length of one observation.
const WINDOW: Duration = Duration::from_millis(500);

/// Waits until one [`WINDOW`] is quiet, at most `patience`. Answers whether
/// it was; `patience` zero skips the wait.
pub fn wait(patience: Duration) -> Result<bool> {
    if patience.is_zero() {
        return Ok(true);
    }
    let deadline = Instant::now() + patience;
    while Instant::now() < deadline {
        if idle_share(WINDOW)? >= IDLE {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The share of `window` the CPUs spent idle, from `/proc/stat`.
fn idle_share(window: Duration) -> Result<f64> {
    let before = cpu_times()?;
    thread::sleep(window);
    let after = cpu_times()?;
    let spent: Vec<u64> = after
        .iter()
        .zip(&before)
        .map(|(after, before)| after.saturating_sub(*before))
        .collect();
    let total: u64 = spent.iter().sum();
    // The fields are user nice system idle iowait irq softirq steal ...
    let idle = spent.get(3).copied().unwrap_or(0) + spent.get(4).copied().unwrap_or(0);
    Ok(if total == 0 {
        1.0
    } else {
        idle as f64 / total as f64
    })
}

/// The `cpu` line of `/proc/stat`: time spent in each state, all CPUs.
fn cpu_times() -> Result<Vec<u64>> {
    let stat = std::fs::read_to_string("/proc/stat")?;
    let line = stat
        .lines()
        .find(|line| line.starts_with("cpu "))
        .ok_or("no cpu line in /proc/stat")?;
    Ok(line
        .split_whitespace()
        .skip(1)
        .filter_map(|field| field.parse().ok())
        .collect())
}
