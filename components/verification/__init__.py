"""Verification components: measure whether an answer is supported by its documents."""
