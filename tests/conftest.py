"""Fixtures shared by every suite: the scripted OpenAI-compatible server and the real local LLM (tests/support).

Every hypothesis property test is replayable: the "ci" profile (the default) derandomizes generation, so the
same examples run on every machine and every run, and keeps no example database between runs. A test's own
@settings (max_examples, deadline, ...) inherits this. For a wider, random search locally:
HYPOTHESIS_PROFILE=explore pytest ...
"""

import os
import tempfile

from hypothesis import settings

from tests.support.fake_openai import fake_openai  # noqa: F401
from tests.support.local_llm import local_llm  # noqa: F401

settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# The command line keeps compiled patterns and parsed rule files between runs (notedraft/recache.py). Tests run
# main() with every sort of argument: they get a cache of their own, so the user's stays what their own runs made.
os.environ.setdefault("NOTEDRAFT_CACHE_DIR", tempfile.mkdtemp(prefix="notedraft-test-cache-"))
