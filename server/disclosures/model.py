"""Pure rules of the disclosures feature."""
