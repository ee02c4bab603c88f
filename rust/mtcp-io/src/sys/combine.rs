//! A value that one thread at a time works on, with no lock: the engine of a threaded context,
//! shared by its loop thread and the application threads that call the API.
//!
//! [`Combiner::with`] runs an operation on the value. A thread that finds the value free takes
//! it with one compare-and-swap, runs its operation in its own thread and lets go (the
//! uncontended case costs what an uncontended mutex costs). A thread that finds it taken
//! never waits for it to be free: it pushes its operation onto a lock-free list (Treiber's
//! stack, one compare-and-swap) and the thread working on the value runs it, oldest first,
//! before it lets go, then hands the answer back (flat combining; Hendler, Incze, Shavit and
//! Tzafrir, SPAA 2010). The only wait is for one's own answer, and it is bounded by what the
//! current owner has left to do: there is no lock to be handed over, no convoy, and a busy
//! owner serves every waiting caller in one pass.
//!
//! One word holds both the owner flag and the list: null when free, [`Combiner::owned`] when
//! taken with nothing queued, else the newest queued request (taken). Requests live on their
//! callers' stacks and borrow their buffers: a caller does not return before its request is
//! done, and the owner touches a request no more once it has marked it done. No allocation.
//!
//! A panicking operation behaves as it would under a mutex whose poisoning is ignored: the
//! panic goes to the thread that asked for the operation (resumed there when another thread
//! ran it), and the value stays usable.
use std::cell::UnsafeCell;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::ptr;
use std::sync::atomic::{AtomicPtr, AtomicU8, Ordering};
use std::thread::{self, Thread};

const PENDING: u8 = 0;
const DONE: u8 = 1;
const PANICKED: u8 = 2;

/// Polls of the answer before a waiting caller yields its CPU: about the time an owner on
/// another CPU takes to finish a short call (a round trip between two cores is 0.1–0.3 µs on
/// the machines this was measured on).
const SPINS: u32 = 128;
/// `yield_now`s before the caller parks: with fewer CPUs than threads the owner may need the
/// caller's CPU to finish.
const YIELDS: u32 = 8;

/// The operation of one request, its lifetime erased (see [`Combiner::with`]).
type Run<T> = *mut (dyn FnMut(&mut T) + Send + 'static);

/// One queued request, on its caller's stack.
struct Request<T> {
    /// The request queued before this one (written before the push, read by the owner only).
    next: *mut Request<T>,
    run: Run<T>,
    state: AtomicU8,
    waiter: Thread,
}

/// A `T` worked on by one thread at a time (see the [module docs](self)).
pub struct Combiner<T> {
    /// Null: free. [`Combiner::owned`]: taken, nothing queued. Else: taken, and the newest
    /// queued request.
    state: AtomicPtr<Request<T>>,
    value: UnsafeCell<T>,
}

// SAFETY: the value is reached only by the thread that holds the `state` word (taken with an
// Acquire compare-and-swap, given back with a Release one), so it moves between threads like
// the contents of a mutex: `T: Send` is what that needs. Queued requests are `Send`
// operations on the value whose callers wait until they are done.
unsafe impl<T: Send> Sync for Combiner<T> {}
// SAFETY: as above; the raw request pointers are only non-null while their callers wait.
unsafe impl<T: Send> Send for Combiner<T> {}

/// Gives the value back when the owner's own operation ends, even by a panic: serves what was
/// queued meanwhile first.
struct Release<'a, T> {
    combiner: &'a Combiner<T>,
}

impl<T> Drop for Release<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.combiner.release();
    }
}

impl<T> Combiner<T> {
    /// A combiner holding `value`.
    pub fn new(value: T) -> Combiner<T> {
        Combiner {
            state: AtomicPtr::new(ptr::null_mut()),
            value: UnsafeCell::new(value),
        }
    }

    /// The state word of a value taken with nothing queued: an address no request can have.
    fn owned() -> *mut Request<T> {
        ptr::dangling_mut()
    }

    /// Runs `f` on the value, in this thread when the value is free, else in the thread that
    /// holds it; returns `f`'s answer once it has run. A panic in `f` resumes here. Must not be
    /// called from inside another `with` on the same combiner (the caller would wait for
    /// itself).
    pub fn with<R: Send>(&self, f: impl FnOnce(&mut T) -> R + Send) -> R {
        if self.try_take() {
            return self.run_owned(f);
        }
        self.with_contended(f)
    }

    /// Runs `f` on the value if it is free, in this thread; `None` (and `f` not run) when
    /// another thread holds it. For a thread whose work the holder does anyway, or that can come
    /// back later: a queued operation keeps its holder from returning to its own caller.
    pub fn try_with<R>(&self, f: impl FnOnce(&mut T) -> R) -> Option<R> {
        self.try_take().then(|| self.run_owned(f))
    }

    /// Runs `f` on the value, which this thread holds, then gives the value back.
    fn run_owned<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        let _release = Release { combiner: self };
        // SAFETY: this thread took the state word from null: no other thread reaches the
        // value until `release` gives the word back.
        f(unsafe { &mut *self.value.get() })
    }

    #[cold]
    fn with_contended<R: Send>(&self, f: impl FnOnce(&mut T) -> R + Send) -> R {
        let mut f = Some(f);
        let mut answer: Option<R> = None;
        let mut run = |value: &mut T| {
            if let Some(f) = f.take() {
                answer = Some(f(value));
            }
        };
        let run: *mut (dyn FnMut(&mut T) + Send + '_) = &mut run;
        // SAFETY: only the lifetime changes. The owner calls `run` before it marks the request
        // done and never after; this function does not return (nor unwind: nothing between
        // the push and the end of the wait panics) until the request is done or was never
        // pushed, so `run` and what it borrows outlive every use of the pointer.
        let run: Run<T> = unsafe { std::mem::transmute(run) };
        let mut request = Request {
            next: ptr::null_mut(),
            run,
            state: AtomicU8::new(PENDING),
            waiter: thread::current(),
        };
        let mine: *mut Request<T> = &mut request;
        let mut seen = self.state.load(Ordering::Relaxed);
        loop {
            if seen.is_null() {
                // Freed meanwhile: take it and run the operation here.
                match self.state.compare_exchange_weak(
                    seen,
                    Self::owned(),
                    Ordering::Acquire,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        let run = request.run;
                        // SAFETY: the request was never pushed: `run` is this frame's closure,
                        // called once, here, on the value this thread now holds. `answer` is
                        // read only after that call (the closure holds its borrow until then).
                        self.run_owned(|value| unsafe { (*run)(value) });
                        return answer.take().expect("the operation ran");
                    }
                    Err(now) => {
                        seen = now;
                        continue;
                    }
                }
            }
            let next = if seen == Self::owned() {
                ptr::null_mut()
            } else {
                seen
            };
            // SAFETY: `mine` is this frame's request, not yet shared.
            unsafe { (*mine).next = next };
            match self
                .state
                .compare_exchange_weak(seen, mine, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => break,
                Err(now) => seen = now,
            }
        }
        let mut polls = 0u32;
        let state = loop {
            // SAFETY: the request lives in this frame; the owner only reads it and stores
            // `state` (atomic), and only until it stores a final state.
            let state = unsafe { (*mine).state.load(Ordering::Acquire) };
            if state != PENDING {
                break state;
            }
            polls += 1;
            if polls < SPINS {
                std::hint::spin_loop();
            } else if polls < SPINS + YIELDS {
                thread::yield_now();
            } else {
                // The owner unparks after it stores the final state; a wake-up without one
                // (spurious, or a token left from earlier) just loops.
                thread::park();
            }
        };
        if state == PANICKED {
            resume_unwind(Box::new(
                "mtcp: an operation panicked in the thread that ran it for this one",
            ));
        }
        answer.expect("a served request has its answer")
    }

    /// Gives the value back: first serves every request queued while it was held (and those
    /// queued while serving), oldest first. The usual case, nothing queued, is one
    /// compare-and-swap inline; serving is out of line, so the owner's call site saves no
    /// registers for it.
    #[inline]
    fn release(&self) {
        if !self.try_let_go() {
            self.release_contended();
        }
    }

    /// Takes the free value (null to owned, one compare-and-swap); false when it is held.
    #[inline]
    fn try_take(&self) -> bool {
        self.state
            .compare_exchange(
                ptr::null_mut(),
                Self::owned(),
                Ordering::Acquire,
                Ordering::Relaxed,
            )
            .is_ok()
    }

    /// Gives the value back when nothing was queued meanwhile (owned to null); false when
    /// requests wait.
    #[inline]
    fn try_let_go(&self) -> bool {
        self.state
            .compare_exchange(
                Self::owned(),
                ptr::null_mut(),
                Ordering::Release,
                Ordering::Relaxed,
            )
            .is_ok()
    }

    /// `release` when requests were queued meanwhile.
    #[cold]
    #[inline(never)]
    fn release_contended(&self) {
        loop {
            // Requests are queued: take the whole list, keep the value.
            let head = self.state.swap(Self::owned(), Ordering::AcqRel);
            // SAFETY: the list was taken whole; its callers wait for it, and this thread still
            // holds the value.
            unsafe { self.serve(head) };
            if self.try_let_go() {
                return;
            }
        }
    }

    /// Runs the requests of a taken list, oldest first, and hands each answer back.
    ///
    /// # Safety
    /// `head` is a list taken from the state word by the thread that holds the value.
    unsafe fn serve(&self, head: *mut Request<T>) {
        let mut oldest_first = ptr::null_mut::<Request<T>>();
        let mut node = head;
        while !node.is_null() && node != Self::owned() {
            // SAFETY: a waiting request; `next` is ours to rewrite now.
            let next = unsafe { (*node).next };
            unsafe { (*node).next = oldest_first };
            oldest_first = node;
            node = next;
        }
        let mut node = oldest_first;
        while !node.is_null() {
            // SAFETY: still waiting: read all we need before the final state lets the caller
            // return and its frame go.
            let (next, run, waiter) =
                unsafe { ((*node).next, (*node).run, (*node).waiter.clone()) };
            // SAFETY: `run` is the waiting caller's operation, called once, here; this thread
            // holds the value.
            let outcome = catch_unwind(AssertUnwindSafe(|| unsafe {
                (*run)(&mut *self.value.get())
            }));
            let state = if outcome.is_ok() { DONE } else { PANICKED };
            // SAFETY: as above; after this store the request is not touched again.
            unsafe { (*node).state.store(state, Ordering::Release) };
            waiter.unpark();
            node = next;
        }
    }

    /// The value, for a caller that has it to itself.
    pub fn get_mut(&mut self) -> &mut T {
        self.value.get_mut()
    }
}

impl<T> std::fmt::Debug for Combiner<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.state.load(Ordering::Relaxed);
        f.debug_struct("Combiner")
            .field("taken", &!state.is_null())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn runs_in_the_callers_thread_when_free() {
        let c = Combiner::new(Vec::new());
        let me = thread::current().id();
        let ran_on = c.with(|v| {
            v.push(1);
            thread::current().id()
        });
        assert_eq!(ran_on, me);
        assert_eq!(c.with(|v| v.clone()), vec![1]);
    }

    #[test]
    fn try_with_runs_only_on_a_free_value() {
        let c = Combiner::new(1u32);
        assert_eq!(c.try_with(|v| *v + 1), Some(2));
        let inner = c.with(|_| c.try_with(|v| *v));
        assert_eq!(inner, None);
    }

    #[test]
    fn no_update_is_lost_or_doubled_under_contention() {
        // Four threads on (here) two CPUs, each adding its own numbers; a lost, doubled or
        // torn update shows in the sum, the count or the per-thread order.
        const PER_THREAD: u64 = if cfg!(miri) { 200 } else { 20_000 };
        let c = Arc::new(Combiner::new((0u64, 0u64, [0u64; 4])));
        let threads: Vec<_> = (0..4u64)
            .map(|t| {
                let c = Arc::clone(&c);
                thread::spawn(move || {
                    for i in 1..=PER_THREAD {
                        let ok = c.with(move |(sum, count, last)| {
                            *sum += i;
                            *count += 1;
                            // Each thread's operations run in its order.
                            let in_order = last[t as usize] + 1 == i;
                            last[t as usize] = i;
                            in_order
                        });
                        assert!(ok, "thread {t}: operation {i} ran out of order");
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let (sum, count, last) = c.with(|v| *v);
        assert_eq!(count, 4 * PER_THREAD);
        assert_eq!(sum, 4 * PER_THREAD * (PER_THREAD + 1) / 2);
        assert_eq!(last, [PER_THREAD; 4]);
    }

    #[test]
    fn a_busy_owner_runs_queued_operations_for_their_callers() {
        // The owner holds the value until three other threads have queued; it runs their
        // operations before it lets go, each caller gets its own answer.
        let c = Arc::new(Combiner::new(0u32));
        let queued = Arc::new(std::sync::atomic::AtomicU32::new(0));
        let owner = {
            let c = Arc::clone(&c);
            let queued = Arc::clone(&queued);
            thread::spawn(move || {
                c.with(|v| {
                    *v += 100;
                    // Wait (bounded) for the others to queue behind us.
                    let start = std::time::Instant::now();
                    while start.elapsed() < std::time::Duration::from_secs(5)
                        && !queue_len_at_least(&c, 3)
                    {
                        thread::yield_now();
                    }
                    queued.store(1, Ordering::SeqCst);
                })
            })
        };
        while c.state.load(Ordering::SeqCst).is_null() {
            thread::yield_now();
        }
        let callers: Vec<_> = (1..=3u32)
            .map(|k| {
                let c = Arc::clone(&c);
                thread::spawn(move || {
                    c.with(move |v| {
                        *v += k;
                        (thread::current().id(), *v)
                    })
                })
            })
            .collect();
        let answers: Vec<_> = callers.into_iter().map(|h| h.join().unwrap()).collect();
        let owner_id = owner.thread().id();
        owner.join().unwrap();
        assert_eq!(queued.load(Ordering::SeqCst), 1);
        // Every queued operation ran in the owner's thread.
        assert!(answers.iter().all(|(id, _)| *id == owner_id));
        let mut totals: Vec<u32> = answers.iter().map(|(_, v)| *v).collect();
        totals.sort();
        assert_eq!(*totals.last().unwrap(), 106);
        assert_eq!(c.with(|v| *v), 106);
    }

    fn queue_len_at_least<T>(c: &Combiner<T>, n: usize) -> bool {
        // Only for the test: the list is stable while the owner (this thread) holds the value,
        // except for pushes in front of it.
        let mut node = c.state.load(Ordering::Acquire);
        let mut len = 0;
        while !node.is_null() && node != Combiner::<T>::owned() {
            len += 1;
            // SAFETY: queued requests wait until the owner (the caller) serves them.
            node = unsafe { (*node).next };
        }
        len >= n
    }

    #[test]
    fn a_panic_reaches_the_caller_and_the_value_stays_usable() {
        const ROUNDS: usize = if cfg!(miri) { 50 } else { 2_000 };
        let c = Arc::new(Combiner::new(0u32));
        let r = catch_unwind(AssertUnwindSafe(|| c.with(|_| panic!("boom"))));
        assert!(r.is_err());
        assert_eq!(c.with(|v| *v + 1), 1);
        // A panic in an operation another thread runs reaches its caller, not the runner.
        let outcomes: Vec<_> = (0..4)
            .map(|t| {
                let c = Arc::clone(&c);
                thread::spawn(move || {
                    (0..ROUNDS).fold(0, |panics, i| {
                        let r = catch_unwind(AssertUnwindSafe(|| {
                            c.with(move |v| {
                                if (i + t) % 7 == 0 {
                                    panic!("operation {i} of thread {t}");
                                }
                                *v += 1;
                            })
                        }));
                        panics + usize::from(r.is_err())
                    })
                })
            })
            .map(|h| h.join().unwrap())
            .collect();
        let expected_panics: usize = (0..4)
            .map(|t| (0..ROUNDS).filter(|i| (i + t) % 7 == 0).count())
            .sum();
        assert_eq!(outcomes.iter().sum::<usize>(), expected_panics);
        assert_eq!(c.with(|v| *v) as usize, 4 * ROUNDS - expected_panics);
    }
}
