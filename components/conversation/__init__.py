"""Reading a request in the context of its conversation."""
