"""Interop tests against the Linux kernel's TCP (root; network namespaces). A package, so its
conftest does not shadow tests/conftest.py, whose helpers other test modules import."""
