//! The standard process metrics (`process_cpu_seconds_total`, memory, open descriptors, start time),
//! read from `/proc/self` at each scrape.

use std::sync::atomic::AtomicU64;
use std::sync::Mutex;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::FloatGauge;

pub(crate) struct ProcessMetrics {
    cpu_seconds: Counter<f64, AtomicU64>,
    cpu_seen: Mutex<f64>,
    resident_bytes: Gauge,
    virtual_bytes: Gauge,
    open_fds: Gauge,
    start_time: FloatGauge,
}

/// What `/proc/self/stat` and friends say now.
struct Sample {
    cpu_seconds: f64,
    resident_bytes: i64,
    virtual_bytes: i64,
    open_fds: i64,
    start_time_seconds: f64,
}

fn sample() -> Option<Sample> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces), from field 3 on.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let field = |n: usize| -> Option<f64> { fields.get(n - 3)?.parse().ok() };
    // SAFETY: sysconf has no preconditions.
    let (ticks, page) = unsafe { (libc::sysconf(libc::_SC_CLK_TCK), libc::sysconf(libc::_SC_PAGESIZE)) };
    let ticks = if ticks > 0 { ticks as f64 } else { 100.0 };
    let boot: f64 = std::fs::read_to_string("/proc/stat")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("btime ").and_then(|v| v.trim().parse().ok()))?;
    Some(Sample {
        cpu_seconds: (field(14)? + field(15)?) / ticks,
        virtual_bytes: field(23)? as i64,
        resident_bytes: field(24)? as i64 * page.max(1),
        open_fds: std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count() as i64),
        start_time_seconds: boot + field(22)? / ticks,
    })
}

impl ProcessMetrics {
    pub(crate) fn register(registry: &mut Registry) -> ProcessMetrics {
        let m = ProcessMetrics {
            cpu_seconds: Counter::default(),
            cpu_seen: Mutex::new(0.0),
            resident_bytes: Gauge::default(),
            virtual_bytes: Gauge::default(),
            open_fds: Gauge::default(),
            start_time: FloatGauge::default(),
        };
        registry.register("process_cpu_seconds", "User and system CPU time spent, seconds", m.cpu_seconds.clone());
        registry.register("process_resident_memory_bytes", "Resident memory size, bytes", m.resident_bytes.clone());
        registry.register("process_virtual_memory_bytes", "Virtual memory size, bytes", m.virtual_bytes.clone());
        registry.register("process_open_fds", "Open file descriptors", m.open_fds.clone());
        registry.register(
            "process_start_time_seconds",
            "Start time since the unix epoch, seconds",
            m.start_time.clone(),
        );
        m.refresh();
        m
    }

    pub(crate) fn refresh(&self) {
        let Some(s) = sample() else { return };
        let mut seen = self.cpu_seen.lock().unwrap_or_else(|p| p.into_inner());
        if s.cpu_seconds > *seen {
            self.cpu_seconds.inc_by(s.cpu_seconds - *seen);
            *seen = s.cpu_seconds;
        }
        self.resident_bytes.set(s.resident_bytes);
        self.virtual_bytes.set(s.virtual_bytes);
        self.open_fds.set(s.open_fds);
        self.start_time.set(s.start_time_seconds);
    }
}
