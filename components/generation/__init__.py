"""Generation components."""
