//! icmpv4 — wire helper fills it (see wire/mod.rs re-exports).
