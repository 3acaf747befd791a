"""Outcomes (协商结果): minutes drafted from a session's log, an outcome per topic with its
progress, and the public's evaluations (评题) that feed the satisfaction rate."""
