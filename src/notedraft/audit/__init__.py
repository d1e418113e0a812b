"""`notedraft audit`: a month of procedure notes and the code lines billed for each, checked in one run.

inputs.py reads folders, files, JSONL/CSV of notes and a claims CSV into note records (bad input becomes a
record's error, never an exception); note.py turns one record into one result row with `validate()` and the
physician queries; run.py runs the rows through a process pool in input order, streaming and resumable;
report.py writes the CSV, the self-contained HTML report and the terminal summary from results.jsonl.

The verdict on a note is exactly what `notedraft validate` says: audit knows no code, rule or procedure family
itself, so it covers whatever the rule packs cover.
"""
