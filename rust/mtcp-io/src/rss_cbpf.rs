//! mTCP's RSS queue choice as a classic BPF program, for an AF_PACKET fanout group
//! (`PACKET_FANOUT_CBPF`, packet(7)): the kernel runs it on each received IPv4 frame and hands
//! the frame to the group member whose index it returns (modulo the group's size), so every
//! context's socket gets exactly the frames [`crate::rss::steer_frame`] assigns to it.
//!
//! # Why it is short
//! The Toeplitz hash XORs, for every set input bit at position `i`, the 32-bit key window that
//! starts at bit `i`. mTCP's key ([`crate::rss::SYMMETRIC_KEY`], 0x05 repeated) has a period of
//! 8 bits, so that window depends only on `i mod 8`: the hash of any input equals the hash of
//! the XOR of its bytes, read as a one-byte input. The program therefore XORs the 12 bytes of
//! the IPv4/TCP 4-tuple (three 32-bit loads folded to a byte) and adds, for each set bit `j` of
//! that byte, the low 7 bits of window `j` — the queue is `(hash mod 128) mod n`, as the
//! 128-entry indirection table of [`crate::rss::queue_for`] gives.
//!
//! Frames that are not unfragmented TCP go to queue 0, as [`crate::rss::steer_frame`] sends
//! them (ARP reaches every context through its own socket, see [`crate::afpacket`]).
use crate::rss::{toeplitz, INDIRECTION_ENTRIES, SYMMETRIC_KEY};

/// One classic BPF instruction (`struct sock_filter`): opcode, jump-if-true, jump-if-false,
/// operand.
pub(crate) type Insn = (u16, u8, u8, u32);

// Classic BPF opcodes (include/uapi/linux/bpf_common.h, filter.h).
const LD: u16 = 0x00;
const LDX: u16 = 0x01;
const ST: u16 = 0x02;
const ALU: u16 = 0x04;
const JMP: u16 = 0x05;
const RET: u16 = 0x06;
const MISC: u16 = 0x07;
const W: u16 = 0x00;
const H: u16 = 0x08;
const B: u16 = 0x10;
const IMM: u16 = 0x00;
const ABS: u16 = 0x20;
const IND: u16 = 0x40;
const MEM: u16 = 0x60;
const MSH: u16 = 0xa0;
const AND: u16 = 0x50;
const RSH: u16 = 0x70;
const XOR: u16 = 0xa0;
const JEQ: u16 = 0x10;
const JSET: u16 = 0x40;
const K: u16 = 0x00;
const X: u16 = 0x08;
const RET_A: u16 = 0x10;
const TAX: u16 = 0x00;

/// `SKF_NET_OFF`: loads at this offset (plus n) read byte n of the network (IPv4) header,
/// wherever the frame's data starts.
const NET: u32 = (-0x10_0000i32) as u32;

/// The program (about 60 instructions; the kernel allows 4096).
pub(crate) fn fanout_program() -> Vec<Insn> {
    let mut p: Vec<Insn> = vec![
        // Fragments and non-TCP packets: queue 0.
        (LD | H | ABS, 0, 0, NET.wrapping_add(6)),
        (JMP | JSET | K, 0, 0, 0x3fff), // jt patched to "queue 0" below
        (LD | B | ABS, 0, 0, NET.wrapping_add(9)),
        (JMP | JEQ | K, 0, 0, 6), // jf patched
        // M[0] = source ^ destination address.
        (LD | W | ABS, 0, 0, NET.wrapping_add(12)),
        (ST, 0, 0, 0),
        (LD | W | ABS, 0, 0, NET.wrapping_add(16)),
        (LDX | W | MEM, 0, 0, 0),
        (ALU | XOR | X, 0, 0, 0),
        (ST, 0, 0, 0),
        // X = IPv4 header length; A = the ports word, XORed in.
        (LDX | B | MSH, 0, 0, NET),
        (LD | W | IND, 0, 0, NET),
        (LDX | W | MEM, 0, 0, 0),
        (ALU | XOR | X, 0, 0, 0),
        // Fold the 32-bit XOR to one byte: M[1].
        (MISC | TAX, 0, 0, 0),
        (ALU | RSH | K, 0, 0, 16),
        (ALU | XOR | X, 0, 0, 0),
        (MISC | TAX, 0, 0, 0),
        (ALU | RSH | K, 0, 0, 8),
        (ALU | XOR | X, 0, 0, 0),
        (ALU | AND | K, 0, 0, 0xff),
        (ST, 0, 0, 1),
        // M[2] = XOR of the windows of its set bits, low 7 bits.
        (LD | IMM, 0, 0, 0),
        (ST, 0, 0, 2),
    ];
    for (bit, window) in bit_windows().into_iter().enumerate() {
        p.extend([
            (LD | MEM, 0, 0, 1),
            (JMP | JSET | K, 0, 3, 0x80 >> bit), // clear: skip the next three
            (LD | MEM, 0, 0, 2),
            (ALU | XOR | K, 0, 0, window),
            (ST, 0, 0, 2),
        ]);
    }
    p.extend([(LD | MEM, 0, 0, 2), (RET | RET_A, 0, 0, 0)]);
    let queue0 = p.len();
    p.push((RET | K, 0, 0, 0));
    // Patch the two early exits to jump to `queue0` (offsets count from the next insn).
    p[1].1 = (queue0 - 2) as u8;
    p[3].2 = (queue0 - 4) as u8;
    p
}

/// For each bit of a one-byte input (most significant first), the low 7 bits of the key
/// window it selects: the hash of a byte with only that bit set.
fn bit_windows() -> [u32; 8] {
    // The shortcut needs a key of period 8; mTCP's is.
    debug_assert!(SYMMETRIC_KEY.iter().all(|&b| b == SYMMETRIC_KEY[0]));
    std::array::from_fn(|bit| {
        toeplitz(&SYMMETRIC_KEY, &[0x80u8 >> bit]) & (INDIRECTION_ENTRIES as u32 - 1)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rss::{flow_hash, queue_for};

    /// A classic BPF interpreter for the instructions the program uses, over an IPv4 packet
    /// (`net` is the network header on).
    fn run(program: &[Insn], net: &[u8]) -> u32 {
        let (mut a, mut x, mut mem, mut pc) = (0u32, 0u32, [0u32; 16], 0usize);
        let load = |off: u32, size: usize| -> u32 {
            let at = off.wrapping_sub(NET) as usize;
            net[at..at + size]
                .iter()
                .fold(0u32, |v, &b| v << 8 | u32::from(b))
        };
        loop {
            let (code, jt, jf, k) = program[pc];
            pc += 1;
            match code {
                c if c == LD | H | ABS => a = load(k, 2),
                c if c == LD | B | ABS => a = load(k, 1),
                c if c == LD | W | ABS => a = load(k, 4),
                c if c == LD | W | IND => a = load(k.wrapping_add(x), 4),
                c if c == LD | IMM => a = k,
                c if c == LD | MEM => a = mem[k as usize],
                c if c == LDX | W | MEM => x = mem[k as usize],
                c if c == LDX | B | MSH => x = 4 * (load(k, 1) & 0xf),
                c if c == ST => mem[k as usize] = a,
                c if c == MISC | TAX => x = a,
                c if c == ALU | XOR | X => a ^= x,
                c if c == ALU | XOR | K => a ^= k,
                c if c == ALU | AND | K => a &= k,
                c if c == ALU | RSH | K => a >>= k,
                c if c == JMP | JSET | K => pc += usize::from(if a & k != 0 { jt } else { jf }),
                c if c == JMP | JEQ | K => pc += usize::from(if a == k { jt } else { jf }),
                c if c == RET | RET_A => return a,
                c if c == RET | K => return k,
                other => panic!("opcode {other:#x} not in the interpreter"),
            }
        }
    }

    fn ipv4_tcp(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, ihl: u8) -> Vec<u8> {
        let header = usize::from(ihl) * 4;
        let mut p = vec![0u8; header + 20];
        p[0] = 0x40 | ihl;
        p[6] = 0x40;
        p[9] = 6;
        p[12..16].copy_from_slice(&src);
        p[16..20].copy_from_slice(&dst);
        p[header..header + 2].copy_from_slice(&sport.to_be_bytes());
        p[header + 2..header + 4].copy_from_slice(&dport.to_be_bytes());
        p
    }

    #[test]
    fn program_picks_the_queue_software_rss_picks() {
        let program = fanout_program();
        assert!(program.len() < 100);
        let mut seed = 0x1234_5678_9abc_def0u64;
        for i in 0..5000u32 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let src = (seed as u32).to_be_bytes();
            let dst = ((seed >> 32) as u32).to_be_bytes();
            let (sport, dport) = ((seed >> 8) as u16, (seed >> 40) as u16);
            let ihl = if i % 7 == 0 { 6 } else { 5 };
            let got = run(&program, &ipv4_tcp(src, dst, sport, dport, ihl));
            let hash = flow_hash(src, dst, sport, dport);
            assert_eq!(got, hash % INDIRECTION_ENTRIES as u32);
            for n in 2..=8 {
                assert_eq!(got as usize % n, queue_for(hash, n), "{n} queues");
            }
        }
    }

    #[test]
    fn fragments_and_other_protocols_go_to_queue_0() {
        let program = fanout_program();
        let tcp = ipv4_tcp([198, 18, 0, 1], [198, 18, 0, 2], 40000, 80, 5);
        assert_ne!(
            run(&program, &tcp),
            0,
            "this tuple must not hash to 0 for the test"
        );
        let mut fragment = tcp.clone();
        fragment[6] = 0x20; // more fragments
        assert_eq!(run(&program, &fragment), 0);
        let mut later = tcp.clone();
        later[7] = 1; // offset 8
        assert_eq!(run(&program, &later), 0);
        let mut icmp = tcp.clone();
        icmp[9] = 1;
        assert_eq!(run(&program, &icmp), 0);
    }
}
