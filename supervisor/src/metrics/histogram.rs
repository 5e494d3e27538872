//! A histogram of durations with fixed buckets and atomic counts.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::exposition::{format_float, MetricType, Writer};

/// Upper bounds of the step duration buckets, in seconds. They span a bare
/// worker start (milliseconds) to long plugin runs (an hour); slower steps
/// land only in `+Inf`.
pub const STEP_DURATION_BUCKETS: [f64; 18] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0,
    1800.0, 3600.0,
];

/// Counts observations per bucket and their sum.
#[derive(Debug)]
pub(crate) struct Histogram {
    bounds: &'static [f64],
    /// Observations per bucket, not cumulative; the last entry is `+Inf`.
    counts: Vec<AtomicU64>,
    /// Sum of all observations in nanoseconds, which stays exact; it wraps
    /// only after about 584 years of summed step time.
    sum_nanos: AtomicU64,
}

impl Histogram {
    /// Creates a histogram with the given upper bounds, in increasing order.
    pub fn new(bounds: &'static [f64]) -> Self {
        Self {
            bounds,
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_nanos: AtomicU64::new(0),
        }
    }

    /// Records one duration.
    pub fn observe(&self, duration: Duration) {
        let seconds = duration.as_secs_f64();
        let index = self
            .bounds
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(self.bounds.len());
        if let Some(count) = self.counts.get(index) {
            count.fetch_add(1, Ordering::Relaxed);
        }
        let nanos = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// Writes the family: cumulative `_bucket` lines, `_sum` and `_count`.
    /// The count is the `+Inf` bucket, so the two always agree even while
    /// other threads observe.
    pub fn render(&self, writer: &mut Writer, name: &str, help: &str) {
        writer.family(name, help, MetricType::Histogram);
        let bucket_name = format!("{name}_bucket");
        let mut cumulative = 0u64;
        for (index, count) in self.counts.iter().enumerate() {
            cumulative += count.load(Ordering::Relaxed);
            let bound = self.bounds.get(index).copied().unwrap_or(f64::INFINITY);
            writer.sample(&bucket_name, &[("le", &format_float(bound))], cumulative);
        }
        let sum_seconds = self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        writer.sample(&format!("{name}_sum"), &[], sum_seconds);
        writer.sample(&format!("{name}_count"), &[], cumulative);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_increase() {
        for pair in STEP_DURATION_BUCKETS.windows(2) {
            assert!(pair[0] < pair[1], "{} >= {}", pair[0], pair[1]);
        }
    }

    #[test]
    fn bound_is_inclusive() {
        let histogram = Histogram::new(&STEP_DURATION_BUCKETS);
        histogram.observe(Duration::from_millis(5));
        assert_eq!(histogram.counts[0].load(Ordering::Relaxed), 1);
    }

    #[test]
    fn slow_step_lands_in_inf() {
        let histogram = Histogram::new(&STEP_DURATION_BUCKETS);
        histogram.observe(Duration::from_secs(7200));
        let last = histogram.counts.len() - 1;
        assert_eq!(histogram.counts[last].load(Ordering::Relaxed), 1);
        assert_eq!(histogram.counts[last - 1].load(Ordering::Relaxed), 0);
    }
}
