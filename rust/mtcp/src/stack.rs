//! The stack: configuration, port, addresses; creates one context per core.
use std::io;

use crate::{Config, Context};

/// A TCP/IP stack on one port. Cheap to clone.
#[derive(Clone)]
pub struct Stack {
    pub(crate) _todo: (),
}

#[allow(missing_docs)]
impl Stack {
    pub fn new(config: Config) -> io::Result<Stack> {
        let _ = config;
        todo!()
    }
    pub fn create_context(&self, core: usize) -> io::Result<Context> {
        let _ = core;
        todo!()
    }
    pub fn config(&self) -> Config {
        todo!()
    }
    /// Stops every context.
    pub fn destroy(&self) {
        todo!()
    }
}
