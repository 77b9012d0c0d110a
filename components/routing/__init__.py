"""Choosing models for a request and keeping failing models out of the way."""
