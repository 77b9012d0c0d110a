"""Chunking components."""
