"""Evaluation: data sets, Ragas scoring, gates and reports (to come; see the issues)."""
