"""The statistics feature keeps no tables of its own: it reads the others' (see store.py)."""
