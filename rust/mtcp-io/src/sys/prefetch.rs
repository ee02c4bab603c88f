//! Software prefetch: asks the CPU to start loading a value's cache lines before the code that
//! reads them runs, so independent misses (one per connection of a receive burst) overlap
//! instead of each stalling in turn. A hint only: it never faults and changes no value, so it
//! cannot change behaviour, only timing. A no-op where there is no prefetch instruction.

/// Bytes of a cache line on the CPUs mtcp runs on (x86-64, most AArch64).
pub const CACHE_LINE: usize = 64;

/// Starts loading the cache lines of `value` (its first `max_bytes` bytes at most) into the
/// first-level cache.
#[inline(always)]
pub fn prefetch_value<T: ?Sized>(value: &T, max_bytes: usize) {
    let len = std::mem::size_of_val(value).min(max_bytes);
    if len == 0 {
        return;
    }
    let start = (value as *const T).cast::<u8>();
    // Every line from the one holding the first byte to the one holding the last.
    let skew = start as usize % CACHE_LINE;
    let mut offset = 0;
    while offset < skew + len {
        prefetch_line(start.wrapping_sub(skew).wrapping_add(offset));
        offset += CACHE_LINE;
    }
}

/// Starts loading the cache line holding `addr` into the first-level cache.
#[inline(always)]
pub fn prefetch_line(addr: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: PREFETCHT0 is in SSE, which every x86-64 CPU has; it is a hint that does not
    // access memory architecturally (no fault, no effect on any value), so any address,
    // even a dangling or unmapped one, is allowed.
    #[allow(unused_unsafe)]
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(addr.cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = addr;
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn prefetching_changes_no_value() {
        let values = vec![7u64; 1000];
        prefetch_value(&values[..], 8000);
        for v in &values {
            prefetch_value(v, usize::MAX);
        }
        prefetch_line(std::ptr::null());
        prefetch_line(usize::MAX as *const u8);
        assert!(values.iter().all(|&v| v == 7));
    }
}
