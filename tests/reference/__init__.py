"""Drivers that run official scorers' own code (from pinned wheels) in a subprocess, for equality tests."""
