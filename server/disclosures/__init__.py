"""Monthly disclosures (月公示): last month's dispatched topics per town and community,
generated from events on the 1st, versioned, public and printable for the on-site reading."""
