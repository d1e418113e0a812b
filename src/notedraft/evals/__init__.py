"""The eval suite: datasets, scorers, the runner and its reports.

Kept empty on purpose: `notedraft.evals.cli` is imported by the main CLI, so nothing heavy may load here.
"""
