//! The `bpf(2)` system call, just enough for AF_XDP: an `XSKMAP`, a six-instruction XDP program
//! that redirects every frame to the AF_XDP socket of its receive queue, and a `bpf_link` that
//! attaches it to an interface (detached when the link's descriptor is closed, also when the
//! process dies).
//!
//! No libbpf, no clang: the program is assembled here (Documentation/bpf/standard/
//! instruction-set.rst). In C it reads
//! `return bpf_redirect_map(&xsks_map, ctx->rx_queue_index, XDP_PASS);` — frames of a queue
//! without a socket in the map go on to the kernel's stack (the `XDP_PASS` fallback of
//! `bpf_redirect_map`, Linux ≥ 5.3).
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};

use super::fd::owned;

// Commands (include/uapi/linux/bpf.h, enum bpf_cmd).
const BPF_MAP_CREATE: libc::c_long = 0;
const BPF_MAP_UPDATE_ELEM: libc::c_long = 2;
const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_LINK_CREATE: libc::c_long = 28;

const BPF_MAP_TYPE_XSKMAP: u32 = 17;
const BPF_PROG_TYPE_XDP: u32 = 6;
/// `enum bpf_attach_type`: BPF_XDP.
const BPF_XDP: u32 = 37;
const BPF_FUNC_REDIRECT_MAP: i32 = 51;
const BPF_PSEUDO_MAP_FD: u8 = 1;
const XDP_PASS: i32 = 2;

/// `XDP_FLAGS_SKB_MODE`: generic XDP, run on the socket buffer (any device).
pub(crate) const XDP_FLAGS_SKB_MODE: u32 = 1 << 1;
/// `XDP_FLAGS_DRV_MODE`: native XDP, run by the driver (veth, most 10G+ NICs).
pub(crate) const XDP_FLAGS_DRV_MODE: u32 = 1 << 2;

/// Offset of `rx_queue_index` in `struct xdp_md` (data, data_end, data_meta, ingress_ifindex).
const XDP_MD_RX_QUEUE_INDEX: i16 = 16;

/// One eBPF instruction (`struct bpf_insn`): opcode, destination register in the low nibble
/// and source register in the high nibble of `regs`, offset, immediate.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Insn {
    code: u8,
    regs: u8,
    off: i16,
    imm: i32,
}

impl Insn {
    const fn new(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
        Insn {
            code,
            regs: (src << 4) | (dst & 0x0f),
            off,
            imm,
        }
    }
}

/// The XSK redirect program for the map whose descriptor is `map_fd`.
pub(crate) fn redirect_program(map_fd: i32) -> [Insn; 6] {
    // Opcode classes and modes (instruction-set.rst).
    const LDX_MEM_W: u8 = 0x61; // BPF_LDX | BPF_MEM | BPF_W
    const LD_IMM_DW: u8 = 0x18; // BPF_LD | BPF_IMM | BPF_DW (two slots)
    const ALU64_MOV_K: u8 = 0xb7; // BPF_ALU64 | BPF_MOV | BPF_K
    const JMP_CALL: u8 = 0x85; // BPF_JMP | BPF_CALL
    const JMP_EXIT: u8 = 0x95; // BPF_JMP | BPF_EXIT
    [
        // r2 = ctx->rx_queue_index (r1 holds the xdp_md context on entry)
        Insn::new(LDX_MEM_W, 2, 1, XDP_MD_RX_QUEUE_INDEX, 0),
        // r1 = &xsks_map: the loader turns the map descriptor into the map's address
        Insn::new(LD_IMM_DW, 1, BPF_PSEUDO_MAP_FD, 0, map_fd),
        Insn::new(0, 0, 0, 0, 0),
        // r3 = XDP_PASS: what to return when the queue has no socket
        Insn::new(ALU64_MOV_K, 3, 0, 0, XDP_PASS),
        // r0 = bpf_redirect_map(r1, r2, r3)
        Insn::new(JMP_CALL, 0, 0, 0, BPF_FUNC_REDIRECT_MAP),
        Insn::new(JMP_EXIT, 0, 0, 0, 0),
    ]
}

/// `union bpf_attr` for BPF_MAP_CREATE (leading fields; the kernel zero-extends).
#[repr(C)]
#[derive(Default)]
struct MapCreateAttr {
    map_type: u32,
    key_size: u32,
    value_size: u32,
    max_entries: u32,
    map_flags: u32,
    inner_map_fd: u32,
    numa_node: u32,
    map_name: [u8; 16],
}

/// `union bpf_attr` for BPF_MAP_UPDATE_ELEM.
#[repr(C)]
#[derive(Default)]
struct MapElemAttr {
    map_fd: u32,
    _pad: u32,
    key: u64,
    value: u64,
    flags: u64,
}

/// `union bpf_attr` for BPF_PROG_LOAD (up to `expected_attach_type`).
#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
}

/// `union bpf_attr` for BPF_LINK_CREATE (the leading fields every link type has).
#[repr(C)]
#[derive(Default)]
struct LinkCreateAttr {
    prog_fd: u32,
    target_ifindex: u32,
    attach_type: u32,
    flags: u32,
}

fn name16(name: &str) -> [u8; 16] {
    let mut out = [0u8; 16];
    let n = name.len().min(15);
    out[..n].copy_from_slice(&name.as_bytes()[..n]);
    out
}

/// `bpf(cmd, attr, sizeof attr)`; returns the (non-negative) result or errno.
fn bpf<T>(cmd: libc::c_long, attr: &mut T) -> io::Result<libc::c_int> {
    // SAFETY: `attr` is a live, initialised `repr(C)` prefix of `union bpf_attr` of exactly the
    // size passed; the kernel reads it (and may write the same bytes back) during the call.
    // Pointers inside it (instructions, license, log buffer, key, value) are set by the callers
    // to buffers that outlive the call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            (attr as *mut T).cast::<libc::c_void>(),
            std::mem::size_of::<T>() as libc::c_uint,
        )
    };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc as libc::c_int)
    }
}

/// A new `XSKMAP` with `entries` slots (one per receive queue): key queue id, value socket.
pub(crate) fn create_xsk_map(entries: u32) -> io::Result<OwnedFd> {
    let mut attr = MapCreateAttr {
        map_type: BPF_MAP_TYPE_XSKMAP,
        key_size: 4,
        value_size: 4,
        max_entries: entries,
        map_name: name16("mtcp_xsks"),
        ..MapCreateAttr::default()
    };
    owned(bpf(BPF_MAP_CREATE, &mut attr)?)
}

/// Puts AF_XDP socket `xsk_fd` in slot `queue` of an XSKMAP.
pub(crate) fn set_xsk(map: &OwnedFd, queue: u32, xsk_fd: i32) -> io::Result<()> {
    let key = queue;
    let value = xsk_fd as u32;
    let mut attr = MapElemAttr {
        map_fd: map.as_raw_fd() as u32,
        key: &key as *const u32 as u64,
        value: &value as *const u32 as u64,
        ..MapElemAttr::default()
    };
    bpf(BPF_MAP_UPDATE_ELEM, &mut attr).map(drop)
}

/// Loads [`redirect_program`] for `map`. On a verifier rejection the error carries the
/// verifier's log.
pub(crate) fn load_redirect_program(map: &OwnedFd) -> io::Result<OwnedFd> {
    let insns = redirect_program(map.as_raw_fd());
    let license = b"GPL\0"; // bpf_redirect_map is available to any license; GPL is customary
    let mut log = vec![0u8; 4096];
    let mut attr = ProgLoadAttr {
        prog_type: BPF_PROG_TYPE_XDP,
        insn_cnt: insns.len() as u32,
        insns: insns.as_ptr() as u64,
        license: license.as_ptr() as u64,
        log_level: 1,
        log_size: log.len() as u32,
        log_buf: log.as_mut_ptr() as u64,
        prog_name: name16("mtcp_xsk_redir"),
        expected_attach_type: BPF_XDP,
        ..ProgLoadAttr::default()
    };
    match bpf(BPF_PROG_LOAD, &mut attr) {
        Ok(fd) => owned(fd),
        Err(err)
            if err.raw_os_error() == Some(libc::EACCES)
                || err.raw_os_error() == Some(libc::EINVAL) =>
        {
            let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
            let text = String::from_utf8_lossy(&log[..end]);
            if text.trim().is_empty() {
                Err(err)
            } else {
                Err(io::Error::new(
                    err.kind(),
                    format!(
                        "the kernel's verifier rejected the XDP program ({err}): {}",
                        text.trim()
                    ),
                ))
            }
        }
        Err(err) => Err(err),
    }
}

/// Attaches XDP program `prog` to interface `ifindex` with a `bpf_link` (`flags`:
/// [`XDP_FLAGS_SKB_MODE`] or [`XDP_FLAGS_DRV_MODE`]). A link never replaces a program that is
/// already attached (the kernel answers EBUSY, or EEXIST when the other program runs in the
/// other mode) — the `XDP_FLAGS_UPDATE_IF_NOEXIST` behaviour, which links have built in.
pub(crate) fn link_xdp(prog: &OwnedFd, ifindex: u32, flags: u32) -> io::Result<OwnedFd> {
    let mut attr = LinkCreateAttr {
        prog_fd: prog.as_raw_fd() as u32,
        target_ifindex: ifindex,
        attach_type: BPF_XDP,
        flags,
    };
    owned(bpf(BPF_LINK_CREATE, &mut attr)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attr_layouts_match_the_kernel() {
        assert_eq!(std::mem::size_of::<Insn>(), 8);
        assert_eq!(std::mem::size_of::<MapElemAttr>(), 32);
        assert_eq!(std::mem::size_of::<LinkCreateAttr>(), 16);
        assert_eq!(std::mem::size_of::<ProgLoadAttr>(), 72);
        assert_eq!(std::mem::offset_of!(ProgLoadAttr, prog_name), 48);
        assert_eq!(std::mem::offset_of!(ProgLoadAttr, expected_attach_type), 68);
        assert_eq!(std::mem::offset_of!(MapCreateAttr, map_name), 28);
    }

    #[test]
    fn program_encodes_as_the_kernel_expects() {
        let prog = redirect_program(7);
        // Bytes as `llvm-objdump -d` shows them for the same C program.
        let bytes: Vec<[u8; 8]> = prog
            .iter()
            .map(|i| {
                let mut b = [0u8; 8];
                b[0] = i.code;
                b[1] = i.regs;
                b[2..4].copy_from_slice(&i.off.to_le_bytes());
                b[4..8].copy_from_slice(&i.imm.to_le_bytes());
                b
            })
            .collect();
        assert_eq!(bytes[0], [0x61, 0x12, 0x10, 0, 0, 0, 0, 0]); // r2 = *(u32 *)(r1 + 16)
        assert_eq!(bytes[1], [0x18, 0x11, 0, 0, 7, 0, 0, 0]); // r1 = map fd 7 (pseudo)
        assert_eq!(bytes[2], [0; 8]);
        assert_eq!(bytes[3], [0xb7, 0x03, 0, 0, 2, 0, 0, 0]); // r3 = 2 (XDP_PASS)
        assert_eq!(bytes[4], [0x85, 0, 0, 0, 51, 0, 0, 0]); // call bpf_redirect_map
        assert_eq!(bytes[5], [0x95, 0, 0, 0, 0, 0, 0, 0]); // exit
    }

    #[test]
    fn names_are_cut_to_fifteen_bytes_and_terminated() {
        let n = name16("a-very-long-program-name");
        assert_eq!(&n[..15], b"a-very-long-pro");
        assert_eq!(n[15], 0);
    }
}
