"""Keeping personal data out of answers and logs."""
