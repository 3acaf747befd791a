"""Use cases of the awards feature."""
