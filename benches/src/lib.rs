//! What the benchmark binaries share.

pub use tests::rss_kib;

/// `samples` summed up as "N <what>, <measure> p50 … ms, p99 … ms, max … ms" (nearest rank).
pub fn latency_line(what: &str, measure: &str, mut samples: Vec<std::time::Duration>) -> String {
    if samples.is_empty() {
        return format!("0 {what}");
    }
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
    format!(
        "{} {what}, {measure} p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        samples.len(),
        ms(at(0.5)),
        ms(at(0.99)),
        ms(samples[samples.len() - 1]),
    )
}
