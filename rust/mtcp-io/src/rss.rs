//! Receive-side scaling in software: the Toeplitz hash (Microsoft RSS spec) with mTCP's
//! symmetric key (0x05 repeated), so both directions of a flow land on the same queue.
//!
//! CONTRACT: `SYMMETRIC_KEY`, `toeplitz`, `flow_hash`, `queue_for`, `steer_frame` — io helper.
