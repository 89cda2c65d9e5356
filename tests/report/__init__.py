"""Tests of the summaries and the HTML report."""
