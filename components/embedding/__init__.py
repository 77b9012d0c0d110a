"""Embedding components."""
