"""Analyses: robustness, generalisation, and the tables and figures."""
