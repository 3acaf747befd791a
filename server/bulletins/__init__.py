"""Quarterly bulletins (季通报): figures and rankings per county, town and room."""
