//! DPDK through the C shim of `csrc/dpdk_shim.c` (built by `build.rs` with the cargo feature
//! `dpdk`): the EAL, ethdev ports, mbuf pools and bursts of mbufs.
//!
//! DPDK's fast-path calls (`rte_eth_rx_burst`, `rte_eth_tx_burst`, the mbuf helpers) are
//! `static inline`, and `rte_eth_conf`/`rte_eth_dev_info` change layout between releases, so
//! Rust calls small out-of-line wrappers instead of binding DPDK's headers; the only struct
//! shared with C is the shim's own [`PortInfo`]. Every `unsafe` of the DPDK backend is here.
//!
//! Ownership: an mbuf pointer is held by exactly one [`MbufArray`] slot or one [`TxMbuf`] at a
//! time and is freed (returned to its pool) by it, or handed to the device by a successful
//! transmit; received bytes are borrowed from the array that holds them, so they cannot be
//! read after the mbuf went back to the pool.
use std::ffi::{c_char, c_int, c_uint, CStr, CString};
use std::ptr::NonNull;

use crate::BURST;

/// DPDK's `struct rte_mbuf` (opaque here).
#[repr(C)]
pub(crate) struct RteMbuf {
    _private: [u8; 0],
}

/// DPDK's `struct rte_mempool` (opaque here).
#[repr(C)]
pub(crate) struct RteMempool {
    _private: [u8; 0],
}

/// The shim's `struct mtcp_dpdk_port_info`: what mtcp needs to know about a port.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub(crate) struct PortInfo {
    pub(crate) mac: [u8; 6],
    pub(crate) mtu: u16,
    pub(crate) max_rx_queues: u16,
    pub(crate) max_tx_queues: u16,
    pub(crate) rx_offload_capa: u64,
    pub(crate) tx_offload_capa: u64,
    pub(crate) flow_type_rss_offloads: u64,
    pub(crate) hash_key_size: u8,
    pub(crate) socket_id: i32,
    pub(crate) driver: [c_char; 64],
}

impl PortInfo {
    /// The driver's name (e.g. `net_af_packet`).
    pub(crate) fn driver(&self) -> String {
        let bytes: Vec<u8> = self
            .driver
            .iter()
            .take_while(|&&c| c != 0)
            .map(|&c| c as u8)
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

extern "C" {
    static MTCP_DPDK_TX_TCP_CKSUM: u64;
    static MTCP_DPDK_RX_IPV4_CKSUM: u64;
    static MTCP_DPDK_RX_TCP_CKSUM: u64;
    static MTCP_DPDK_RSS_TCP4: u64;

    fn mtcp_dpdk_eal_init(argc: c_int, argv: *mut *mut c_char) -> c_int;
    fn mtcp_dpdk_strerror(errnum: c_int) -> *const c_char;
    fn mtcp_dpdk_port_by_name(name: *const c_char, port: *mut u16) -> c_int;
    fn mtcp_dpdk_port_valid(port: u16) -> c_int;
    fn mtcp_dpdk_dev_probe(devargs: *const c_char) -> c_int;
    fn mtcp_dpdk_port_info(port: u16, out: *mut PortInfo) -> c_int;
    fn mtcp_dpdk_pool_create(
        name: *const c_char,
        n: c_uint,
        cache: c_uint,
        data_room: u16,
        socket: c_int,
    ) -> *mut RteMempool;
    fn mtcp_dpdk_errno() -> c_int;
    #[allow(clippy::too_many_arguments)]
    fn mtcp_dpdk_port_start(
        port: u16,
        queues: u16,
        rx_desc: u16,
        tx_desc: u16,
        rx_offloads: u64,
        tx_offloads: u64,
        rss_key: *const u8,
        rss_key_len: u8,
        rss_hf: u64,
        pool: *mut RteMempool,
    ) -> c_int;
    fn mtcp_dpdk_port_close(port: u16) -> c_int;
    fn mtcp_dpdk_port_drops(port: u16) -> u64;
    fn mtcp_dpdk_rx_burst(port: u16, queue: u16, pkts: *mut *mut RteMbuf, n: u16) -> u16;
    fn mtcp_dpdk_tx_burst(port: u16, queue: u16, pkts: *mut *mut RteMbuf, n: u16) -> u16;
    fn mtcp_dpdk_alloc_bulk(pool: *mut RteMempool, mbufs: *mut *mut RteMbuf, n: c_uint) -> c_int;
    fn mtcp_dpdk_free_bulk(mbufs: *mut *mut RteMbuf, n: c_uint);
    fn mtcp_dpdk_rx_frame(m: *const RteMbuf, len: *mut u16, bad_csum: *mut c_int) -> *const u8;
    fn mtcp_dpdk_tx_room(m: *mut RteMbuf, room: *mut u16) -> *mut u8;
    fn mtcp_dpdk_tx_set(m: *mut RteMbuf, len: u16, l2_len: u16, l3_len: u16);
}

/// Offload bits of DPDK (`RTE_ETH_TX_OFFLOAD_*`, `RTE_ETH_RX_OFFLOAD_*`, `RTE_ETH_RSS_*`),
/// read from the shim so they follow the installed headers.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OffloadBits {
    pub(crate) tx_tcp_cksum: u64,
    pub(crate) rx_ipv4_cksum: u64,
    pub(crate) rx_tcp_cksum: u64,
    pub(crate) rss_tcp4: u64,
}

/// The offload bits of the DPDK this was built against.
pub(crate) fn offload_bits() -> OffloadBits {
    // SAFETY: constants defined (and initialised) in the shim, never written.
    unsafe {
        OffloadBits {
            tx_tcp_cksum: MTCP_DPDK_TX_TCP_CKSUM,
            rx_ipv4_cksum: MTCP_DPDK_RX_IPV4_CKSUM,
            rx_tcp_cksum: MTCP_DPDK_RX_TCP_CKSUM,
            rss_tcp4: MTCP_DPDK_RSS_TCP4,
        }
    }
}

/// DPDK's message for a (positive) errno, which covers its own `E_RTE_*` codes.
pub(crate) fn strerror(errnum: i32) -> String {
    // SAFETY: rte_strerror returns a pointer to a NUL-terminated string (static, or in a
    // per-thread buffer that stays valid until the next call on this thread; copied at once).
    unsafe {
        let p = mtcp_dpdk_strerror(errnum);
        if p.is_null() {
            format!("error {errnum}")
        } else {
            CStr::from_ptr(p).to_string_lossy().into_owned()
        }
    }
}

fn check(rc: c_int) -> Result<(), i32> {
    if rc < 0 {
        Err(-rc)
    } else {
        Ok(())
    }
}

fn cstring(s: &str) -> Result<CString, i32> {
    CString::new(s).map_err(|_| libc::EINVAL)
}

/// The calling thread's CPU affinity (rte_eal_init pins its caller to the main lcore).
fn thread_affinity() -> Option<libc::cpu_set_t> {
    // SAFETY: cpu_set_t is plain data and all-zero is a valid (empty) set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a valid cpu_set_t of the size passed; pid 0 is the calling thread.
    let rc =
        unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    (rc == 0).then_some(set)
}

/// `rte_eal_init` with `args` (argv[0] included). The strings are leaked: the EAL may keep
/// pointers into argv for the life of the process, and it is initialised once. The calling
/// thread's CPU affinity is restored afterwards (the EAL pins it to the main lcore, which
/// would move e.g. Python's main thread onto one CPU). Err: a positive errno.
pub(crate) fn eal_init(args: &[String]) -> Result<(), i32> {
    let mut argv: Vec<*mut c_char> = Vec::with_capacity(args.len() + 1);
    for arg in args {
        argv.push(cstring(arg)?.into_raw());
    }
    let argc = argv.len() as c_int;
    argv.push(std::ptr::null_mut());
    let argv = Box::leak(argv.into_boxed_slice());
    let affinity = thread_affinity();
    // SAFETY: argv holds argc valid NUL-terminated strings plus a NULL, all leaked (they live
    // for the rest of the process, as the EAL may keep them); the EAL may permute the array.
    let rc = unsafe { mtcp_dpdk_eal_init(argc, argv.as_mut_ptr()) };
    if let Some(set) = affinity {
        // SAFETY: `set` is the valid cpu_set_t read above; pid 0 is the calling thread.
        unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) };
    }
    check(rc)
}

/// The port id of an ethdev by name (`net_af_packet0`, a PCI address). Err: a positive errno.
pub(crate) fn port_by_name(name: &str) -> Result<u16, i32> {
    let name = cstring(name)?;
    let mut port = 0u16;
    // SAFETY: `name` is NUL-terminated and `port` a valid u16 to write.
    check(unsafe { mtcp_dpdk_port_by_name(name.as_ptr(), &mut port) })?;
    Ok(port)
}

/// Whether `port` is an attached ethdev.
pub(crate) fn port_valid(port: u16) -> bool {
    // SAFETY: takes an integer only.
    unsafe { mtcp_dpdk_port_valid(port) != 0 }
}

/// `rte_dev_probe(devargs)`: creates a device such as `net_af_packet0,iface=veth0`.
pub(crate) fn dev_probe(devargs: &str) -> Result<(), i32> {
    let devargs = cstring(devargs)?;
    // SAFETY: `devargs` is NUL-terminated; DPDK copies what it keeps.
    check(unsafe { mtcp_dpdk_dev_probe(devargs.as_ptr()) })
}

/// What the device says about `port`.
pub(crate) fn port_info(port: u16) -> Result<PortInfo, i32> {
    let mut info = PortInfo {
        mac: [0; 6],
        mtu: 0,
        max_rx_queues: 0,
        max_tx_queues: 0,
        rx_offload_capa: 0,
        tx_offload_capa: 0,
        flow_type_rss_offloads: 0,
        hash_key_size: 0,
        socket_id: -1,
        driver: [0; 64],
    };
    // SAFETY: `info` is a valid PortInfo, the layout the shim writes (repr(C), same fields).
    check(unsafe { mtcp_dpdk_port_info(port, &mut info) })?;
    Ok(info)
}

/// Frames the device dropped (missed, no mbuf, errors), from its counters.
pub(crate) fn port_drops(port: u16) -> u64 {
    // SAFETY: takes an integer only; an unknown port gives 0.
    unsafe { mtcp_dpdk_port_drops(port) }
}

/// Stops and closes `port`, removing its device. Err: a positive errno.
pub(crate) fn port_close(port: u16) -> Result<(), i32> {
    // SAFETY: takes an integer only; the caller no longer bursts on the port's queues.
    check(unsafe { mtcp_dpdk_port_close(port) })
}

/// An mbuf pool. Pools live as long as the process (mbufs of a closed port may still be in
/// flight in another pool user), so this is a `'static` handle.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pool(NonNull<RteMempool>);

// SAFETY: a DPDK mempool is multi-producer/multi-consumer safe (the default ring ops), and the
// handle is never freed, so any thread may use it at any time.
unsafe impl Send for Pool {}
// SAFETY: as above.
unsafe impl Sync for Pool {}

impl Pool {
    /// `rte_pktmbuf_pool_create(name, n, cache, 0, data_room, socket)`. Err: a positive errno.
    pub(crate) fn create(
        name: &str,
        n: u32,
        cache: u32,
        data_room: u16,
        socket: i32,
    ) -> Result<Pool, i32> {
        let name = cstring(name)?;
        // SAFETY: `name` is NUL-terminated (DPDK copies it); the rest are integers.
        let pool = unsafe { mtcp_dpdk_pool_create(name.as_ptr(), n, cache, data_room, socket) };
        match NonNull::new(pool) {
            Some(pool) => Ok(Pool(pool)),
            // SAFETY: reads this thread's rte_errno, which the failed call set.
            None => Err(unsafe { mtcp_dpdk_errno() }),
        }
    }
}

/// How to start a port: queue pairs, ring sizes, offloads, RSS.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PortSetup<'a> {
    pub(crate) queues: u16,
    pub(crate) rx_desc: u16,
    pub(crate) tx_desc: u16,
    pub(crate) rx_offloads: u64,
    pub(crate) tx_offloads: u64,
    /// RSS key and hash types; `None`: no RSS (one queue).
    pub(crate) rss: Option<(&'a [u8], u64)>,
}

/// Configures `port` with `setup`, every RX queue filling from `pool`, and starts it.
pub(crate) fn port_start(port: u16, setup: &PortSetup<'_>, pool: Pool) -> Result<(), i32> {
    let (key, key_len, hf) = match setup.rss {
        Some((key, hf)) => (key.as_ptr(), key.len().min(255) as u8, hf),
        None => (std::ptr::null(), 0, 0),
    };
    // SAFETY: `key` is null or points to `key_len` bytes that outlive the call (DPDK copies
    // the key during configure); `pool` is a live mempool.
    check(unsafe {
        mtcp_dpdk_port_start(
            port,
            setup.queues,
            setup.rx_desc,
            setup.tx_desc,
            setup.rx_offloads,
            setup.tx_offloads,
            key,
            key_len,
            hf,
            pool.0.as_ptr(),
        )
    })
}

/// One received frame, borrowed from the [`MbufArray`] holding its mbuf.
pub(crate) struct RxFrame<'a> {
    pub(crate) bytes: &'a [u8],
    /// The device flagged its IPv4 or L4 checksum bad.
    pub(crate) bad_checksum: bool,
}

/// Up to [`BURST`] mbufs owned by one queue: what `rx_burst` received, or transmit buffers
/// built and waiting for `tx_burst`.
pub(crate) struct MbufArray {
    ptrs: [*mut RteMbuf; BURST],
    len: usize,
}

// SAFETY: the mbufs are owned by this array alone (no other pointer to them is kept), so
// moving the array to another thread moves that ownership; mbuf free goes to a thread-safe
// mempool.
unsafe impl Send for MbufArray {}

impl Default for MbufArray {
    fn default() -> Self {
        MbufArray {
            ptrs: [std::ptr::null_mut(); BURST],
            len: 0,
        }
    }
}

impl MbufArray {
    /// Mbufs held.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Whether no more mbufs fit.
    pub(crate) fn is_full(&self) -> bool {
        self.len == BURST
    }

    /// Receives up to `max` frames from `queue` of `port` behind those held; returns how many.
    pub(crate) fn rx_burst(&mut self, port: u16, queue: u16, max: usize) -> usize {
        let n = max.min(BURST - self.len) as u16;
        // SAFETY: the slots from `len` on are ours to fill and at least `n` long; DPDK writes
        // at most `n` mbuf pointers, each then owned by this array.
        let got =
            unsafe { mtcp_dpdk_rx_burst(port, queue, self.ptrs.as_mut_ptr().add(self.len), n) };
        self.len += got as usize;
        got as usize
    }

    /// The frame in slot `i`, or `None` past the end or for a multi-segment mbuf.
    pub(crate) fn rx_frame(&self, i: usize) -> Option<RxFrame<'_>> {
        let m = *self.ptrs[..self.len].get(i)?;
        let mut len = 0u16;
        let mut bad = 0;
        // SAFETY: `m` is a live mbuf this array owns; the shim only reads it.
        let data = unsafe { mtcp_dpdk_rx_frame(m, &mut len, &mut bad) };
        if data.is_null() {
            return None;
        }
        // SAFETY: a single-segment mbuf's data is `len` initialised bytes at `data`, valid
        // until the mbuf is freed, which needs `&mut self` (so not while this borrow lives).
        let bytes = unsafe { std::slice::from_raw_parts(data, len as usize) };
        Some(RxFrame {
            bytes,
            bad_checksum: bad != 0,
        })
    }

    /// Returns every mbuf held to its pool.
    pub(crate) fn free_all(&mut self) {
        if self.len > 0 {
            // SAFETY: the first `len` slots are live mbufs owned by this array; after the call
            // none is referenced again (len = 0).
            unsafe { mtcp_dpdk_free_bulk(self.ptrs.as_mut_ptr(), self.len as c_uint) };
            self.len = 0;
        }
    }

    /// Refills an empty array with [`BURST`] fresh mbufs from `pool`; false when the pool
    /// has fewer left.
    pub(crate) fn alloc_all(&mut self, pool: Pool) -> bool {
        if self.len != 0 {
            return true;
        }
        // SAFETY: the array has BURST free slots; on success DPDK fills all of them with
        // mbufs now owned by this array, on failure it writes none.
        let rc =
            unsafe { mtcp_dpdk_alloc_bulk(pool.0.as_ptr(), self.ptrs.as_mut_ptr(), BURST as _) };
        if rc == 0 {
            self.len = BURST;
        }
        rc == 0
    }

    /// Takes the last mbuf out.
    pub(crate) fn pop(&mut self) -> Option<TxMbuf> {
        self.len = self.len.checked_sub(1)?;
        NonNull::new(self.ptrs[self.len]).map(TxMbuf)
    }

    /// Puts `m` at the end; gives it back when full.
    pub(crate) fn push(&mut self, m: TxMbuf) -> Result<(), TxMbuf> {
        if self.is_full() {
            return Err(m);
        }
        self.ptrs[self.len] = m.0.as_ptr();
        self.len += 1;
        std::mem::forget(m);
        Ok(())
    }

    /// Hands the held mbufs to `queue` of `port` for transmission; the device owns (and frees)
    /// those it took; the rest stay here, in order. Returns how many were taken.
    pub(crate) fn tx_burst(&mut self, port: u16, queue: u16) -> usize {
        // SAFETY: the first `len` slots are live mbufs we own; DPDK takes ownership of the
        // first `sent` of them, which are then dropped from the array below.
        let sent =
            unsafe { mtcp_dpdk_tx_burst(port, queue, self.ptrs.as_mut_ptr(), self.len as u16) };
        let sent = sent as usize;
        self.ptrs.copy_within(sent..self.len, 0);
        self.len -= sent;
        sent
    }
}

impl Drop for MbufArray {
    fn drop(&mut self) {
        self.free_all();
    }
}

/// One mbuf being filled with a frame to send.
pub(crate) struct TxMbuf(NonNull<RteMbuf>);

impl TxMbuf {
    /// The mbuf's writable data room (from its headroom on).
    pub(crate) fn room(&mut self) -> &mut [u8] {
        let mut room = 0u16;
        // SAFETY: `self.0` is a live mbuf we own exclusively.
        let data = unsafe { mtcp_dpdk_tx_room(self.0.as_ptr(), &mut room) };
        // SAFETY: an mbuf's tailroom is `room` bytes of its own buffer at `data`, which only
        // this value references while the `&mut self` borrow lasts. The bytes are initialised:
        // DPDK's memory comes zero-filled from the kernel and afterwards only holds bytes
        // written into it.
        unsafe { std::slice::from_raw_parts_mut(data, room as usize) }
    }

    /// Sets the frame's length; `tcp_offload = Some((l2_len, l3_len))` asks the device to
    /// finish the TCP checksum (the segment holds the pseudo-header sum).
    pub(crate) fn set_len(&mut self, len: u16, tcp_offload: Option<(u16, u16)>) {
        let (l2, l3) = tcp_offload.unwrap_or((0, 0));
        // SAFETY: `self.0` is a live mbuf we own; `len` was checked against its room.
        unsafe { mtcp_dpdk_tx_set(self.0.as_ptr(), len, l2, l3) };
    }
}

// SAFETY: the mbuf is owned by this value alone.
unsafe impl Send for TxMbuf {}

impl Drop for TxMbuf {
    fn drop(&mut self) {
        let mut p = self.0.as_ptr();
        // SAFETY: `p` is a live mbuf we own; it is not used again.
        unsafe { mtcp_dpdk_free_bulk(&mut p, 1) };
    }
}
