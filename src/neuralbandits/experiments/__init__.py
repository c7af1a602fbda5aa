"""Experiments: specs, the runner and the records it produces."""
