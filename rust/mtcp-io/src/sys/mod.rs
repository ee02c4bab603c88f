//! Thin wrappers over the system calls mtcp needs. Every `unsafe` block of mtcp lives under
//! this module (and the backends' own `sys` files), each with a `SAFETY:` comment.
pub mod affinity;
pub(crate) mod afpacket;
pub(crate) mod afxdp;
pub(crate) mod bpf;
pub mod clock;
pub mod combine;
#[cfg(feature = "dpdk")]
pub(crate) mod dpdk;
pub(crate) mod fd;
pub mod futex;
pub mod netdev;
pub mod prefetch;
pub(crate) mod spsc;
pub mod tap;
