"""Awards (十佳百优): yearly candidates from the figures and nominations, reviewers' scores,
and the published 100 + top 10 of each kind."""
