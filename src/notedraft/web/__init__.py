"""The scribe editor: a small FastAPI app over the same `draft` and `validate` calls the CLI uses.

Import `notedraft.web.app` (FastAPI) or `notedraft.web.server` (uvicorn) explicitly; this package's `__init__`
imports nothing so that `notedraft.web.savefile` and `notedraft.web.store` stay cheap for the CLI.
"""
