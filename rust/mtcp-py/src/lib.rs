//! `mtcp._mtcp`: the PyO3 bindings of the `mtcp` runtime. Glue only: argument conversion,
//! GIL release, errno → exception mapping. The public package is `python/mtcp`.
#![warn(missing_docs)]

mod config;
mod context;
mod convert;
mod errors;
mod sim;
mod stack;

use pyo3::prelude::*;

/// The native half of the `mtcp` package.
#[pymodule]
mod _mtcp {
    #[pymodule_export]
    use super::config::{parse_config, RawConfig};
    #[pymodule_export]
    use super::context::{PyContext, PyContextStats};
    #[pymodule_export]
    use super::sim::PyNetwork;
    #[pymodule_export]
    use super::stack::PyStack;

    use mtcp::consts::*;
    use pyo3::prelude::*;
    use pyo3::types::PyFrozenSet;

    /// `features() -> frozenset[str]`: the packet backends (`io =` names) built into this
    /// extension; `dpdk` is there only when it was built with the cargo feature `dpdk`.
    #[pyfunction]
    fn features(py: Python<'_>) -> PyResult<Bound<'_, PyFrozenSet>> {
        let built: Vec<&str> = mtcp::IoKind::ALL
            .iter()
            .filter(|k| k.is_built())
            .map(|k| k.name())
            .collect();
        PyFrozenSet::new(py, &built)
    }

    #[pymodule_init]
    fn init(m: &Bound<'_, PyModule>) -> PyResult<()> {
        m.add("__version__", env!("CARGO_PKG_VERSION"))?;
        let ints: &[(&str, i32)] = &[
            ("AF_INET", AF_INET),
            ("AF_INET6", AF_INET6),
            ("AF_UNIX", AF_UNIX),
            ("SOCK_STREAM", SOCK_STREAM),
            ("SOCK_DGRAM", SOCK_DGRAM),
            ("SOCK_RAW", SOCK_RAW),
            ("IPPROTO_IP", IPPROTO_IP),
            ("IPPROTO_TCP", IPPROTO_TCP),
            ("IPPROTO_UDP", IPPROTO_UDP),
            ("SOL_SOCKET", SOL_SOCKET),
            ("SO_REUSEADDR", SO_REUSEADDR),
            ("SO_TYPE", SO_TYPE),
            ("SO_ERROR", SO_ERROR),
            ("SO_SNDBUF", SO_SNDBUF),
            ("SO_RCVBUF", SO_RCVBUF),
            ("SO_KEEPALIVE", SO_KEEPALIVE),
            ("SO_LINGER", SO_LINGER),
            ("SO_REUSEPORT", SO_REUSEPORT),
            ("SO_ACCEPTCONN", SO_ACCEPTCONN),
            ("TCP_NODELAY", TCP_NODELAY),
            ("TCP_MAXSEG", TCP_MAXSEG),
            ("TCP_KEEPIDLE", TCP_KEEPIDLE),
            ("TCP_KEEPINTVL", TCP_KEEPINTVL),
            ("TCP_KEEPCNT", TCP_KEEPCNT),
            ("TCP_INFO", TCP_INFO),
            ("SHUT_RD", SHUT_RD),
            ("SHUT_WR", SHUT_WR),
            ("SHUT_RDWR", SHUT_RDWR),
            ("MSG_PEEK", MSG_PEEK),
            ("FIONREAD", FIONREAD),
            ("FIONBIO", FIONBIO),
            ("MTCP_EPOLL_CTL_ADD", MTCP_EPOLL_CTL_ADD),
            ("MTCP_EPOLL_CTL_DEL", MTCP_EPOLL_CTL_DEL),
            ("MTCP_EPOLL_CTL_MOD", MTCP_EPOLL_CTL_MOD),
            ("INPORT_ANY", i32::from(INPORT_ANY)),
        ];
        for (name, value) in ints {
            m.add(*name, *value)?;
        }
        let flags: &[(&str, u32)] = &[
            ("MTCP_EPOLLNONE", MTCP_EPOLLNONE),
            ("MTCP_EPOLLIN", MTCP_EPOLLIN),
            ("MTCP_EPOLLPRI", MTCP_EPOLLPRI),
            ("MTCP_EPOLLOUT", MTCP_EPOLLOUT),
            ("MTCP_EPOLLERR", MTCP_EPOLLERR),
            ("MTCP_EPOLLHUP", MTCP_EPOLLHUP),
            ("MTCP_EPOLLRDNORM", MTCP_EPOLLRDNORM),
            ("MTCP_EPOLLRDBAND", MTCP_EPOLLRDBAND),
            ("MTCP_EPOLLWRNORM", MTCP_EPOLLWRNORM),
            ("MTCP_EPOLLWRBAND", MTCP_EPOLLWRBAND),
            ("MTCP_EPOLLMSG", MTCP_EPOLLMSG),
            ("MTCP_EPOLLRDHUP", MTCP_EPOLLRDHUP),
            ("MTCP_EPOLLONESHOT", MTCP_EPOLLONESHOT),
            ("MTCP_EPOLLET", MTCP_EPOLLET),
        ];
        for (name, value) in flags {
            m.add(*name, *value)?;
        }
        Ok(())
    }
}
