"""Tests of the zero-trust building blocks: TLS/mTLS, caller identity, policy, audit."""
