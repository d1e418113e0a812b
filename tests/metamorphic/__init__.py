"""Metamorphic harness for the validator (issue 8 part 4): see generators.py and harness.py."""
