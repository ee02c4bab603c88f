//! PyO3 bindings — python helper fills it.
