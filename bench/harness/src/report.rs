//! From runs to the results: medians, ratios, the markdown table and the
//! JSON file.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::variants::{ROUTES, Role, Variant};

/// One wrk run.
#[derive(Debug, Clone, Serialize)]
pub struct Run {
    pub variant: &'static str,
    pub route: &'static str,
    pub round: usize,
    pub requests: u64,
    pub requests_per_second: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    /// The server's CPU time (user and system) per request.
    pub server_cpu_us: f64,
    /// The server's CPU time over the run's wall time: near 1 when the
    /// server had its core to itself and was the bottleneck.
    pub server_core_share: f64,
    /// Whether the machine was quiet when the run started (see `quiet`).
    pub quiet_start: bool,
    /// memcached commands during the run per request, for memcached variants.
    pub memcached_round_trips: Option<f64>,
}

/// One line of the table: a variant on a route, over all rounds.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub variant: &'static str,
    pub framework: &'static str,
    pub route: &'static str,
    /// Medians over the rounds.
    pub requests_per_second: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub server_cpu_us: f64,
    /// The lowest share of its core the server had in any round.
    pub server_core_share_min: f64,
    /// requests/s over the framework's bare variant's.
    pub vs_bare: Option<f64>,
    /// For our variants: the peer compared with, and requests/s over its.
    pub peer: Option<&'static str>,
    pub vs_peer: Option<f64>,
    /// `1e6/rps − 1e6/rps_bare`: server time added per request, in µs.
    pub added_us: Option<f64>,
    /// The median of the estimates, and the estimates.
    pub instructions_per_request: Option<f64>,
    pub instruction_estimates: Vec<f64>,
    pub memcached_round_trips: Option<f64>,
    /// requests/s of each round, in round order.
    pub rounds: Vec<f64>,
}

/// How the numbers were taken.
#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    pub rounds: usize,
    pub seconds: u32,
    pub connections: u32,
    pub sessions: usize,
    pub machine: String,
    /// Seconds each run waited, at most, for a quiet machine.
    pub patience: u64,
    /// `null` when callgrind was skipped.
    pub callgrind: Option<CallgrindSettings>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CallgrindSettings {
    pub sessions: usize,
    pub warmup_per_route: usize,
    pub measured: usize,
    pub repetitions: usize,
}

/// Everything `latest.json` holds.
#[derive(Debug, Serialize)]
pub struct Report {
    pub settings: Settings,
    pub rows: Vec<Row>,
    pub runs: Vec<Run>,
}

/// Below this share of its core in some run, the report warns that the
/// machine was busy.
pub const STARVED: f64 = 0.9;

/// Estimates of the instructions per request, by variant and route.
pub type Instructions = BTreeMap<(&'static str, &'static str), Vec<f64>>;

impl Report {
    pub fn new(
        settings: Settings,
        variants: &[&Variant],
        runs: Vec<Run>,
        instructions: &Instructions,
    ) -> Report {
        let mut rows: Vec<Row> = variants
            .iter()
            .flat_map(|variant| ROUTES.iter().map(move |route| (*variant, *route)))
            .filter_map(|(variant, route)| summarize(variant, route, &runs, instructions))
            .collect();
        let medians: BTreeMap<(&str, &str), f64> = rows
            .iter()
            .map(|row| ((row.variant, row.route), row.requests_per_second))
            .collect();
        for row in &mut rows {
            let variant = variants
                .iter()
                .find(|variant| variant.name == row.variant)
                .expect("every row comes from a variant");
            let bare = variants
                .iter()
                .find(|other| other.framework == variant.framework && other.role == Role::Bare)
                .and_then(|bare| medians.get(&(bare.name, row.route)));
            if let Some(&bare) = bare {
                row.vs_bare = Some(row.requests_per_second / bare);
                row.added_us = Some(1e6 / row.requests_per_second - 1e6 / bare);
            }
            if let Role::Ours { peer: Some(peer) } = variant.role
                && let Some(&peer_rps) = medians.get(&(peer, row.route))
            {
                row.peer = Some(peer);
                row.vs_peer = Some(row.requests_per_second / peer_rps);
            }
        }
        Report {
            settings,
            rows,
            runs,
        }
    }

    /// The markdown: a line on the settings, the table, and the notes.
    pub fn markdown(&self) -> String {
        let settings = &self.settings;
        let mut text = format!(
            "Medians of {} round(s) of {} s per variant and route, interleaved; wrk with {} \
             connections over {} sessions, on its own core; each server on one core with a \
             current-thread runtime (memcached beside it). Machine: {}.\n\n",
            settings.rounds,
            settings.seconds,
            settings.connections,
            settings.sessions,
            settings.machine,
        );
        text.push_str(
            "| variant | route | req/s | p50 | p99 | server CPU µs/req | vs bare | ours / peer \
             | µs added vs bare | instructions/req | memcached trips/req |\n\
             |---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
        );
        for row in &self.rows {
            text.push_str(&format!(
                "| {} | {} | {} | {} | {} | {:.1} | {} | {} | {} | {} | {} |\n",
                row.variant,
                row.route,
                thousands(row.requests_per_second),
                duration(row.p50_us),
                duration(row.p99_us),
                row.server_cpu_us,
                optional(row.vs_bare, |ratio| format!("{ratio:.2}")),
                optional(row.vs_peer, |ratio| format!("{ratio:.2}")),
                optional(row.added_us, |micros| format!("{micros:+.1}")),
                optional(row.instructions_per_request, thousands),
                optional(row.memcached_round_trips, |trips| format!("{trips:.2}")),
            ));
        }
        text.push_str(&self.notes());
        text
    }

    fn notes(&self) -> String {
        let mut notes = String::from(
            "\n- \"server CPU µs/req\": the server process's user + system time over the \
             requests wrk counted.\n\
             - \"vs bare\": req/s over the same framework's variant without sessions; \
             \"µs added vs bare\": 1e6/req/s − 1e6/req/s of bare, the server time the sessions \
             add to a request.\n",
        );
        let mut pairs: Vec<String> = self
            .rows
            .iter()
            .filter_map(|row| Some(format!("{} against {}", row.variant, row.peer?)))
            .collect();
        pairs.dedup();
        if !pairs.is_empty() {
            notes.push_str(&format!(
                "- \"ours / peer\": req/s over the peer's ({}).\n",
                pairs.join(", ")
            ));
        }
        match &self.settings.callgrind {
            Some(callgrind) => notes.push_str(&format!(
                "- \"instructions/req\": callgrind, (run with {} more requests − run without) \
                 / {}, median of {} rounds; sequential requests on one keep-alive connection, \
                 after {} warm-up requests per route over {} sessions; the server's \
                 instructions only.\n",
                callgrind.measured,
                callgrind.measured,
                callgrind.repetitions,
                callgrind.warmup_per_route,
                callgrind.sessions
            )),
            None => notes.push_str("- Callgrind was skipped.\n"),
        }
        let starved = self
            .rows
            .iter()
            .map(|row| row.server_core_share_min)
            .fold(f64::INFINITY, f64::min);
        let busy = self.runs.iter().filter(|run| !run.quiet_start).count();
        if busy > 0 {
            notes.push_str(&format!(
                "\n**Warning**: {busy} of {} runs started on a busy machine (no half second with \
                 the CPUs 90% idle in the {} s they waited).\n",
                self.runs.len(),
                self.settings.patience,
            ));
        }
        if starved < STARVED {
            notes.push_str(&format!(
                "\n**Warning**: in some run a server was busy only {:.0}% of the time: the machine \
                 was not quiet (see `server_core_share` in latest.json), so req/s understate.\n",
                starved * 100.0
            ));
        }
        notes
    }
}

/// The row of `variant` on `route`, if it ran.
fn summarize(
    variant: &Variant,
    route: &'static str,
    runs: &[Run],
    instructions: &Instructions,
) -> Option<Row> {
    let runs: Vec<&Run> = runs
        .iter()
        .filter(|run| run.variant == variant.name && run.route == route)
        .collect();
    if runs.is_empty() {
        return None;
    }
    let trips: Vec<f64> = runs
        .iter()
        .filter_map(|run| run.memcached_round_trips)
        .collect();
    let estimates = instructions
        .get(&(variant.name, route))
        .cloned()
        .unwrap_or_default();
    Some(Row {
        variant: variant.name,
        framework: variant.framework,
        route,
        requests_per_second: median(runs.iter().map(|run| run.requests_per_second)),
        p50_us: median(runs.iter().map(|run| run.p50_us)),
        p99_us: median(runs.iter().map(|run| run.p99_us)),
        server_cpu_us: median(runs.iter().map(|run| run.server_cpu_us)),
        server_core_share_min: runs
            .iter()
            .map(|run| run.server_core_share)
            .fold(f64::INFINITY, f64::min),
        vs_bare: None,
        peer: None,
        vs_peer: None,
        added_us: None,
        instructions_per_request: (!estimates.is_empty())
            .then(|| median(estimates.iter().copied())),
        instruction_estimates: estimates,
        memcached_round_trips: (!trips.is_empty()).then(|| median(trips.into_iter())),
        rounds: runs.iter().map(|run| run.requests_per_second).collect(),
    })
}

/// The median (the mean of the middle two for an even count); 0 for none.
pub fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut values: Vec<f64> = values.collect();
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => 0.0,
        len if len % 2 == 1 => values[len / 2],
        len => (values[len / 2 - 1] + values[len / 2]) / 2.0,
    }
}

/// `12345.6` as `12,346`.
fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value.abs());
    let mut grouped = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    if value < -0.5 {
        grouped.insert(0, '-');
    }
    grouped
}

/// Microseconds, as `812 µs` or `1.25 ms`.
fn duration(micros: f64) -> String {
    if micros < 1000.0 {
        format!("{micros:.0} µs")
    } else {
        format!("{:.2} ms", micros / 1000.0)
    }
}

fn optional(value: Option<f64>, show: impl Fn(f64) -> String) -> String {
    value.map_or_else(|| "–".to_owned(), show)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        assert_eq!(median([3.0, 1.0, 2.0].into_iter()), 2.0);
        assert_eq!(median([4.0, 1.0, 2.0, 3.0].into_iter()), 2.5);
        assert_eq!(median(std::iter::empty()), 0.0);
    }

    #[test]
    fn groups_thousands() {
        assert_eq!(thousands(0.4), "0");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(thousands(12345.6), "12,346");
        assert_eq!(thousands(1234567.0), "1,234,567");
    }

    #[test]
    fn shows_durations() {
        assert_eq!(duration(812.2), "812 µs");
        assert_eq!(duration(1250.0), "1.25 ms");
    }
}
