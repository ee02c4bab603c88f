//! Where a context's time comes from: the monotonic clock, or a simulated network's clock.
use mtcp_io::sys::clock::monotonic_micros;
use mtcp_proto::Instant;

#[derive(Clone)]
pub(crate) enum Clock {
    /// Microseconds since the stack started: `CLOCK_MONOTONIC` (the clock of
    /// `std::time::Instant`) read as a plain number, less its reading at the start. Every API
    /// call reads it, and `Instant::elapsed` cost several times the read itself.
    Real { start_us: u64 },
    /// The virtual time of a simulated network.
    Virtual(mtcp_io::sim::SimFabric),
}

impl Clock {
    /// The real clock, starting at 0 now.
    pub(crate) fn real() -> Clock {
        Clock::Real {
            start_us: monotonic_micros(),
        }
    }

    pub(crate) fn now(&self) -> Instant {
        match self {
            Clock::Real { start_us } => {
                Instant::from_micros(monotonic_micros().saturating_sub(*start_us))
            }
            Clock::Virtual(fabric) => Instant::from_micros(fabric.now()),
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn real_clock_starts_near_zero_and_advances() {
        let clock = Clock::real();
        let t0 = clock.now();
        assert!(t0.total_micros() < 1_000_000);
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert!(clock.now().total_micros() >= t0.total_micros() + 5_000);
    }
}
