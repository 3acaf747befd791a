"""Use cases of the disclosures feature."""
