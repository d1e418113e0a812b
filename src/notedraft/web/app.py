"""The scribe editor as a FastAPI app: JSON API + a few Jinja pages over `draft`, `validate` and the SQLite store.

Security, all in `_Guard` (one ASGI middleware, so the order is explicit):
1. Request size: bodies over `max_body` bytes (default 256 KB) get 413 before any handler runs.
2. Host: with no token the app answers only to loopback Host headers (127.0.0.1, localhost, [::1]), which stops
   DNS-rebinding pages from talking to a scribe's local editor.
3. Auth: with a token, every request but the login page and static files needs `Authorization: Bearer <token>`
   or the HttpOnly, SameSite=Lax cookie that `POST /api/login` sets: a session that expires after 12 h, signed
   with a per-process secret, revoked by `POST /api/logout` (see access.py). Failed logins are rate-limited per
   client address (429). Weak tokens are refused when the app is made.
4. CSRF on POST/PUT/PATCH/DELETE: double-submit token. The server sets a random `nd_csrf` cookie (HttpOnly,
   SameSite=Lax so that following a link into the editor does not rotate it) and renders the same value into each
   page; the page's fetch sends it back as `X-CSRF-Token`, and the two must match. A cross-site form cannot set
   the header, a cross-site fetch that sets it needs a CORS preflight this app never grants, and requests whose
   `Origin` or `Sec-Fetch-Site` say cross-site are refused outright.
   Requests carrying a valid bearer token skip the CSRF token (no ambient credential is involved).
   Scripts without a token call `GET /api/csrf` once (keeping the cookie) and send the header.

Also in `_Guard`, one rule for text at the edge, the same on SQLite and PostgreSQL: a body that is not UTF-8, or a
JSON string or query parameter holding a control character (U+0000-U+001F except tab, line feed and carriage
return; U+007F-U+009F) or a lone UTF-16 surrogate, is refused with 400 `bad_text` naming the field and the
character. PostgreSQL cannot store NUL and SQLite can, so storing "what the database takes" made the backends
disagree; no clinical text needs those characters, and a refusal loses nothing (the page keeps the text).

One request, one transaction: every route runs inside `store.unit()` (db.py), so what a request writes (an
encounter and its draft, a revision and its access-log line) lands together or not at all.

API tokens (per user, `Authorization: Bearer ndt_...`, see tokens.py) authenticate like a session, skip the CSRF
token (no ambient credential), and are limited to their scope.

LLM drafts run as background jobs (jobs.py) so that a slow LLM never holds a request thread.

Logs: handlers never log request bodies; `EditorApp` logs an unhandled exception as its type and stack frames
only (never its message, which could quote a note), and the client gets a JSON 500 with an error id.
"""

from __future__ import annotations

import hmac
import importlib
import importlib.util
import ipaddress
import json
import logging
import re
import secrets
import traceback
from collections.abc import Callable
from types import SimpleNamespace
from http.cookies import SimpleCookie
from pathlib import Path
from datetime import date, timedelta
from typing import Any, Literal, get_args
from urllib.parse import quote, unquote

import functools
import inspect
import unicodedata

from fastapi import Body, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool
from jinja2 import Environment, FileSystemLoader
from pydantic import BaseModel, ConfigDict, Field

from . import dictation as dictated_text
from . import savefile
from . import practice
from . import verdicts
from .access import LoginLimiter, Sessions, token_problem
from .accounts import ROLE_WORDS, SESSION_COOKIE, Accounts, may
from .db import Keep
from .jobs import Cancelled, JobFailed, JobQueue, QueueFull
from .store import ATTESTATION, Conflict, NotFound, NotSupported, Store, StoreError

try:  # the claim-size cap lives with the code-line parser (the CLI and validate() share it)
    from notedraft.codes import MAX_CODE_LINES
except ImportError:  # pragma: no cover
    MAX_CODE_LINES = 50
from .textdiff import merge3, word_diff

log = logging.getLogger("notedraft.web")

HERE = Path(__file__).parent
MAX_BODY = 256 * 1024
CSRF_COOKIE = "nd_csrf"
AUTH_COOKIE = "nd_auth"
CSRF_HEADER = "x-csrf-token"
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}
DEFAULT_STRATEGIES = ("template", "llm-extract", "llm-compose")
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
ACTION_WORDS = {"view": "read notes", "draft": "draft or edit notes", "sign": "sign this note",
                "answer": "answer queries", "addendum": "add an addendum to this note", "export": "export notes",
                "admin": "manage accounts or read the access log", "code": "mark notes coded",
                "account": "change passwords, second factors or API tokens"}
TOKEN_ACCOUNT = "(token)"  # the login-failure account of the shared NOTEDRAFT_TOKEN
# What an API token may do, within its user's role: a read token reads and exports; a write token does what the
# role does except sign (a signature is an attestation a person makes in the editor) and manage accounts.
TOKEN_SCOPES = {"read": {"view", "export"}, "write": {"view", "export", "draft", "answer", "addendum", "code"}}
# An LLM reply is kept for audit and re-scoring, but a runaway model (or server) can send megabytes: the stored
# and rendered copy keeps this many characters and says how many it dropped.
MAX_RAW_CHARS = 16 * 1024
# No inline script or style anywhere: the page's JSON travels in <script type="application/json">, which CSP allows.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)


class ApiError(Exception):
    """An error answer in the app's shape. `keep=True`: what the request wrote still commits (a failed login is
    recorded although the answer is 401)."""

    def __init__(self, status: int, error: str, message: str, headers: dict[str, str] | None = None,
                 keep: bool = False, **extra: Any):
        super().__init__(message)
        self.status, self.error, self.message, self.extra = status, error, message, extra
        self.headers, self.keep = headers, keep


def _one_transaction_route(store) -> type[APIRoute]:
    """A route class whose endpoints run in one store transaction (the request's unit of work)."""

    class OneTransaction(APIRoute):
        def __init__(self, path: str, endpoint, **kwargs):
            if not inspect.iscoroutinefunction(endpoint):
                inner = endpoint

                @functools.wraps(inner)
                def endpoint(*args, **kw):
                    try:
                        with store.unit():
                            try:
                                return inner(*args, **kw)
                            except ApiError as e:
                                if e.keep:
                                    raise Keep(e) from None
                                raise
                    except Keep as k:
                        raise k.error from None

            super().__init__(path, endpoint, **kwargs)

    return OneTransaction


# -- request bodies -----------------------------------------------------------------------------------------------
class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


Author = Field(default=None, max_length=80, description="who is editing; shown in the history")


class ValidateIn(_Body):
    note: str
    codes: list[str]
    place_of_service: Literal["office", "asc", "hospital_outpatient"] | None = None


MRN_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9 ._/-]*$"  # an identifier: the same bytes, the same LOWER() on both backends


class EncounterIn(_Body):
    mrn: str = Field(min_length=1, max_length=64, pattern=MRN_PATTERN, description="the patient's medical record number")
    patient_name: str | None = Field(default=None, max_length=120, description="the patient's name, as on the chart")
    patient_dob: date | None = Field(default=None, description="the patient's date of birth")
    date_of_service: date
    physician: str = Field(min_length=1, max_length=40, description="the rendering physician's user name")
    place_of_service: Literal["office", "asc", "hospital_outpatient"]
    payer: Literal["none", "medicare", "commercial"] = "none"


class CreateIn(_Body):
    dictation: str
    codes: list[str] = Field(default_factory=list)
    strategy: str = "template"
    author: str | None = Author
    encounter: EncounterIn | None = None


class SaveIn(_Body):
    note: str
    base_revision: int
    codes: list[str] | None = None
    author: str | None = Author


class FinaliseIn(_Body):
    revision: int
    override_reason: str | None = Field(default=None, max_length=2000)
    author: str | None = Author


class LoginIn(_Body):
    token: str | None = Field(default=None, max_length=1000)
    username: str | None = Field(default=None, max_length=80)
    password: str | None = Field(default=None, max_length=1000)
    totp: str | None = Field(default=None, max_length=12, description="the 6-digit code, once TOTP is on")


# -- the app --------------------------------------------------------------------------------------------------------
def create_app(
    db_path: str | Path,
    token: str | None = None,
    *,
    validator: Callable | None = None,
    drafter: Callable | None = None,
    max_body: int = MAX_BODY,
    allowed_hosts: set[str] | None = None,
    jobs: JobQueue | None = None,
    sessions: Sessions | None = None,
    login_limiter: LoginLimiter | None = None,
) -> FastAPI:
    """The editor app over the SQLite file `db_path`.

    `token`: when set, every request needs it (bearer header or login cookie); `serve()` insists on one for any
    non-loopback bind. `validator`/`drafter` default to `notedraft.validate.validate` and `notedraft.drafting.draft`.
    `allowed_hosts`: Host names accepted; default loopback names only when there is no token, any host with one.
    `jobs`: the queue LLM drafts wait in (default: 2 running and 16 pending per LLM endpoint).
    `sessions`, `login_limiter`: login cookies (12 h) and failed-login limits (5 per 5 min per client).
    Raises ValueError for a token too weak to guard patient notes.
    """
    if token is not None and (problem := token_problem(token)):
        raise ValueError(problem)
    jobs = jobs or JobQueue()
    sessions = sessions or Sessions()
    if validator is None:
        validator = importlib.import_module("notedraft.validate").validate
    code_errors = _code_error_types()
    drafting: dict[str, Any] = {}

    def drafting_stack() -> tuple[Callable, tuple[str, ...], Callable[[], Any]]:
        """`draft`, its strategies and an LLM-client factory, imported on first use (the LLM stack is slow)."""
        if not drafting:
            if drafter is None:
                module = importlib.import_module("notedraft.drafting")
                drafting["draft"] = module.draft
                drafting["strategies"] = tuple(getattr(module, "STRATEGIES", None) or get_args(module.Strategy))
                drafting["llm"] = getattr(module, "llm_client_for", lambda: None)
            else:
                drafting.update(draft=drafter, strategies=DEFAULT_STRATEGIES, llm=lambda: None)
        return drafting["draft"], drafting["strategies"], drafting["llm"]

    store = Store(db_path)
    accounts = Accounts(store)
    login_limiter = (login_limiter or LoginLimiter()).bind(store)
    # Every change of a background job is recorded in the store, so any editor process can answer for it.
    jobs.publish = jobs.publish or store.save_job
    jobs.cancel_requested = jobs.cancel_requested or store.job_cancel_requested

    app = EditorApp(title="notedraft editor", docs_url=None, redoc_url=None, openapi_url=None)
    app.router.route_class = _one_transaction_route(store)
    app.state.store, app.state.jobs, app.state.sessions, app.state.accounts = store, jobs, sessions, accounts
    app.add_middleware(_Guard, token=token, max_body=max_body, allowed_hosts=allowed_hosts, sessions=sessions,
                       accounts=accounts)
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"), autoescape=True, trim_blocks=True, lstrip_blocks=True
    )
    templates = Jinja2Templates(env=env)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    # -- error shapes -------------------------------------------------------------------------------------------
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError):
        return JSONResponse({"error": exc.error, "message": exc.message, **exc.extra}, status_code=exc.status,
                            headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _bad_body(request: Request, exc: RequestValidationError):
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return JSONResponse({"error": "bad_json", "message": "the request body is not valid JSON"}, 400)
        # Never echo the input back: it may be a whole note.
        where = ['.'.join(str(p) for p in e.get("loc", ()) if p != "body") or "body" for e in errors]
        problems = [f"{w}: {e.get('msg')}" for w, e in zip(where, errors, strict=True)]
        return JSONResponse({"error": "bad_request", "message": "; ".join(problems), "problems": problems}, 422)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):
        words = {400: ("bad_request", "the request could not be read"), 404: ("not_found", "no such page or endpoint"),
                 405: ("method_not_allowed", "this endpoint does not take that method")}
        error, message = words.get(exc.status_code, ("http_error", str(exc.detail)))
        return JSONResponse({"error": error, "message": message}, exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception):
        error_id = request.scope.setdefault("notedraft_error_id", secrets.token_hex(4))
        return JSONResponse(
            {"error": "internal", "message": f"the editor hit an internal error (id {error_id}); try again"},
            500,
        )

    # -- helpers ------------------------------------------------------------------------------------------------
    def check_report(note: str, codes: list[str], encounter: dict | None = None):
        """validate() on the text; an encounter's payer and place of service are part of the claim (verdicts.py:
        the one set of options the editor, the worklist and the exports share)."""
        try:
            return validator(note, codes, **verdicts.validator_options(encounter))
        except code_errors as e:
            raise ApiError(400, "bad_code", str(e)) from None

    def check(note: str, codes: list[str], encounter: dict | None = None) -> dict:
        return check_report(note, codes, encounter).as_json()

    def grounding(note: str, dictation: str) -> list[dict]:
        """What the note states that the dictation does not (empty for a note imported without a dictation)."""
        if not dictation.strip():
            return []
        from notedraft.grounding import ground

        return [f.model_dump() for f in ground(note, dictation)]

    def clean_codes(codes: list[str]) -> list[str]:
        cleaned = [c.strip() for c in codes if c.strip()]
        if len(cleaned) > MAX_CODE_LINES:  # checked before any work: validation cost grows with the lines
            raise ApiError(400, "too_many_codes",
                           f"a claim has at most {MAX_CODE_LINES} code lines; this request has {len(cleaned)}")
        return cleaned

    def actor(request: Request) -> dict:
        """Who is asking: the logged-in account, or (a single-person editor with no accounts) the typed name."""
        return request.scope.get("notedraft_user") or {"username": "scribe", "role": None, "display_name": "scribe"}

    def author_of(value: str | None, request: Request | None = None) -> str:
        if request is not None and request.scope.get("notedraft_user"):
            return request.scope["notedraft_user"]["username"]  # an account never writes under another name
        return (value or "").strip() or "scribe"

    def require(request: Request, action: str) -> dict:
        user = actor(request)
        if user["role"] is not None and not may(user, action):
            raise ApiError(403, "forbidden", f"a {ROLE_WORDS[user['role']].lower()} cannot {ACTION_WORDS[action]}")
        api_token = request.scope.get("notedraft_api_token")
        if api_token is not None and action not in TOKEN_SCOPES[api_token["scope"]]:
            raise ApiError(403, "forbidden", f"this API token ({api_token['scope']} scope) cannot "
                           f"{ACTION_WORDS[action]}; {'sign in the editor' if action == 'sign' else 'use a write token'}")
        return user

    def can_edit(user: dict, draft: dict) -> bool:
        """Edit rights by assignment: the encounter's physician and the people assigned to it edit; everyone else
        with a role may view (and the view is logged). The single-person notebook has no accounts: it edits."""
        if user["role"] is None:
            return True
        if not may(user, "draft") or draft.get("voided") or draft.get("finalised"):
            return False
        enc = draft["encounter"]
        if enc is None:
            return True
        return user["username"] == enc["physician"]["username"] or user["username"] in enc.get("assigned", [])

    def require_edit(request: Request, draft: dict) -> dict:
        user = require(request, "draft")
        if user["role"] is not None and not can_edit(user, draft) and not draft.get("voided") \
                and not draft.get("finalised"):
            enc = draft["encounter"]
            raise ApiError(403, "not_assigned", f"you are not assigned to this encounter: {enc['physician']['display_name']}"
                           " and the scribes assigned to it edit it (an administrator can assign you); you can read it")
        if draft.get("voided"):
            raise ApiError(409, "voided", f"draft {draft['id']} is voided: it takes no more changes")
        return user

    def client_of(request: Request) -> str | None:
        return request.client.host if request.client else None

    def audit(request: Request, action: str, draft_id: int | None = None, encounter_id: int | None = None,
              detail: dict | None = None) -> None:
        """The access log: who viewed, changed or exported which record (ids, actions and filters, never text)."""
        who = actor(request)["username"]
        api_token = request.scope.get("notedraft_api_token")
        if api_token is not None:
            detail = {**(detail or {}), "api_token": api_token["id"]}
        store.log_access(who, action, draft_id=draft_id, encounter_id=encounter_id, client=client_of(request),
                         detail=detail)

    def get(draft_id: int) -> dict:
        try:
            return store.get_draft(draft_id)
        except NotFound as e:
            raise ApiError(404, "not_found", str(e)) from None

    def page(request: Request, name: str, status: int = 200, **context) -> HTMLResponse:
        user = request.scope.get("notedraft_user")
        context.update(csrf=request.scope["notedraft_csrf"], auth_required=token is not None or user is not None,
                       user=user, role_words=ROLE_WORDS,
                       inbox_count=len(store.inbox(user["username"])) if user else 0)
        return templates.TemplateResponse(request, name, context, status_code=status)

    # -- API ----------------------------------------------------------------------------------------------------
    @app.get("/api/csrf")
    def csrf(request: Request):
        return {"csrf": request.scope["notedraft_csrf"], "header": "X-CSRF-Token", "cookie": CSRF_COOKIE}

    def locked(wait: int, which: str, username: str | None, client: str) -> ApiError:
        store.log_access(username or "(token)", "login.locked", client=client, detail={"locked": which})
        whose = "this account" if which == "account" else "this address"
        return ApiError(429, "too_many_attempts", f"too many failed logins for {whose}; try again in {wait} s",
                        headers={"Retry-After": str(wait)}, keep=True)

    @app.post("/api/login")
    def login(request: Request, body: LoginIn):
        client = client_of(request) or "unknown"
        if accounts.enabled():
            return account_login(request, body, client)
        if token is None:
            return {"ok": True, "message": "this editor needs no token"}
        # The shared token is counted like an account ("(token)"), so guesses from many addresses lock it too.
        wait, which = login_limiter.retry_after(TOKEN_ACCOUNT, client)
        if wait:
            raise locked(wait, which, None, client)
        if not hmac.compare_digest((body.token or "").encode(), token.encode()):
            login_limiter.failed(TOKEN_ACCOUNT, client)
            raise ApiError(401, "unauthorised", "wrong token", keep=True)
        login_limiter.succeeded(TOKEN_ACCOUNT)
        response = JSONResponse({"ok": True, "expires_in": int(sessions.lifetime)})
        response.set_cookie(AUTH_COOKIE, sessions.issue(), max_age=int(sessions.lifetime), httponly=True,
                            samesite="lax", path="/", secure=request.url.scheme == "https")
        return response

    def account_login(request: Request, body: LoginIn, client: str):
        if not body.username or not body.password:
            raise ApiError(400, "bad_request", "give your user name and password")
        name = body.username.strip().lower()[:80]
        wait, which = login_limiter.retry_after(name, client)
        if wait:
            raise locked(wait, which, name, client)
        found, why = accounts.login(name, body.password, body.totp)
        if found is None:
            login_limiter.failed(name, client)
            # The access log names an account only if it exists: a password typed into the user-name box stays out.
            known = store.user_by_name(name) is not None
            store.log_access(name if known else "(unknown account)", "login.failed", client=client,
                             detail={"why": why if known else "unknown user name"})
            if why == "totp_needed":
                raise ApiError(401, "totp_required", "enter the 6-digit code from your authenticator app", keep=True)
            raise ApiError(401, "unauthorised", "wrong user name or password (or authenticator code)", keep=True)
        login_limiter.succeeded(name)
        secret, user = found
        store.log_access(user["username"], "login", client=client)
        response = JSONResponse({"ok": True, "user": user, "expires_in": int(accounts.lifetime),
                                 "idle_timeout": int(accounts.idle)})
        response.set_cookie(SESSION_COOKIE, secret, max_age=int(accounts.lifetime), httponly=True, samesite="lax",
                            path="/", secure=request.url.scheme == "https")
        return response

    @app.post("/api/logout")
    def logout(request: Request):
        """Revoke this browser's session cookie (it stops working at once, here and in any copy of it)."""
        revoked = sessions.revoke(request.cookies.get(AUTH_COOKIE, ""))
        if request.scope.get("notedraft_user"):
            audit(request, "logout")
        accounts.logout(request.cookies.get(SESSION_COOKIE, ""))
        response = JSONResponse({"ok": True, "revoked": revoked or bool(request.scope.get("notedraft_user"))})
        response.delete_cookie(AUTH_COOKIE, path="/", httponly=True, samesite="lax")
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")
        return response

    @app.post("/api/validate")
    def api_validate(body: ValidateIn):
        """validate() on any text; `place_of_service` (the new-note form's) makes its suggestion the code lines a
        draft with no code lines gets (see `dictated_codes`)."""
        options = {} if body.place_of_service is None else verdicts.validator_options(
            {"place_of_service": body.place_of_service, "payer": "none"})
        try:
            return validator(body.note, clean_codes(body.codes), **options).as_json()
        except code_errors as e:
            raise ApiError(400, "bad_code", str(e)) from None

    def dictated_codes(dictation: str, encounter: EncounterIn | None) -> list[str]:
        """The code lines the dictation documents, as the new-note page shows them (validate() on the dictation,
        with the place of service and without the payer): what a draft with an empty code field is checked
        against. A payer's coverage rules then judge those lines; they do not make them disappear."""
        options = {} if encounter is None else verdicts.validator_options(
            {"place_of_service": encounter.place_of_service, "payer": "none"})
        try:
            return list(validator(dictation, [], **options).suggested_codes)
        except Exception:  # noqa: BLE001 - a dictation the validator cannot read suggests nothing
            return []

    def list_filters(mrn, patient, date_from, date_to, physician, status, verdict) -> dict:
        return {"mrn": (mrn or "")[:64], "patient": (patient or "")[:120], "date_from": date_from or "",
                "date_to": date_to or "", "physician": (physician or "")[:40], "status": status or "",
                "verdict": verdict or ""}

    def listed(request: Request, filters: dict, page_no: int, per_page: int) -> tuple[list[dict], int]:
        user = request.scope.get("notedraft_user")
        rows, total = store.list_drafts(per_page, offset=(page_no - 1) * per_page, with_total=True,
                                        viewer=user["username"] if user else None,
                                        **{k: v or None for k, v in filters.items()})
        audit(request, "list", detail={"filters": {k: v for k, v in filters.items() if v}, "page": page_no,
                                       "rows": len(rows), "total": total})
        return practice.sort_by_attention(rows, user), total

    @app.get("/api/drafts")
    def api_list(request: Request, mrn: str | None = None, patient: str | None = None, date_from: date | None = None,
                 date_to: date | None = None, physician: str | None = None,
                 status: Literal["draft", "submitted", "signed", "voided"] | None = None,
                 verdict: Literal["supported", "unsupported"] | None = None, page: int = 1, per_page: int = 100):
        """The drafts, filtered, in pages (`page`, `per_page` up to 500), what needs attention first."""
        require(request, "view")
        if not (1 <= page <= 1_000_000 and 1 <= per_page <= 500):
            raise ApiError(400, "bad_page", "page is 1 or more; per_page is 1 to 500")
        filters = list_filters(mrn, patient, date_from and date_from.isoformat(), date_to and date_to.isoformat(),
                               physician, status, verdict)
        rows, total = listed(request, filters, page, per_page)
        more = page * per_page < total
        return {"drafts": rows, "page": page, "per_page": per_page, "total": total,
                "next_page": page + 1 if more else None}

    def save_new_draft(dictation: str, codes: list[str], result: Any, author: str,
                       encounter_in: dict | None = None, client: str | None = None) -> dict:
        """Store a drafted note (and its encounter) as a new draft at revision 1, with its access-log line, in one
        transaction; return what POST /api/drafts answers."""
        # Revisions are judged by validate() alone, the same call as every later save; the drafter's own report
        # (grounding, instruction findings) stays in `generated`, and grounding is kept beside each revision.
        codes_drafted = list(result.codes)
        generated = result.as_json()
        attempts = _cap_attempts([a.model_dump() for a in result.attempts])
        with store.unit():
            encounter = None
            if encounter_in is not None:
                try:
                    encounter = store.create_encounter(**encounter_in, author=author)
                except StoreError as e:
                    raise ApiError(400, "bad_encounter", str(e)) from None
            report = check(result.note, codes_drafted, encounter)
            saved = store.create_draft(
                dictation=dictation, codes_requested=codes, strategy=result.strategy, model=result.model,
                prompt_version=_prompt_version(attempts), attempts=attempts, generated=generated, note=result.note,
                codes=codes_drafted, validation=report, grounding=grounding(result.note, dictation), author=author,
                encounter_id=encounter["id"] if encounter else None,
            )
            store.log_access(author, "create", draft_id=saved["id"], encounter_id=encounter and encounter["id"],
                             client=client)
        duplicates = [] if encounter is None else [
            d for d in store.duplicates(encounter["mrn"], encounter["date_of_service"]) if d["id"] != saved["id"]]
        return {"id": saved["id"], "revision": saved["revision"], "url": f"/drafts/{saved['id']}", **generated,
                "satisfied": report["satisfied"], "validation": report, "possible_duplicates": duplicates}

    def encounter_input(request: Request, given: EncounterIn | None) -> dict | None:
        """The checked encounter a new draft belongs to (required once the editor has accounts); created with the
        draft, in the same transaction, so a draft that fails leaves no encounter behind."""
        if given is None:
            if request.scope.get("notedraft_user"):
                raise ApiError(400, "no_encounter", "a draft belongs to an encounter: give the patient's MRN, the "
                               "date of service, the rendering physician, the place of service and the payer")
            return None
        check_dates(given.date_of_service, given.patient_dob)
        doctor = store.user_by_name(given.physician.strip().lower())
        if doctor is None or doctor["role"] != "physician" or not doctor["active"]:
            raise ApiError(400, "bad_physician", f"{given.physician!r} is not an active physician account")
        return {"mrn": given.mrn.strip(), "patient_name": " ".join((given.patient_name or "").split()),
                "patient_dob": given.patient_dob and given.patient_dob.isoformat(),
                "date_of_service": given.date_of_service.isoformat(), "physician_id": doctor["id"],
                "place_of_service": given.place_of_service, "payer": given.payer}

    def check_dates(date_of_service: date | None, dob: date | None) -> None:
        """A date of service is within the last year (Medicare's timely-filing limit is 12 months) and not after
        tomorrow (a time zone ahead of the server's); a date of birth is after 1900 and not after the service."""
        today = date.today()
        if date_of_service is not None and not (today - timedelta(days=366) <= date_of_service <= today + timedelta(days=1)):
            raise ApiError(400, "bad_date", f"the date of service {date_of_service.isoformat()} is outside the last "
                           "12 months (or in the future): check the year")
        if dob is not None and not (date(1900, 1, 1) <= dob <= (date_of_service or today)):
            raise ApiError(400, "bad_date", f"the date of birth {dob.isoformat()} is not plausible (before 1900, or "
                           "after the date of service)")

    @app.post("/api/drafts", status_code=201)
    def api_create(request: Request, body: CreateIn):
        """Template drafts (about 2 ms) are made here; LLM drafts become a background job: 202 + its status."""
        require(request, "draft")
        if not body.dictation.strip():
            raise ApiError(400, "empty_dictation", "the dictation is empty: type or paste what the physician said")
        draft_fn, strategies, llm_client_for = drafting_stack()
        if body.strategy not in strategies:
            choices = ", ".join(strategies)
            raise ApiError(400, "bad_strategy", f"unknown strategy {body.strategy!r}; choose one of {choices}")
        codes = clean_codes(body.codes)
        parse_codes = _code_parser()
        if parse_codes is not None:  # a bad code line is a 400 now, not a failed job later
            try:
                parse_codes(codes)
            except code_errors as e:
                raise ApiError(400, "bad_code", str(e)) from None
        options: dict[str, Any] = {"strategy": body.strategy}
        if body.encounter is not None and body.encounter.payer == "medicare":
            options["payer"] = "medicare"
            # An empty code field means "the lines the dictation documents" (what the page showed), judged by the
            # payer's rules: without this, Medicare's unmet LCD criteria left a draft with no code lines at all.
            codes = codes or dictated_codes(body.dictation, body.encounter)
        author = author_of(body.author, request)
        encounter = encounter_input(request, body.encounter)  # checked before any drafting; created with the draft
        if body.strategy == "template":
            try:
                result = draft_fn(body.dictation, codes or None, **options)
            except ValueError as e:  # the drafter's input errors: CodeError (bad code line) and friends
                raise ApiError(400, "bad_code" if isinstance(e, code_errors) else "bad_request", str(e)) from None
            except Exception as e:
                log.warning("drafting failed: %s (strategy template)", type(e).__name__)
                raise ApiError(502, "draft_failed", f"drafting failed ({type(e).__name__}); nothing was saved") from None
            return save_new_draft(body.dictation, codes, result, author, encounter, client_of(request))
        try:
            options["llm"] = llm_client_for()
        except ValueError as e:
            raise ApiError(400, "llm_config", f"the LLM is misconfigured: {e}") from None
        if options["llm"] is None:
            raise ApiError(
                400, "no_llm", f"strategy {body.strategy} needs an LLM and none is configured: start the editor "
                "with OPENAI_BASE_URL (a local OpenAI-compatible server) or OPENAI_API_KEY set, or use template",
            )

        def work(cancelled) -> dict:
            try:
                result = draft_fn(body.dictation, codes or None, **options)
            except ValueError as e:
                raise JobFailed("bad_code" if isinstance(e, code_errors) else "bad_request", str(e)) from None
            except Exception as e:  # an LLM that is down must not lose the scribe's dictation: it stays in the form
                log.warning("drafting failed: %s (strategy %s)", type(e).__name__, body.strategy)
                raise JobFailed("draft_failed",
                                f"drafting with {body.strategy} failed ({type(e).__name__}); nothing was saved") from None
            if cancelled.is_set():
                raise Cancelled()
            try:
                saved = save_new_draft(body.dictation, codes, result, author, encounter, client)
            except ApiError as e:
                raise JobFailed(e.error, e.message) from None
            return {"id": saved["id"], "url": saved["url"], "supported": saved["supported"]}

        client = client_of(request)
        endpoint = str(getattr(options["llm"], "base_url", None) or "default")
        try:
            job = jobs.submit(endpoint, body.strategy, work)
        except QueueFull as e:
            raise ApiError(429, "queue_full", str(e), headers={"Retry-After": str(e.retry_after)},
                           retry_after=e.retry_after) from None
        return JSONResponse(jobs.status(job), status_code=202, headers={"Location": f"/api/jobs/{job.id}"})

    NO_JOB = "no such drafting job (finished jobs are kept for an hour)"

    @app.get("/api/jobs/{job_id}")
    def api_job(job_id: str):
        """What a background draft is doing: queued (with its place), running, done (with the draft's url),
        failed (with the reason) or cancelled — from this process, or as recorded by the process running it."""
        job = jobs.get(job_id)
        if job is not None:
            return jobs.status(job)
        elsewhere = store.job(job_id)
        if elsewhere is None:
            raise ApiError(404, "not_found", NO_JOB)
        return elsewhere

    @app.post("/api/jobs/{job_id}/cancel")
    def api_job_cancel(job_id: str):
        job = jobs.get(job_id)
        if job is not None:
            return jobs.status(jobs.cancel(job.id))
        if not store.cancel_job(job_id):  # running on another process: it sees the request before it saves
            raise ApiError(404, "not_found", NO_JOB)
        return store.job(job_id)

    def import_author(request: Request) -> str:
        name = unquote(request.headers.get("x-notedraft-author", ""))[:80]
        if text_problem(name):
            raise ApiError(400, "bad_text", f"X-Notedraft-Author: {text_problem(name)}")
        return name

    @app.post("/api/drafts/import", status_code=201)
    def api_import(request: Request, obj: Any = Body(...)):
        require(request, "draft")
        if request.scope.get("notedraft_user"):
            raise ApiError(400, "no_encounter", "with accounts, a draft belongs to an encounter: paste the save "
                           "file's dictation into a new draft instead")
        try:
            saved_file = savefile.parse(obj)
        except ValueError as e:
            raise ApiError(400, "bad_save_file", str(e)) from None
        saved_file["codes"] = clean_codes(saved_file["codes"])
        report = check(saved_file["note"], saved_file["codes"])
        attempts = _cap_attempts(saved_file.get("attempts", []))
        saved_file["attempts"] = attempts
        saved = store.create_draft(
            dictation=saved_file["dictation"],
            codes_requested=saved_file["codes"],
            strategy=saved_file["strategy"],
            model=saved_file["model"],
            prompt_version=_prompt_version(attempts),
            attempts=attempts,
            generated=saved_file,
            note=saved_file["note"],
            codes=saved_file["codes"],
            validation=report,
            grounding=grounding(saved_file["note"], saved_file["dictation"]),
            author=author_of(import_author(request)),
            source="import",
        )
        return {"id": saved["id"], "revision": saved["revision"], "url": f"/drafts/{saved['id']}"}

    @app.get("/api/drafts/{draft_id}")
    def api_get(request: Request, draft_id: int):
        require(request, "view")
        draft = get(draft_id)
        audit(request, "view", draft_id, draft["encounter"] and draft["encounter"]["id"])
        return {**draft, "url": f"/drafts/{draft_id}"}

    @app.put("/api/drafts/{draft_id}")
    def api_save(request: Request, draft_id: int, body: SaveIn):
        current = get(draft_id)
        require_edit(request, current)
        codes = clean_codes(body.codes) if body.codes is not None else current["codes"]
        report = check(body.note, codes, current["encounter"])
        try:
            revision = store.save_revision(
                draft_id, note=body.note, codes=codes, validation=report, base_revision=body.base_revision,
                author=author_of(body.author, request), grounding=grounding(body.note, current["dictation_full"]),
            )
        except Conflict as e:
            # Both versions and a merge of them (from the revision this save was edited from), so that keeping
            # mine never silently drops theirs.
            merge = None
            if e.current.get("note") is not None and 1 <= body.base_revision < e.current["revision"]:
                base_note = store.revision(draft_id, body.base_revision)["note"]
                merged, conflicts = merge3(base_note, e.current["note"], body.note)
                merge = {"base_revision": body.base_revision, "note": merged, "conflicts": conflicts}
            raise ApiError(409, "conflict", str(e), current=e.current, merge=merge) from None
        audit(request, "revise", draft_id, current["encounter"] and current["encounter"]["id"])
        return {"id": draft_id, **revision}

    @app.post("/api/drafts/{draft_id}/check")
    def api_check(request: Request, draft_id: int, body: ValidateIn):
        """The editor's live check, recomputed from the current text every time: validate() with the encounter's
        payer and place, what the text states that the dictation does not, the questions for the physician, and
        the findings a signature would have to override."""
        require(request, "view")
        draft = get(draft_id)
        return review(draft, body.note, clean_codes(body.codes))

    @app.get("/api/drafts/{draft_id}/revisions")
    def api_revisions(request: Request, draft_id: int):
        require(request, "view")
        try:
            revisions = store.revisions(draft_id)
        except NotFound as e:
            raise ApiError(404, "not_found", str(e)) from None
        audit(request, "view.revisions", draft_id)
        return {"id": draft_id, "revisions": revisions}

    @app.get("/api/drafts/{draft_id}/revisions/{number}")
    def api_revision(request: Request, draft_id: int, number: int):
        require(request, "view")
        try:
            revision = store.revision(draft_id, number)
        except NotFound as e:
            raise ApiError(404, "not_found", str(e)) from None
        audit(request, "view.revisions", draft_id)
        return {"id": draft_id, **revision}

    @app.post("/api/drafts/{draft_id}/finalise")
    def api_finalise(request: Request, draft_id: int, body: FinaliseIn):
        if request.scope.get("notedraft_user"):
            raise ApiError(403, "forbidden", "with accounts, the note's physician signs it: POST .../submit, then "
                           "the physician POSTs .../sign")
        draft = get(draft_id)
        try:
            revision = store.revision(draft_id, body.revision)
        except NotFound as e:
            raise ApiError(409, "conflict", str(e), current=get(draft_id)) from None
        # Today's rules, not the saved verdict; and a statement the dictation does not support needs the reason
        # too, like a code requirement that is not met.
        checked = review(draft, revision["note"], revision["codes"])
        report, blocking = checked["validation"], checked["blocking"]
        reason = (body.override_reason or "").strip()
        if blocking and not reason:
            raise ApiError(422, "not_supported", f"{len(blocking)} finding(s) stand: fix the note, or give an override "
                           "reason", validation=report, blocking=blocking)
        try:
            fin = store.finalise(
                draft_id, revision=body.revision, validation=report, author=author_of(body.author),
                override_reason=body.override_reason,
                overrides=[{**b, "reason": reason} for b in blocking] if blocking else None,
            )
        except NotSupported as e:
            raise ApiError(422, "not_supported", str(e), validation=report) from None
        except Conflict as e:
            raise ApiError(409, "conflict", str(e), current=e.current) from None
        return {"id": draft_id, "finalised": fin}

    @app.get("/api/drafts/{draft_id}/export")
    def api_export(request: Request, draft_id: int, format: str = "text"):
        """text: the note with its header (patient, date, physician, place, code lines, signature, addenda);
        fhir: an R4 Bundle of the signed note; json: everything the store holds about the draft."""
        require(request, "export")
        draft = get(draft_id)
        number = draft["finalised"]["revision"] if draft["finalised"] else draft["revision"]
        name = f"notedraft-{draft_id}-r{number}"
        if format not in ("text", "json", "fhir"):
            raise ApiError(400, "bad_format", "format must be text, fhir or json")
        audit(request, f"export.{format}", draft_id, draft["encounter"] and draft["encounter"]["id"])
        if format == "json":
            record = {**draft, "exported_revision": number, "revisions": store.revisions(draft_id)}
            return JSONResponse(record, headers={"Content-Disposition": f'attachment; filename="{name}.json"'})
        exports = importlib.import_module("notedraft.exports")
        record = practice.export_record(draft, store.revision(draft_id, number), store.user_by_name,
                                        claim(draft) if draft["encounter"] else None)
        if format == "text":
            if draft["encounter"] is None and not draft["finalised"]:  # a notebook draft: the note, as it always was
                note = record["note"]
                text = note if note.endswith("\n") else note + "\n"
            else:
                text = exports.export_text(record)
            return PlainTextResponse(text, headers={"Content-Disposition": f'attachment; filename="{name}.txt"'})
        try:
            bundle = exports.fhir_bundle(record)
        except exports.ExportError as e:
            raise ApiError(409, "not_signed", str(e)) from None
        if importlib.util.find_spec("fhir") is not None:  # the practice extra: never send a Bundle its models refuse
            exports.validate_fhir(bundle)
        return JSONResponse(bundle, media_type="application/fhir+json",
                            headers={"Content-Disposition": f'attachment; filename="{name}.fhir.json"'})

    @app.get("/api/metrics/edits")
    def api_edit_metrics(request: Request, threshold: float = 0.05, format: str = "json"):
        require(request, "admin")
        if not 0 <= threshold <= 1:
            raise ApiError(400, "bad_threshold", "threshold is a fraction of the first draft's words, 0 to 1")
        if format not in ("json", "jsonl"):
            raise ApiError(400, "bad_format", "format must be json or jsonl")
        cases = [{**c, "minimally_edited": c["edit_ratio"] <= threshold} for c in store.edit_cases()]
        if format == "jsonl":
            lines = "".join(json.dumps(_eval_case(c), ensure_ascii=False) + "\n" for c in cases)
            return Response(lines, media_type="application/x-ndjson",
                            headers={"Content-Disposition": 'attachment; filename="notedraft-edit-cases.jsonl"'})
        return _edit_summary(cases, threshold) | {"cases": cases}

    queries_for = importlib.import_module("notedraft.queries").queries_for
    review = practice.reviewer(check_report, grounding, queries_for)

    def redraft(request: Request, draft_id: int) -> dict:
        """After a round of answers: once no question of the note is open, a note nobody has edited is redrafted
        from the whole dictation (the template drafter, deterministic) — one revision per round, not per answer;
        an edited one keeps the scribe's words and is re-checked. A note that was waiting for the signature still
        is: the redraft is submitted again, and the answer says so."""
        draft = get(draft_id)
        if draft["finalised"] or draft["voided"]:
            return {"then": "nothing", "why": f"the note is {draft['status']}", "status": draft["status"]}
        if draft["open_queries"]:
            n = draft["open_queries"]
            return {"then": "waiting", "status": draft["status"],
                    "why": f"{n} question{'s' if n != 1 else ''} of this note still open: it is redrafted once "
                           f"{'they are' if n != 1 else 'it is'} answered"}
        draft_fn = drafting_stack()[0]
        answered = sorted((q for q in draft["sent_queries"] if q["answer"]), key=lambda q: (q["answered_at"], q["id"]))
        payer = "medicare" if draft["encounter"] and draft["encounter"]["payer"] == "medicare" else None
        codes = draft["codes_requested"] or None
        try:
            # Untouched: the note is what the drafter wrote from the dictation with the answers of some earlier
            # rounds (the latest redraft's), newest first; at most ten rounds back.
            untouched = False
            for before in range(draft["answer_rounds"], max(0, draft["answer_rounds"] - 10), -1):
                earlier = dictated_text.compose(draft["dictation"], [
                    {"text": q["answer"], "kind": q["kind"]} for q in answered if (q["round"] or 0) < before])[0]
                if draft_fn(earlier, codes, strategy="template", payer=payer).note == draft["note"]:
                    untouched = True
                    break
            if not untouched:
                return {"then": "rechecked", "why": "the note was edited, so it was not redrafted",
                        "status": draft["status"]}
            result = draft_fn(draft["dictation_full"], codes, strategy="template", payer=payer)
        except Exception as e:  # the answer is saved whatever happens here
            log.warning("redrafting after an answer failed: %s", type(e).__name__)
            return {"then": "rechecked", "why": "redrafting failed; the answer is saved", "status": draft["status"]}
        report = check(result.note, list(result.codes), draft["encounter"])
        who = author_of(None, request)
        try:
            rev = store.save_revision(draft_id, note=result.note, codes=list(result.codes), validation=report,
                                      base_revision=draft["revision"], author=who,
                                      grounding=grounding(result.note, draft["dictation_full"]))
            if draft["status"] == "submitted":
                store.submit(draft_id, revision=rev["revision"], author=who, cause="answers")
        except Conflict:
            return {"then": "rechecked", "why": "the note changed meanwhile", "status": draft["status"]}
        audit(request, "revise", draft_id, draft["encounter"] and draft["encounter"]["id"])
        return {"then": "redrafted", "revision": rev["revision"], "status": draft["status"]}

    def claim(draft: dict) -> dict:
        """The note's verdict as it travels (verdicts.py): today's validate() of the exported revision, with the
        encounter's payer and place, and the overrides of its signature."""
        number = draft["finalised"]["revision"] if draft["finalised"] else draft["revision"]
        revision = store.revision(draft["id"], number)
        report = check(revision["note"], revision["codes"], draft["encounter"])
        return verdicts.note_verdict(report, revision["codes"], draft["finalised"])

    helpers = SimpleNamespace(
        store=store, ApiError=ApiError, get=get, require=require, require_edit=require_edit, can_edit=can_edit,
        actor=actor, audit=audit, review=review, redraft=redraft, ACTION_WORDS=ACTION_WORDS, claim=claim,
        check_dates=check_dates, accounts=accounts, page=page, client_of=client_of, text_problem=text_problem)
    practice.add_routes(app, helpers)
    for module in ("encounters", "security", "worklist"):
        importlib.import_module(f"notedraft.web.{module}").add_routes(app, helpers)

    # -- pages ----------------------------------------------------------------------------------------------------
    @app.get("/", response_class=HTMLResponse)
    def index(request: Request, mrn: str | None = None, patient: str | None = None, date_from: str | None = None,
              date_to: str | None = None, physician: str | None = None, status: str | None = None,
              verdict: str | None = None, page_no: int = Query(1, alias="page")):
        require(request, "view")
        filters = list_filters(mrn, patient, _iso_date(date_from), _iso_date(date_to), physician,
                               status if status in ("draft", "submitted", "signed", "voided") else "",
                               verdict if verdict in ("supported", "unsupported") else "")
        page_no = max(1, min(page_no, 1_000_000))
        rows, total = listed(request, filters, page_no, store.LIST_PAGE)
        user = request.scope.get("notedraft_user")
        physicians = [u for u in store.users() if u["role"] == "physician" and u["active"]] if user else []
        pages = {"page": page_no, "total": total, "per_page": store.LIST_PAGE,
                 "next": page_no + 1 if page_no * store.LIST_PAGE < total else None,
                 "previous": page_no - 1 if page_no > 1 else None,
                 "query": "&".join(f"{k}={quote(v)}" for k, v in filters.items() if v)}
        return page(request, "index.html", drafts=rows, filters=filters, pages=pages,
                    strategies=drafting_stack()[1], physicians=physicians,
                    can_draft=user is None or may(user, "draft"))

    @app.get("/inbox", response_class=HTMLResponse)
    def inbox_page(request: Request):
        user = actor(request)
        queries = store.inbox(user["username"], include_answered=True)
        audit(request, "view.inbox", detail={"open": sum(1 for q in queries if not q["answer"])})
        return page(request, "inbox.html", queries=queries)

    @app.get("/admin", response_class=HTMLResponse)
    def admin_page(request: Request):
        require(request, "admin")
        cases = store.edit_cases()
        summary = _edit_summary([{**c, "minimally_edited": c["edit_ratio"] <= 0.05} for c in cases], 0.05)
        return page(request, "admin.html", metrics=summary, users=store.users(), log=store.access_log(200))

    @app.get("/login", response_class=HTMLResponse)
    def login_page(request: Request):
        if token is None and not accounts.enabled():
            return RedirectResponse("/", 303)
        return page(request, "login.html", accounts=accounts.enabled())

    @app.get("/drafts/{draft_id}", response_class=HTMLResponse)
    def editor(request: Request, draft_id: int):
        user = require(request, "view")
        try:
            draft = store.get_draft(draft_id)
        except NotFound as e:
            return page(request, "missing.html", 404, message=str(e))
        audit(request, "view", draft_id, draft["encounter"] and draft["encounter"]["id"])
        enc = draft["encounter"]
        draft["can"] = {
            "edit": can_edit(user, draft),
            "sign": user["role"] is None or (may(user, "sign") and enc is not None and not draft["voided"]
                                             and enc["physician"]["username"] == user["username"]),
            "export": user["role"] is None or may(user, "export"),
            "code": user["role"] is not None and may(user, "code"),
            "admin": user["role"] == "admin",
            "void": user["role"] is not None and enc is not None and not draft["finalised"] and not draft["voided"]
                    and (can_edit(user, draft) or user["role"] == "admin"),
        }
        draft["claim"] = claim(draft) if draft["finalised"] else None
        draft["possible_duplicates"] = [] if enc is None else [
            d for d in store.duplicates(enc["mrn"], enc["date_of_service"]) if d["id"] != draft_id]
        draft["physicians"] = [{"username": u["username"], "display_name": u["display_name"]} for u in store.users()
                               if u["role"] == "physician" and u["active"]] if user["role"] == "admin" else []
        # Rows written before replies were capped can hold megabytes of raw LLM text: never render them whole.
        draft["attempts"] = _cap_attempts(draft["attempts"])
        if isinstance(draft["generated"].get("attempts"), list):
            draft["generated"]["attempts"] = _cap_attempts(draft["generated"]["attempts"])
        return page(request, "editor.html", draft=draft, attestation=ATTESTATION)  # the sign panel quotes it exactly

    @app.get("/drafts/{draft_id}/history", response_class=HTMLResponse)
    def history(request: Request, draft_id: int):
        require(request, "view")
        try:
            draft = store.get_draft(draft_id)
            revisions = store.revisions(draft_id)
        except NotFound as e:
            return page(request, "missing.html", 404, message=str(e))
        audit(request, "view.history", draft_id, draft["encounter"] and draft["encounter"]["id"])
        previous = ""
        for r in revisions:
            r["diff"] = word_diff(previous, r["note"]) if r["revision"] > 1 else None
            r["same_text"] = r["note"] == previous
            r["errors"] = sum(1 for f in r["validation"].get("findings", []) if f.get("severity") == "error")
            r["warnings"] = sum(1 for f in r["validation"].get("findings", []) if f.get("severity") == "warning")
            previous = r["note"]
        return page(request, "history.html", draft=draft, revisions=list(reversed(revisions)))

    return app


# -- helpers --------------------------------------------------------------------------------------------------------
def _iso_date(value: str | None) -> str:
    """A YYYY-MM-DD filter value, or "" for anything else (a bad filter shows everything, never a 500)."""
    try:
        return date.fromisoformat(value).isoformat() if value else ""
    except ValueError:
        return ""


def _code_error_types() -> tuple[type[BaseException], ...]:
    try:
        return (importlib.import_module("notedraft.codes").CodeError,)
    except (ImportError, AttributeError):
        return ()


def _code_parser() -> Callable | None:
    try:
        return importlib.import_module("notedraft.codes").parse_code_lines
    except (ImportError, AttributeError):
        return None


def _cap_attempts(attempts: list[dict]) -> list[dict]:
    """Attempts with each raw LLM reply cut to MAX_RAW_CHARS, marked, with its full length kept."""
    capped = []
    for a in attempts:
        raw = a.get("raw")
        if isinstance(raw, str) and len(raw) > MAX_RAW_CHARS:
            dropped = len(raw) - MAX_RAW_CHARS
            a = {**a, "raw": raw[:MAX_RAW_CHARS] + f"\n[notedraft: reply truncated, {dropped} of {len(raw)} "
                 "characters not stored]", "raw_chars": len(raw), "raw_truncated": True}
        capped.append(a)
    return capped


def _prompt_version(attempts: list[dict]) -> str | None:
    versions = sorted({v for a in attempts if isinstance(v := a.get("prompt_version"), str) and v})
    return ", ".join(versions) or None


def _edit_summary(cases: list[dict], threshold: float) -> dict:
    minimal = sum(1 for c in cases if c["minimally_edited"])
    return {
        "finalised": len(cases),
        "minimally_edited": minimal,
        "rate": round(minimal / len(cases), 4) if cases else None,
        "threshold": threshold,
        "measure": "words inserted, deleted or replaced (difflib) from revision 1 to the finalised revision, "
        "over revision 1's word count; minimally edited when that ratio <= threshold",
    }


def _eval_case(case: dict) -> dict:
    """One eval case: the dictation and codes in, the scribe-approved note as the reference output."""
    return {
        "id": f"editor-{case['id']}",
        "dictation": case["dictation"],
        "codes": case["final_codes"],
        "strategy": case["strategy"],
        "model": case["model"],
        "prompt_version": case["prompt_version"],
        "draft": case["first_draft"],
        "reference_note": case["final_note"],
        "reference_supported": case["final_supported"],
        "override_reason": case["override_reason"],
        "edit_distance": case["edit_distance"],
        "edit_ratio": case["edit_ratio"],
        "minimally_edited": case["minimally_edited"],
    }


def text_problem(text: str) -> str | None:
    """Why `text` is refused at the edge (the one rule for both databases), or None. Tab, LF and CR are text."""
    for i, ch in enumerate(text):
        o = ord(ch)
        if (o < 0x20 and ch not in "\t\n\r") or 0x7F <= o <= 0x9F:
            name = unicodedata.name(ch, "") or {0: "NUL"}.get(o, "control character")
            return (f"the text holds a control character (U+{o:04X}{' ' + name if name else ''}) at character "
                    f"{i + 1}; remove it and send again (often from a bad copy-paste)")
        if 0xD800 <= o <= 0xDFFF:
            return ("the text holds an unpaired UTF-16 surrogate (a broken character, often from a bad copy-paste); "
                    "remove it and send again")
    return None


def _bad_text_at(value: Any, where: str = "body") -> tuple[str, str] | None:
    """(where, why) for the first string in a parsed JSON value that `text_problem` refuses, or None."""
    if isinstance(value, str):
        why = text_problem(value)
        return None if why is None else (where, why)
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = ((f"[{i}]", v) for i, v in enumerate(value))
    else:
        return None
    for key, item in items:
        if isinstance(key, str) and (why := text_problem(key)) is not None:
            return f"{where} (a key)", why
        found = _bad_text_at(item, key if where == "body" else (f"{where}{key}" if key.startswith("[") else f"{where}.{key}"))
        if found is not None:
            return found
    return None


# Only a body that spells a control character or a surrogate as a JSON escape can hold one (raw control bytes are
# invalid JSON, and raw UTF-8 cannot encode a surrogate); C1 controls can also come raw (U+0080-U+009F in UTF-8).
_SUSPECT_ESCAPE = re.compile(rb"\\u(?:00[01][0-9a-fA-F]|007[fF]|00[89][0-9a-fA-F]|[dD][89a-fA-F])|\x7f|\xc2[\x80-\x9f]")


def _query_problem(raw: bytes) -> tuple[str, str] | None:
    """(parameter, why) for a query-string value that is not UTF-8 or holds a refused character."""
    from urllib.parse import parse_qsl, unquote_to_bytes

    for pair in raw.split(b"&"):
        if not pair:
            continue
        key, _, value = pair.partition(b"=")
        name = unquote_to_bytes(key.replace(b"+", b" ")).decode("utf-8", "replace")
        try:
            text = unquote_to_bytes(value.replace(b"+", b" ")).decode("utf-8")
        except UnicodeDecodeError:
            return name, "the value is not valid UTF-8"
        if (why := text_problem(text)) is not None:
            return name, why
    del parse_qsl
    return None


def is_loopback(host: str) -> bool:
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# -- middleware -----------------------------------------------------------------------------------------------------
async def _send_json(send, status: int, payload: dict, headers: list[tuple[bytes, bytes]] = ()) -> None:
    body = json.dumps(payload).encode()
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *headers],
    })
    await send({"type": "http.response.body", "body": body})


class _Guard:
    """Size limit, Host check, token auth, CSRF and security headers, in that order (see the module docstring)."""

    def __init__(self, app, *, token: str | None, max_body: int, allowed_hosts: set[str] | None, sessions: Sessions,
                 accounts: Accounts):
        self.app, self.token, self.max_body, self.sessions, self.accounts = app, token, max_body, sessions, accounts
        self.explicit_hosts = allowed_hosts

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        cookies = _cookies(headers.get("cookie", ""))
        path, method = scope["path"], scope["method"]
        is_api = path.startswith("/api/")

        async def deny(status: int, error: str, message: str):
            await _send_json(send, status, {"error": error, "message": message}, _SECURITY_HEADERS)

        # 1. size
        declared = headers.get("content-length")
        if declared and (not declared.isdigit() or int(declared) > self.max_body):
            return await deny(413, "too_large", f"the request is larger than {self.max_body // 1024} KB")
        chunks, size, more = [], 0, method in UNSAFE_METHODS or bool(declared)
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_body:
                return await deny(413, "too_large", f"the request is larger than {self.max_body // 1024} KB")
            more = message.get("more_body", False)
        body = b"".join(chunks)
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        # 2. host: with accounts or a token, any name the proxy forwards; otherwise loopback names only
        with_accounts = await run_in_threadpool(self.accounts.enabled)
        allowed = self.explicit_hosts
        if allowed is None and not (self.token or with_accounts):
            allowed = LOOPBACK_HOSTS
        host = headers.get("host", "")
        hostname = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        if allowed is not None and hostname not in allowed:
            return await deny(421, "bad_host", "this editor only answers to its own loopback address")

        # 3. auth: accounts (a session cookie per person) once any exists; else the token, if one is set
        open_path = path.startswith("/static/") or path == "/login" or path == "/api/login" or path == "/api/csrf"
        has_bearer = False
        if with_accounts:
            bearer = headers.get("authorization", "")
            if bearer.startswith("Bearer "):
                found = await run_in_threadpool(self.accounts.token_user, bearer[7:].strip())
                if found is None:
                    return await deny(401, "unauthorised", "this API token is not valid (revoked, or its account is "
                                      "disabled)")
                user, api_token = found
                scope["notedraft_api_token"] = api_token
                has_bearer = True
            else:
                user = await run_in_threadpool(self.accounts.user_for, cookies.get(SESSION_COOKIE, ""))
            if user is not None:
                scope["notedraft_user"] = user
            elif not open_path:
                if is_api or method != "GET":
                    return await deny(401, "unauthorised", "log in first (your session may have expired)")
                await send({"type": "http.response.start", "status": 303,
                            "headers": [(b"location", b"/login"), (b"content-length", b"0"), *_SECURITY_HEADERS]})
                return await send({"type": "http.response.body", "body": b""})
        else:
            bearer = headers.get("authorization", "")
            has_bearer = bool(self.token) and hmac.compare_digest(bearer.encode(), f"Bearer {self.token}".encode())
        if self.token and not with_accounts and not open_path and not has_bearer:
            if not self.sessions.valid(cookies.get(AUTH_COOKIE, "")):
                if is_api or method != "GET":
                    return await deny(401, "unauthorised", "this editor needs its token: log in or send a bearer token")
                await send({"type": "http.response.start", "status": 303,
                            "headers": [(b"location", b"/login"), (b"content-length", b"0"), *_SECURITY_HEADERS]})
                return await send({"type": "http.response.body", "body": b""})

        # 4. CSRF
        csrf = cookies.get(CSRF_COOKIE, "")
        new_csrf = not (16 <= len(csrf) <= 128 and csrf.isalnum())
        if new_csrf:
            csrf = secrets.token_hex(16)
        if method in UNSAFE_METHODS and not has_bearer:
            site = headers.get("sec-fetch-site")
            origin = headers.get("origin")
            scheme = scope.get("scheme", "http")
            if site not in (None, "same-origin", "none") or (origin and origin != f"{scheme}://{host}"):
                return await deny(403, "csrf", "cross-site request refused")
            sent = headers.get(CSRF_HEADER, "")
            if new_csrf or not sent or not hmac.compare_digest(sent.encode(), csrf.encode()):
                return await deny(
                    403, "csrf", "missing or wrong X-CSRF-Token header: reload the page (scripts: GET /api/csrf first)"
                )
        scope["notedraft_csrf"] = csrf

        # 5. text at the edge: UTF-8, and no control character or lone surrogate in any field (the module docstring)
        if body:
            try:
                body.decode("utf-8")
            except UnicodeDecodeError as e:
                return await deny(400, "bad_text", f"the request body is not valid UTF-8 (byte {e.start + 1}); "
                                  "send the text as UTF-8")
            if _SUSPECT_ESCAPE.search(body):
                try:
                    found = _bad_text_at(json.loads(body))
                except ValueError:
                    found = None  # not JSON: the handler reports that
                if found is not None:
                    return await deny(400, "bad_text", f"{found[0]}: {found[1]}")
        if scope.get("query_string") and (found := _query_problem(scope["query_string"])) is not None:
            return await deny(400, "bad_text", f"{found[0]}: {found[1]}")

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                extra = list(_SECURITY_HEADERS)
                if not path.startswith("/static/"):
                    extra.append((b"cache-control", b"no-store"))
                if new_csrf:
                    secure = "; Secure" if scope.get("scheme") == "https" else ""  # behind a TLS proxy
                    extra.append((b"set-cookie", f"{CSRF_COOKIE}={csrf}; Path=/; HttpOnly; SameSite=Lax{secure}".encode()))
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, replay, send_with_headers)


_SECURITY_HEADERS = (
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
)


def _cookies(header: str) -> dict[str, str]:
    jar = SimpleCookie()
    try:
        jar.load(header)
    except Exception:  # a malformed cookie header is treated as no cookies
        return {}
    return {k: m.value for k, m in jar.items()}


class EditorApp(FastAPI):
    """FastAPI whose unhandled exceptions are logged as type + stack frames only, never with their message.

    Starlette's ServerErrorMiddleware sends the JSON 500 (see `_crash`) and then re-raises so that the server can
    log it; uvicorn would print the message, which could quote a note. The re-raise stops here instead.
    """

    async def __call__(self, scope, receive, send):
        try:
            await super().__call__(scope, receive, send)
        except Exception as exc:
            error_id = scope.setdefault("notedraft_error_id", secrets.token_hex(4))
            frames = "".join(traceback.format_list(traceback.extract_tb(exc.__traceback__)))
            log.error(
                "unhandled %s (error id %s) in %s %s; message withheld\n%s",
                type(exc).__name__, error_id, scope.get("method"), scope.get("path"), frames,
            )
