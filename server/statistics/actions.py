"""Use cases of the statistics feature."""
