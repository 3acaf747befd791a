"""Use cases of the bulletins feature."""
