"""Retrieval components."""
