"""Reports: the challenge's history with models placed in it, runs tables, re-scoring, verdicts."""
