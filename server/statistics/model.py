"""Pure rules of the statistics feature."""
