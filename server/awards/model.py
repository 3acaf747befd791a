"""Pure rules of the awards feature."""
