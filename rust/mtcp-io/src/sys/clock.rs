//! The monotonic clock as a plain count of microseconds.
//!
//! `std::time::Instant` gives the same clock (`CLOCK_MONOTONIC`), but only as an opaque value:
//! turning it into a number goes through `elapsed()`'s checked subtraction and a `u128`
//! conversion, which cost several times the clock read itself on a path that reads the time
//! on every API call.

/// Microseconds on `CLOCK_MONOTONIC` (the clock of `std::time::Instant`), from an arbitrary
/// origin; never decreases.
pub fn monotonic_micros() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC always exists on Linux, so
    // the call cannot fail (and on failure `ts` stays zeroed, a valid value).
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as u64) * 1_000_000 + (ts.tv_nsec as u64) / 1_000
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn follows_std_instant() {
        let (a, std_a) = (monotonic_micros(), std::time::Instant::now());
        std::thread::sleep(std::time::Duration::from_millis(20));
        let (b, std_b) = (monotonic_micros(), std::time::Instant::now());
        let ours = b - a;
        let theirs = (std_b - std_a).as_micros() as u64;
        assert!(ours >= 20_000);
        assert!(ours.abs_diff(theirs) < 1_000, "{ours} vs {theirs}");
    }
}
