"""Pure rules of the bulletins feature."""
