"""Benchmarks of `rebalance plan` against the floor and the alternatives (see README.md)."""
