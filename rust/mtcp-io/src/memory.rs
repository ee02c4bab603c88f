//! In-memory hub — io helper fills it.
