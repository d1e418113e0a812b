"""A person's own credentials: password change, a second factor (TOTP), API tokens; and an administrator's reset.

- Changing one's password needs the current one (and the TOTP code once that is on); it ends every other session
  of the account. An administrator's reset sets a new password, ends every session and revokes the API tokens
  (a reset is what happens when an account may be in someone else's hands).
- TOTP: `setup` makes a secret (shown once, as text and as an otpauth:// URI for an authenticator app), `enable`
  turns it on when a code from it checks out, `disable` needs the password and a code. An administrator can
  remove a lost second factor.
- API tokens: `ndt_` + 256 random bits, shown once; the store keeps the SHA-256. A token acts as its account,
  within its scope (read: view and export; write: also draft, answer, addenda, code — never sign, never manage
  accounts or credentials), until revoked or the account is disabled. None of these routes takes a token.
"""

from __future__ import annotations

import secrets
from typing import Literal

from fastapi import Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field

from .accounts import SESSION_COOKIE, hash_password, password_problem, session_hash, totp_step


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PasswordIn(_Body):
    current: str = Field(max_length=1000)
    new: str = Field(max_length=1000)
    totp: str | None = Field(default=None, max_length=12)


class ResetIn(_Body):
    password: str = Field(max_length=1000)


class CodeIn(_Body):
    code: str = Field(max_length=12)
    password: str | None = Field(default=None, max_length=1000)


class TokenIn(_Body):
    name: str = Field(min_length=1, max_length=80)
    scope: Literal["read", "write"] = "read"


def add_routes(app, h) -> None:
    store, ApiError, accounts = h.store, h.ApiError, h.accounts

    def me(request: Request) -> dict:
        user = request.scope.get("notedraft_user")
        if user is None:
            raise ApiError(400, "no_accounts", "this editor has no accounts")
        if request.scope.get("notedraft_api_token") is not None:
            raise ApiError(403, "forbidden", "an API token cannot change passwords, second factors or tokens: "
                           "log in in the editor")
        return store.user_by_name(user["username"])

    def check_password(user: dict, password: str | None) -> None:
        from .accounts import _hasher

        if not password or not _hasher().verify(password, user["password_hash"]):
            raise ApiError(403, "wrong_password", "your current password is not right", keep=True)

    def check_code(user: dict, code: str | None) -> None:
        if user["totp_secret"] and not accounts.check_totp(user["username"], user["totp_secret"], code or ""):
            raise ApiError(403, "wrong_code", "the authenticator code is not right (or was already used)", keep=True)

    @app.post("/api/me/password")
    def api_change_password(request: Request, body: PasswordIn):
        user = me(request)
        check_password(user, body.current)
        check_code(user, body.totp)
        if problem := password_problem(body.new, user["username"]):
            raise ApiError(400, "bad_password", problem)
        if body.new == body.current:
            raise ApiError(400, "bad_password", "the new password is the current one")
        store.set_password(user["username"], hash_password(body.new),
                           keep_session=session_hash(request.cookies.get(SESSION_COOKIE, "")))
        h.audit(request, "password.change")
        return {"ok": True, "other_sessions_ended": True}

    @app.post("/api/users/{username}/password")
    def api_reset_password(request: Request, username: str, body: ResetIn):
        h.require(request, "admin")
        if request.scope.get("notedraft_api_token") is not None:
            raise ApiError(403, "forbidden", "an API token cannot reset passwords")
        person = store.user_by_name(username)
        if person is None:
            raise ApiError(404, "not_found", f"no account named {username!r}")
        if problem := password_problem(body.password, username):
            raise ApiError(400, "bad_password", problem)
        store.set_password(username, hash_password(body.password), revoke_tokens=True)
        h.audit(request, "password.reset", detail={"username": username})
        return {"ok": True, "sessions_ended": True, "tokens_revoked": True}

    @app.post("/api/me/totp/setup")
    def api_totp_setup(request: Request):
        import pyotp

        user = me(request)
        if user["totp_secret"]:
            raise ApiError(409, "totp_on", "the second factor is already on: turn it off first to make a new one")
        secret = pyotp.random_base32()
        store.set_totp_pending(user["username"], secret)
        uri = pyotp.TOTP(secret).provisioning_uri(name=user["username"], issuer_name="notedraft")
        h.audit(request, "totp.setup")
        return {"secret": secret, "uri": uri}

    @app.post("/api/me/totp/enable")
    def api_totp_enable(request: Request, body: CodeIn):
        user = me(request)
        if not user["totp_pending"]:
            raise ApiError(409, "no_totp_setup", "start with POST /api/me/totp/setup")
        step = totp_step(user["totp_pending"], body.code, accounts.clock())
        if step is None:
            raise ApiError(400, "wrong_code", "that code does not match the new secret: check the authenticator's "
                           "time and try the current code")
        store.enable_totp(user["username"], user["totp_pending"], step)
        h.audit(request, "totp.enable")
        return {"ok": True, "totp": True}

    @app.post("/api/me/totp/disable")
    def api_totp_disable(request: Request, body: CodeIn):
        user = me(request)
        check_password(user, body.password)
        check_code(user, body.code)
        store.disable_totp(user["username"])
        h.audit(request, "totp.disable")
        return {"ok": True, "totp": False}

    @app.post("/api/users/{username}/totp/reset")
    def api_totp_reset(request: Request, username: str):
        h.require(request, "admin")
        if store.user_by_name(username) is None:
            raise ApiError(404, "not_found", f"no account named {username!r}")
        store.disable_totp(username)
        h.audit(request, "totp.reset", detail={"username": username})
        return {"ok": True, "totp": False}

    @app.get("/account", response_class=HTMLResponse)
    def account_page(request: Request):
        user = me(request)
        return h.page(request, "account.html", totp=bool(user["totp_secret"]), tokens=store.tokens(user["id"]),
                      idle_minutes=int(accounts.idle // 60))

    @app.get("/api/me/tokens")
    def api_tokens(request: Request):
        user = me(request)
        return {"tokens": store.tokens(user["id"])}

    @app.post("/api/me/tokens", status_code=201)
    def api_new_token(request: Request, body: TokenIn):
        user = me(request)
        if h.text_problem(body.name):
            raise ApiError(400, "bad_text", f"name: {h.text_problem(body.name)}")
        token = "ndt_" + secrets.token_urlsafe(32)
        row = store.add_token(user_id=user["id"], name=body.name.strip(), token_hash=session_hash(token),
                              scope=body.scope)
        h.audit(request, "token.create", detail={"token": row["id"], "scope": body.scope})
        return {**row, "token": token, "note": "shown once: the editor keeps only its SHA-256"}

    @app.post("/api/me/tokens/{token_id}/revoke")
    def api_revoke_token(request: Request, token_id: int):
        user = me(request)
        admin = user["role"] == "admin"
        if not (1 <= token_id <= 2**63 - 1) or not store.revoke_token(token_id, user_id=None if admin else user["id"]):
            raise ApiError(404, "not_found", f"no live token {token_id} of yours")
        h.audit(request, "token.revoke", detail={"token": token_id})
        return {"ok": True, "revoked": token_id}

