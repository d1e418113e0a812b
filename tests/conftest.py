"""Fixtures shared by every suite: the scripted OpenAI-compatible server and the real local LLM (tests/support)."""

from tests.support.fake_openai import fake_openai  # noqa: F401
from tests.support.local_llm import local_llm  # noqa: F401
