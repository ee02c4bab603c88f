//! A simulated Ethernet segment with a virtual clock (time in microseconds, supplied by the
//! driver), seeded impairments and pcap capture.
//!
//! CONTRACT: `Impairments` fields, `SimFabric::{new, attach, now, next_event, advance_to,
//! configure, impairments, capture}` and `SimPort: PacketIo` are used by the runtime; the
//! bodies are the io helper's to write.

/// What the wire does to frames. Rates are probabilities in 0.0–1.0, applied per frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Impairments {
    /// Probability a frame is lost.
    pub loss: f64,
    /// Probability a frame is held back and delivered after later frames.
    pub reorder: f64,
    /// Probability a frame is delivered twice.
    pub duplicate: f64,
    /// Probability one byte of a frame is flipped.
    pub corrupt: f64,
    /// One-way propagation delay in microseconds.
    pub delay_us: u64,
    /// Uniform random extra delay in 0..=jitter_us microseconds (does not reorder by itself).
    pub jitter_us: u64,
    /// Bottleneck rate per direction in bits/s; `None` = unlimited.
    pub rate_bps: Option<u64>,
    /// Bytes the bottleneck queue holds before it drops (tail drop).
    pub queue_bytes: usize,
    /// IP MTU of the segment; larger frames are dropped.
    pub mtu: usize,
}

impl Default for Impairments {
    fn default() -> Self {
        Impairments {
            loss: 0.0,
            reorder: 0.0,
            duplicate: 0.0,
            corrupt: 0.0,
            delay_us: 50,
            jitter_us: 0,
            rate_bps: None,
            queue_bytes: 256 * 1024,
            mtu: 1500,
        }
    }
}
