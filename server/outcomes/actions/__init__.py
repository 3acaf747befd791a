"""Use cases for outcomes."""
