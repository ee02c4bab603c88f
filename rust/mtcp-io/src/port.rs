//! A port queue as a context's engine drives it: the in-memory link by its own type, every
//! other backend through [`PacketIo`].
//!
//! [`PacketIo`] hands frames over through `&mut dyn FnMut` callbacks so that backends can be
//! boxed: one indirect call per frame each way, around code the compiler can't see through.
//! The in-memory link is the port every benchmark and most tests run on, and its per-frame
//! work is a few dozen instructions, so there the indirection costs about as much as the
//! link itself: [`Port::Memory`] calls [`MemoryQueue`]'s generic methods, whose callbacks
//! inline into the engine's receive and transmit loops. Kernel and DPDK backends, whose
//! system calls or descriptor rings cost far more than a call, stay boxed.
use std::sync::Arc;

use crate::memory::MemoryQueue;
use crate::{BurstReceiver, Caps, Notify, PacketIo, PortStats};

/// One queue of a port, matched on by the engine.
// One per context, held in place: boxing the in-memory queue would put back the indirection
// this type removes.
#[allow(clippy::large_enum_variant)]
pub enum Port {
    /// An in-memory link queue: callbacks inlined.
    Memory(MemoryQueue),
    /// Any other backend (TAP, AF_PACKET, AF_XDP, DPDK, the simulator, software steering).
    Boxed(Box<dyn PacketIo>),
}

impl Port {
    /// [`PacketIo::rx_burst`] with a callback the compiler can inline for [`Port::Memory`].
    /// A boxed port is asked [`PacketIo::has_pending`] first, which is cheaper than an empty
    /// burst through the trait object; the in-memory queue asks itself.
    #[inline]
    pub fn rx_burst_with<F: FnMut(&[u8])>(&mut self, max: usize, mut on_frame: F) -> usize {
        match self {
            Port::Memory(q) => q.rx_burst_with(max, on_frame),
            Port::Boxed(io) => {
                if !io.has_pending() {
                    return 0;
                }
                io.rx_burst(max, &mut on_frame)
            }
        }
    }

    /// A burst in two passes ([`BurstReceiver`]): the in-memory link takes the burst off its
    /// ring first and shows it to `look`; a boxed backend lends each frame only for its
    /// callback, so there `handle` alone sees them.
    #[inline]
    pub fn rx_burst_staged<R: BurstReceiver>(&mut self, max: usize, receiver: &mut R) -> usize {
        match self {
            Port::Memory(q) => q.rx_burst_staged(max, receiver),
            Port::Boxed(io) => {
                if !io.has_pending() {
                    return 0;
                }
                let mut index = 0;
                io.rx_burst(max, &mut |frame| {
                    receiver.handle(index, frame);
                    index += 1;
                })
            }
        }
    }

    /// [`PacketIo::tx`] with a callback the compiler can inline for [`Port::Memory`].
    #[inline]
    pub fn tx_with<F: FnMut(&mut [u8]) -> usize>(&mut self, len: usize, mut fill: F) -> bool {
        match self {
            Port::Memory(q) => q.tx_with(len, fill),
            Port::Boxed(io) => io.tx(len, &mut fill),
        }
    }
}

impl From<MemoryQueue> for Port {
    fn from(queue: MemoryQueue) -> Port {
        Port::Memory(queue)
    }
}

impl From<Box<dyn PacketIo>> for Port {
    fn from(io: Box<dyn PacketIo>) -> Port {
        Port::Boxed(io)
    }
}

impl PacketIo for Port {
    fn rx_burst(&mut self, max: usize, on_frame: &mut dyn FnMut(&[u8])) -> usize {
        match self {
            Port::Memory(q) => q.rx_burst_with(max, on_frame),
            Port::Boxed(io) => io.rx_burst(max, on_frame),
        }
    }

    fn tx(&mut self, len: usize, fill: &mut dyn FnMut(&mut [u8]) -> usize) -> bool {
        self.tx_with(len, fill)
    }

    #[inline]
    fn flush(&mut self) {
        match self {
            Port::Memory(q) => q.flush_now(),
            Port::Boxed(io) => io.flush(),
        }
    }

    fn caps(&self) -> Caps {
        match self {
            Port::Memory(q) => q.caps(),
            Port::Boxed(io) => io.caps(),
        }
    }

    fn set_notify(&mut self, notify: Arc<dyn Notify>) {
        match self {
            Port::Memory(q) => q.set_notify(notify),
            Port::Boxed(io) => io.set_notify(notify),
        }
    }

    fn stats(&self) -> PortStats {
        match self {
            Port::Memory(q) => q.stats(),
            Port::Boxed(io) => io.stats(),
        }
    }

    #[inline]
    fn has_pending(&self) -> bool {
        match self {
            Port::Memory(q) => q.has_pending(),
            Port::Boxed(io) => io.has_pending(),
        }
    }
}
