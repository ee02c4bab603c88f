//! The data path allocates nothing once warmed up: a counting global allocator watches
//! steady-state bursts through the in-memory hub and the simulated fabric. One test only in
//! this binary, so no other test thread allocates meanwhile.
mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use common::*;
use mtcp_io::sim::{Impairments, SimFabric};
use mtcp_io::{memory, PacketIo};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations made by `f`.
fn allocations(mut f: impl FnMut()) -> usize {
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    f();
    ALLOCATIONS.load(Ordering::Relaxed) - before
}

/// Sends 31 unicast frames and one broadcast from `a[0]`, then drains every queue of `b`.
fn round(a: &mut [impl PacketIo], b: &mut [impl PacketIo], unicast: &[u8], broadcast: &[u8]) {
    for _ in 0..31 {
        send(&mut a[0], unicast);
    }
    send(&mut a[0], broadcast);
    a[0].flush();
    for q in b.iter_mut() {
        q.rx_burst(64, &mut |f: &[u8]| {
            std::hint::black_box(f);
        });
    }
}

/// Allocations in `rounds` rounds through a fabric with impairments `imp`, after a warm-up.
fn sim_allocations(imp: Impairments, unicast: &[u8], broadcast: &[u8], rounds: usize) -> usize {
    let fabric = SimFabric::new(1, imp);
    let mut a = fabric.attach(mac(1), 1);
    let mut b = fabric.attach(mac(2), 4);
    let mut step = || {
        round(&mut a, &mut b, unicast, broadcast);
        fabric.advance_to(fabric.now() + 1000);
    };
    (0..1000).for_each(|_| step());
    allocations(|| (0..rounds).for_each(|_| step()))
}

#[test]
fn steady_state_bursts_do_not_allocate() {
    let unicast = tcp_frame(
        mac(2),
        mac(1),
        ([10, 0, 0, 1], 1234),
        ([10, 0, 0, 2], 80),
        &[7; 100],
    );
    let broadcast = arp_frame(mac(1));

    // In-memory hub: unicast to a 4-queue station plus a broadcast (copied to 4 queues).
    let mut a = memory::attach("alloc-hub", mac(1), 1, 1500).unwrap();
    let mut b = memory::attach("alloc-hub", mac(2), 4, 1500).unwrap();
    (0..1000).for_each(|_| round(&mut a, &mut b, &unicast, &broadcast));
    let n = allocations(|| (0..2000).for_each(|_| round(&mut a, &mut b, &unicast, &broadcast)));
    assert_eq!(n, 0, "memory hub");

    // Simulated fabric, deterministic settings (delay and a bottleneck).
    let plain = Impairments {
        rate_bps: Some(1_000_000_000),
        ..Default::default()
    };
    assert_eq!(sim_allocations(plain, &unicast, &broadcast, 2000), 0, "sim");

    // With random impairments the number of frames in flight at once keeps finding (ever
    // rarer) new highs, each costing a buffer; never anything like one per frame.
    let noisy = Impairments {
        loss: 0.05,
        reorder: 0.05,
        duplicate: 0.05,
        corrupt: 0.05,
        jitter_us: 10,
        rate_bps: Some(1_000_000_000),
        ..Default::default()
    };
    let n = sim_allocations(noisy, &unicast, &broadcast, 2000);
    assert!(
        n < 2000 * 32 / 1000,
        "sim with impairments: {n} allocations"
    );
}
