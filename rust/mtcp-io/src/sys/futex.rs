//! Linux futexes on an [`AtomicU32`]: sleep while a word holds a value, wake its sleepers.
//! The building block for waits that take no lock (`futex(2)`; the kernel compares the word
//! and queues the sleeper atomically, so a wake-up after the compare is never lost).
use std::sync::atomic::AtomicU32;
use std::time::Duration;

/// Sleeps while `word` holds `expected`, at most `timeout`. Returns at once if it does not;
/// may also return early (a wake-up for an earlier value, a signal): callers re-check.
pub fn wait(word: &AtomicU32, expected: u32, timeout: Duration) {
    let ts = libc::timespec {
        tv_sec: timeout.as_secs().min(i64::MAX as u64) as libc::time_t,
        tv_nsec: timeout.subsec_nanos() as libc::c_long,
    };
    // SAFETY: `word` is a live, aligned u32 (AtomicU32 has u32's layout) for the whole call;
    // the kernel only reads it. `ts` lives on this frame for the call. FUTEX_WAIT ignores the
    // last two arguments. The result (0, EAGAIN, ETIMEDOUT, EINTR) needs no handling: every
    // caller re-checks what it waits for.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
            expected,
            &ts as *const libc::timespec,
            std::ptr::null::<u32>(),
            0u32,
        );
    }
}

/// Wakes every thread sleeping in [`wait`] on `word`.
pub fn wake_all(word: &AtomicU32) {
    // SAFETY: `word` is a live, aligned u32; FUTEX_WAKE does not dereference the other
    // pointer arguments, and only uses the address of `word` as the queue's key.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
            i32::MAX,
            std::ptr::null::<libc::timespec>(),
            std::ptr::null::<u32>(),
            0u32,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;
    use std::sync::Arc;
    use std::time::Instant;

    #[test]
    fn wait_returns_at_once_when_the_word_differs() {
        let word = AtomicU32::new(1);
        let t = Instant::now();
        wait(&word, 0, Duration::from_secs(5));
        assert!(t.elapsed() < Duration::from_secs(1));
    }

    #[test]
    fn wait_times_out_when_nobody_wakes() {
        let word = AtomicU32::new(0);
        let t = Instant::now();
        wait(&word, 0, Duration::from_millis(30));
        assert!(t.elapsed() >= Duration::from_millis(25));
    }

    #[test]
    fn wake_all_ends_every_sleeper() {
        let word = Arc::new(AtomicU32::new(0));
        let sleepers: Vec<_> = (0..3)
            .map(|_| {
                let w = Arc::clone(&word);
                std::thread::spawn(move || {
                    let t = Instant::now();
                    while w.load(Ordering::SeqCst) == 0 {
                        wait(&w, 0, Duration::from_secs(10));
                    }
                    t.elapsed()
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(20));
        word.store(1, Ordering::SeqCst);
        wake_all(&word);
        for s in sleepers {
            assert!(s.join().unwrap() < Duration::from_secs(5));
        }
    }
}
