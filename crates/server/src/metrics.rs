//! Prometheus metrics in the text exposition format (version 0.0.4), served at `/metrics`.
//!
//! * `arkbridge_runs_total{outcome}`: API runs by how they ended (`succeeded`, `failed`,
//!   `timed-out`, `denied`, `error`);
//! * `arkbridge_runs_active`: API runs going now;
//! * `arkbridge_http_requests_total{method,route,status}` and
//!   `arkbridge_http_request_duration_seconds{method,route,status}` (a histogram): every request
//!   by route *template* (`/api/v1/runs/{id}`, never the id itself).
//!
//! The engine's counters (`arkbridge_engine::METRICS`: rotations, retries, lease waits ...)
//! are rendered after these.
//!
//! No label holds a secret or free text: routes are the router's templates, methods and
//! outcomes come from fixed lists, and anything else is counted as `other`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

/// Histogram bucket bounds, in seconds.
const BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The outcomes a run can end with (anything else is `other`).
const OUTCOMES: [&str; 5] = ["succeeded", "failed", "timed-out", "denied", "error"];

#[derive(Debug, Default, Clone)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Debug, Default)]
struct Inner {
    runs: BTreeMap<&'static str, u64>,
    requests: BTreeMap<(&'static str, String, u16), Histogram>,
}

/// The server's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

fn method_label(method: &str) -> &'static str {
    match method {
        "GET" => "GET",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "HEAD" => "HEAD",
        "OPTIONS" => "OPTIONS",
        _ => "other",
    }
}

/// Escapes a label value (the route templates contain no quotes, but stay safe).
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl Metrics {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts a run's end.
    pub fn run_finished(&self, outcome: &str) {
        let label = OUTCOMES
            .iter()
            .copied()
            .find(|o| *o == outcome)
            .unwrap_or("other");
        *self.lock().runs.entry(label).or_default() += 1;
    }

    /// Records one request; `route` must be a router template (or `unmatched`).
    pub fn observe(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        let mut inner = self.lock();
        let h = inner
            .requests
            .entry((method_label(method), route.to_string(), status))
            .or_default();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if secs <= *bound {
                h.counts[i] += 1;
            }
        }
        h.count += 1;
        h.sum += secs;
    }

    /// The text exposition of every metric; `active` is the number of runs going now and
    /// `extra` more families rendered elsewhere (the engine's counters).
    pub fn render(&self, active: usize, extra: &str) -> String {
        let inner = self.lock();
        let mut out = String::new();
        out.push_str("# HELP arkbridge_runs_total Runs started through the API, by outcome.\n");
        out.push_str("# TYPE arkbridge_runs_total counter\n");
        for outcome in OUTCOMES {
            let n = inner.runs.get(outcome).copied().unwrap_or(0);
            let _ = writeln!(out, "arkbridge_runs_total{{outcome=\"{outcome}\"}} {n}");
        }
        out.push_str("# HELP arkbridge_runs_active Runs started through the API and going now.\n");
        out.push_str("# TYPE arkbridge_runs_active gauge\n");
        let _ = writeln!(out, "arkbridge_runs_active {active}");
        out.push_str("# HELP arkbridge_http_requests_total HTTP requests, by route template.\n");
        out.push_str("# TYPE arkbridge_http_requests_total counter\n");
        for ((method, route, status), h) in &inner.requests {
            let _ = writeln!(
                out,
                "arkbridge_http_requests_total{{method=\"{method}\",route=\"{}\",status=\"{status}\"}} {}",
                escape(route),
                h.count
            );
        }
        out.push_str(
            "# HELP arkbridge_http_request_duration_seconds HTTP request latency, by route template.\n",
        );
        out.push_str("# TYPE arkbridge_http_request_duration_seconds histogram\n");
        for ((method, route, status), h) in &inner.requests {
            let labels = format!(
                "method=\"{method}\",route=\"{}\",status=\"{status}\"",
                escape(route)
            );
            for (i, bound) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "arkbridge_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {}",
                    h.counts[i]
                );
            }
            let _ = writeln!(
                out,
                "arkbridge_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "arkbridge_http_request_duration_seconds_sum{{{labels}}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "arkbridge_http_request_duration_seconds_count{{{labels}}} {}",
                h.count
            );
        }
        out.push_str(extra);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_runs_render_with_fixed_labels() {
        let m = Metrics::default();
        m.observe("GET", "/api/v1/runs/{id}", 404, Duration::from_millis(3));
        m.observe("BREW", "/healthz", 200, Duration::from_secs(20));
        m.run_finished("succeeded");
        m.run_finished("something else");
        let text = m.render(2, "");
        assert!(text.contains("arkbridge_runs_total{outcome=\"succeeded\"} 1"));
        assert!(text.contains("arkbridge_runs_active 2"));
        assert!(text.contains(
            "arkbridge_http_request_duration_seconds_bucket{method=\"GET\",route=\"/api/v1/runs/{id}\",status=\"404\",le=\"0.005\"} 1"
        ));
        assert!(text.contains(
            "arkbridge_http_requests_total{method=\"other\",route=\"/healthz\",status=\"200\"} 1"
        ));
        assert!(text.contains(
            "arkbridge_http_request_duration_seconds_bucket{method=\"other\",route=\"/healthz\",status=\"200\",le=\"10\"} 0"
        ));
        assert!(!text.contains("something else"));
    }
}
