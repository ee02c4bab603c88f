//! Where a context's time comes from: the monotonic clock, or a simulated network's clock.
use mtcp_proto::Instant;

#[derive(Clone)]
pub(crate) enum Clock {
    /// Microseconds since the stack started.
    Real(std::time::Instant),
    /// The virtual time of a simulated network.
    Virtual(mtcp_io::sim::SimFabric),
}

impl Clock {
    pub(crate) fn now(&self) -> Instant {
        match self {
            Clock::Real(base) => Instant::from_micros(base.elapsed().as_micros() as u64),
            Clock::Virtual(fabric) => Instant::from_micros(fabric.now()),
        }
    }
}
