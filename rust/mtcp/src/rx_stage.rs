//! A receive burst in stages (mTCP's and IX's batching): every frame's flow is looked up and
//! its state prefetched before the burst is handled, so the cache misses of a burst's
//! connections overlap instead of stalling one after another. With 100 k connections a
//! connection's TCB, flow-table entry and socket are all cold when its next segment arrives
//! (its state alone is far larger than the L3 cache); with a few hundred they stay cached and
//! this changes nothing but a few instructions.
//!
//! Only hints: the look-ahead reads the flow map and a flow's owner, prefetches, and changes
//! nothing. Every frame is still handled by `Core::handle_frame`, in arrival order.
use std::net::{Ipv4Addr, SocketAddrV4};

use mtcp_io::{BurstReceiver, BURST};
use mtcp_proto::Instant;

use crate::engine::{Core, Owner};
use crate::flow_table::{FlowId, FlowKey};

/// How many frames ahead of the one being handled a flow's state is prefetched whole: far
/// enough for a DRAM access to finish while the frames between are handled, near enough
/// that the lines are still in L1/L2 when the frame comes.
const AHEAD: usize = 4;

/// Bytes of a flow slot prefetched when the burst is looked at (its generation, the flow's
/// first lines), the rest `AHEAD` frames before the flow is handled.
const LOOK_BYTES: usize = 128;

/// What `look` found for each frame of a burst, kept in the engine between bursts so a poll
/// does not clear it each time.
pub(crate) struct Lookahead {
    /// The flow of each frame of the burst that `look` found one for.
    flows: [Option<FlowId>; BURST],
    /// Frames of this burst looked at (0 when the burst was not staged, and between bursts).
    looked: usize,
}

impl Default for Lookahead {
    fn default() -> Lookahead {
        Lookahead {
            flows: [None; BURST],
            looked: 0,
        }
    }
}

/// Live flows below which a burst is not looked at: their state (a flow slot of about 1.5 KB,
/// the socket, the buffers' first lines: some 4 KB a connection) fits the 1 MiB L2 cache of
/// one core, so there is no miss to start early and the look would only cost instructions.
/// Debug and test builds look at every burst of more than one frame (with any flow open), so
/// the tests run the staged path.
const STAGE_MIN_FLOWS: usize = if cfg!(debug_assertions) { 1 } else { 256 };

/// The engine's side of a staged burst.
pub(crate) struct StagedRx<'a> {
    core: &'a mut Core,
    now: Instant,
    ahead: &'a mut Lookahead,
}

impl<'a> StagedRx<'a> {
    pub(crate) fn new(core: &'a mut Core, now: Instant, ahead: &'a mut Lookahead) -> StagedRx<'a> {
        StagedRx { core, now, ahead }
    }

    /// The flow `look` found for frame `index` of the burst, if it looked that far.
    #[inline]
    fn looked_flow(&self, index: usize) -> Option<FlowId> {
        if index >= self.ahead.looked {
            return None;
        }
        self.ahead.flows[index]
    }

    /// Prefetches all of the flow of frame `index` of the burst.
    #[inline]
    fn prefetch_flow(&self, index: usize) {
        if let Some(fid) = self.looked_flow(index) {
            self.core.flows.prefetch(fid.index, usize::MAX);
        }
    }

    /// Prefetches the owner socket of frame `index`'s flow (whose first lines `look`
    /// prefetched a while ago).
    #[inline]
    fn prefetch_owner(&self, index: usize) {
        let Some(fid) = self.looked_flow(index) else {
            return;
        };
        if let Some(flow) = self.core.flows.get(fid) {
            if let Owner::Socket(s) | Owner::Pending(s) = flow.owner {
                self.core.sockets.prefetch(s as u32);
            }
        }
    }
}

impl BurstReceiver for StagedRx<'_> {
    #[inline]
    fn wants_look(&self) -> bool {
        self.core.flows.len() >= STAGE_MIN_FLOWS
    }

    #[inline]
    fn look(&mut self, index: usize, frame: &[u8]) {
        let Some(slot) = self.ahead.flows.get_mut(index) else {
            return;
        };
        *slot = peek_flow_key(frame).and_then(|key| self.core.flow_map.get(&key).copied());
        self.ahead.looked = index + 1;
        if let Some(fid) = *slot {
            self.core.flows.prefetch(fid.index, LOOK_BYTES);
        }
    }

    #[inline]
    fn handle(&mut self, index: usize, frame: &[u8]) {
        if self.ahead.looked != 0 {
            self.prefetch_ahead(index);
        }
        self.core.handle_frame(self.now, frame);
    }
}

impl StagedRx<'_> {
    /// Before frame `index` of a looked-at burst is handled: the flows of the frames
    /// `AHEAD` on (all of them before the first frame), the owner of the next frame's flow.
    /// After the last frame looked at, the burst's hints are done with.
    #[inline(never)]
    fn prefetch_ahead(&mut self, index: usize) {
        if index == 0 {
            for ahead in 0..AHEAD {
                self.prefetch_flow(ahead);
            }
        }
        self.prefetch_flow(index + AHEAD);
        self.prefetch_owner(index + 1);
        if index + 1 >= self.ahead.looked {
            self.ahead.looked = 0;
        }
    }
}

/// The flow key of a TCP/IPv4 frame, read from fixed places without any check but the
/// lengths (only a hint: `handle_frame` checks the frame before anything uses it).
#[inline]
fn peek_flow_key(frame: &[u8]) -> Option<FlowKey> {
    const ETH: usize = 14;
    let ip_len = usize::from(*frame.get(ETH)? & 0x0f) * 4;
    let tcp = frame.get(ETH + ip_len..ETH + ip_len + 4)?;
    let src: [u8; 4] = frame.get(ETH + 12..ETH + 16)?.try_into().ok()?;
    let remote = SocketAddrV4::new(Ipv4Addr::from(src), u16::from_be_bytes([tcp[0], tcp[1]]));
    Some(FlowKey::new(remote, u16::from_be_bytes([tcp[2], tcp[3]])))
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn peeks_the_key_of_a_tcp_frame() {
        let mut frame = vec![0u8; 14 + 24 + 20];
        frame[12..14].copy_from_slice(&[0x08, 0x00]);
        frame[14] = 0x46; // 24-byte IP header
        frame[26..30].copy_from_slice(&[198, 18, 0, 2]);
        frame[38..40].copy_from_slice(&4242u16.to_be_bytes());
        frame[40..42].copy_from_slice(&80u16.to_be_bytes());
        let key = peek_flow_key(&frame);
        assert_eq!(
            key,
            Some(FlowKey::new("198.18.0.2:4242".parse().unwrap(), 80))
        );
        assert_eq!(peek_flow_key(&frame[..41]), None);
        assert_eq!(peek_flow_key(&[]), None);
    }
}
