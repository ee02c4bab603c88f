//! mTCP's in-context pipe: a bounded byte queue whose ends are descriptors usable with epoll.
use std::collections::VecDeque;

/// mTCP's PIPE_BUF_SIZE.
pub(crate) const PIPE_CAPACITY: usize = 10240;

pub(crate) struct Pipe {
    pub(crate) data: VecDeque<u8>,
    pub(crate) reader: Option<i32>,
    pub(crate) writer: Option<i32>,
}

impl Pipe {
    pub(crate) fn new(reader: i32, writer: i32) -> Pipe {
        Pipe {
            data: VecDeque::with_capacity(PIPE_CAPACITY),
            reader: Some(reader),
            writer: Some(writer),
        }
    }

    pub(crate) fn space(&self) -> usize {
        PIPE_CAPACITY - self.data.len()
    }
}
