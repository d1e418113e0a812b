"""The practice workflow over the editor: submit for signature, sign with an attestation, the query loop,
addenda, accounts and the access log — routes, plus the pure pieces they share (the review of a text, the
attention order of the list, the export record).

The flow: a scribe drafts a note for an encounter and edits it; every check recomputes the findings and the
physician queries from the current text. The scribe sends the queries to the encounter's physician (an inbox
with a count); the physician answers in a sentence, which is appended to the dictation as dictated text, and
the note is regenerated (when nobody has edited the drafted text) or re-checked. The scribe submits; only the
encounter's physician signs, attesting, and gives a reason for each finding still open (a code requirement not
met, or a statement the dictation does not support). A signed note is locked; what follows is an addendum.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field

from .accounts import AccountError, add_user, may
from .store import ATTESTATION, Conflict, Forbidden, NotFound, NotSupported, StoreError

MAX_ANSWER = 2000
MAX_ADDENDUM = 20_000
# An override reason is the physician's own account of why a finding does not stand: at least this much of it.
MIN_REASON_CHARS = 15
MIN_REASON_WORDS = 3


def reason_problems(blocking: list[dict], given: dict[str, str], same_for_all: bool) -> tuple[list[dict], str | None]:
    """(findings still without an acceptable reason, why). Each finding needs its own reason of some substance;
    one reason pasted for several findings is refused unless the physician confirms it applies to all of them."""
    def substantial(r: str) -> bool:
        return len(r) >= MIN_REASON_CHARS and len(r.split()) >= MIN_REASON_WORDS

    missing = [b for b in blocking if not substantial(given.get(b["key"], ""))]
    if missing:
        return missing, (f"{len(missing)} finding(s) need your reason before you sign (at least {MIN_REASON_WORDS} "
                         f"words and {MIN_REASON_CHARS} characters each): fix the note, or give a reason for each")
    reasons = [given[b["key"]] for b in blocking]
    if len(blocking) > 1 and len(set(reasons)) < len(reasons):
        if not same_for_all:
            repeated = {r for r in reasons if reasons.count(r) > 1}
            return ([b for b in blocking if given[b["key"]] in repeated],
                    "the same reason was given for several findings: give each its own reason, or confirm that "
                    "one reason applies to all of them")
        if len(set(reasons)) != 1:
            return blocking, "to use one reason for all the findings, give that one reason for each"
    return [], None


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RevisionIn(_Body):
    revision: int


class Override(_Body):
    key: str = Field(max_length=2000)
    reason: str = Field(max_length=2000)


class SignIn(_Body):
    revision: int
    attest: bool = Field(description="the physician attests: " + ATTESTATION)
    overrides: list[Override] = Field(default_factory=list, max_length=100)
    same_reason_for_all: bool = Field(default=False, description="the physician confirms that one reason, given "
                                      "for every finding, applies to each of them")


class QueriesIn(_Body):
    revision: int
    questions: list[str] | None = Field(default=None, max_length=50)
    kind: Literal["history", "procedure"] | None = Field(
        default=None, description="for questions of your own: about the patient's history (the answer joins the "
        "dictation as history) or about today's procedure")


class AnswerIn(_Body):
    text: str = Field(max_length=MAX_ANSWER)


class RoundAnswer(_Body):
    query_id: int
    text: str = Field(max_length=MAX_ANSWER)


class AnswersIn(_Body):
    answers: list[RoundAnswer] = Field(min_length=1, max_length=50)


class AddendumIn(_Body):
    text: str = Field(max_length=MAX_ADDENDUM)


class UserIn(_Body):
    username: str = Field(max_length=40)
    display_name: str = Field(max_length=120)
    role: str = Field(max_length=20)
    password: str = Field(max_length=1000)
    npi: str | None = Field(default=None, max_length=10)


class ActiveIn(_Body):
    active: bool


# -- pure pieces ------------------------------------------------------------------------------------------------
def blocking_findings(validation: dict, grounding: list[dict]) -> list[dict]:
    """What a signature must override: each error of the validator and each statement the dictation does not
    support. The key is the finding's own words, so a reason given for it stays attached to it."""
    out = []
    for source, findings in (("code", validation.get("findings", [])), ("dictation", grounding)):
        for f in findings:
            if f.get("severity", "error") != "error":
                continue
            key = f"{f.get('rule', '')}: {f.get('message', '')}"
            if all(b["key"] != key for b in out):
                out.append({"key": key, "rule": f.get("rule", ""), "message": f.get("message", ""), "source": source})
    return out


ATTENTION = (
    "waiting for your signature",
    "needs work",
    "waiting for the physician's answer",
    "ready to submit",
    "waiting for signature",
    "signed",
)


def attention(row: dict, user: dict | None) -> int:
    """Lower is more urgent; the reason is ATTENTION[rank]."""
    if row["status"] == "submitted":
        return 0 if user and row.get("physician") == user.get("username") else 4
    if row["status"] == "signed":
        return 5
    if row.get("open_queries"):
        return 2
    return 1 if not row["supported"] else 3


def sort_by_attention(rows: list[dict], user: dict | None) -> list[dict]:
    for row in rows:
        row["attention"] = attention(row, user)
        row["attention_reason"] = ATTENTION[row["attention"]]
    return sorted(rows, key=lambda r: (r["attention"], -r["id"]))


def _person(user: dict | None, username: str) -> dict:
    if user is None:
        return {"id": None, "username": username, "display_name": username, "npi": None}
    return {k: user.get(k) for k in ("id", "username", "display_name", "npi")}


def export_record(draft: dict, revision: dict, lookup, claim: dict | None = None) -> dict:
    """What notedraft.exports needs: the encounter, the exported revision, its signature and addenda, and the
    verdict of each code line (verdicts.py), so an export never presents an overridden line as supported."""
    fin = draft["finalised"]
    signature = None
    if fin:
        signature = {
            "signer": _person(lookup(fin["author"]), fin["author"]),
            "signed_at": fin["created_at"],
            "revision": fin["revision"],
            "attestation": fin.get("attestation") or ATTESTATION,
            "overrides": fin.get("overrides") or (
                [{"rule": "override", "message": "unsupported note", "reason": fin["override_reason"]}]
                if fin.get("override_reason") else []),
        }
    encounter = None
    if draft["encounter"]:
        encounter = {**draft["encounter"]}
    return {
        "draft_id": draft["id"],
        "status": draft["status"],
        "encounter": encounter,
        "note": revision["note"],
        "codes": revision["codes"],
        "facts": (revision.get("validation") or {}).get("facts") or {},
        "signature": signature,
        "addenda": [{"text": a["text"], "author": _person(lookup(a["author"]), a["author"]), "created_at": a["created_at"]}
                    for a in draft["addenda"]],
        **({"verdicts": claim["lines"], "verdict": claim["label"]} if claim else {}),
        **({"voided": {"reason": draft["voided"]["reason"], "author": draft["voided"]["author"],
                       "created_at": draft["voided"]["created_at"]}} if draft.get("voided") else {}),
    }


# -- routes -----------------------------------------------------------------------------------------------------
def add_routes(app, h) -> None:
    """`h`: the app's helpers (store, ApiError, get, require, actor, audit, review, redraft, page)."""
    store, ApiError = h.store, h.ApiError

    def physician_only(request: Request, draft: dict, action: str) -> dict:
        user = h.require(request, action)
        enc = draft["encounter"]
        if user["role"] is not None and enc is not None and enc["physician"]["username"] != user["username"]:
            raise ApiError(403, "forbidden", f"only {enc['physician']['display_name']}, this encounter's physician, "
                           f"can {h.ACTION_WORDS[action]}")
        return user

    @app.post("/api/drafts/{draft_id}/submit")
    def api_submit(request: Request, draft_id: int, body: RevisionIn):
        """Send the latest revision to the encounter's physician for signature."""
        draft = h.get(draft_id)
        user = h.require_edit(request, draft)
        if draft["encounter"] is None:
            raise ApiError(400, "no_encounter", "this draft has no encounter, so no physician to sign it")
        try:
            out = store.submit(draft_id, revision=body.revision, author=user["username"])
        except Conflict as e:
            raise ApiError(409, "conflict", str(e), current=e.current) from None
        h.audit(request, "submit", draft_id, draft["encounter"]["id"])
        return {"id": draft_id, "status": out["status"], "submitted": out["submitted"]}

    @app.post("/api/drafts/{draft_id}/sign")
    def api_sign(request: Request, draft_id: int, body: SignIn):
        """The physician signs: an attestation, and a reason of their own for each finding still open."""
        draft = h.get(draft_id)
        user = physician_only(request, draft, "sign")
        if draft["finalised"]:  # before judging the text: signing twice is a conflict, whatever the findings
            raise ApiError(409, "conflict", f"draft {draft_id} is already signed: add an addendum instead",
                           current=draft)
        if draft["voided"]:
            raise ApiError(409, "voided", f"draft {draft_id} is voided: it is not signed")
        if not body.attest:
            raise ApiError(400, "no_attestation", f"signing needs the attestation: {ATTESTATION!r}")
        try:
            revision = store.revision(draft_id, body.revision)
        except NotFound as e:
            raise ApiError(409, "conflict", str(e), current=h.get(draft_id)) from None
        review = h.review(draft, revision["note"], revision["codes"])
        given = {o.key: " ".join(o.reason.split()) for o in body.overrides}
        missing, why = reason_problems(review["blocking"], given, body.same_reason_for_all)
        if missing:
            raise ApiError(422, "needs_reasons", why, blocking=missing, validation=review["validation"])
        one_for_all = body.same_reason_for_all and len(review["blocking"]) > 1
        overrides = [{**b, "reason": given[b["key"]], **({"applies_to_all": True} if one_for_all else {})}
                     for b in review["blocking"]]
        try:
            fin = store.finalise(
                draft_id, revision=body.revision, validation=review["validation"], author=user["username"],
                override_reason="; ".join(dict.fromkeys(o["reason"] for o in overrides)) or None,
                attestation=ATTESTATION, overrides=overrides,
            )
        except NotSupported as e:
            raise ApiError(422, "not_supported", str(e), validation=review["validation"]) from None
        except Conflict as e:
            raise ApiError(409, "conflict", str(e), current=e.current) from None
        h.audit(request, "sign", draft_id, draft["encounter"] and draft["encounter"]["id"])
        return {"id": draft_id, "signed": fin, "finalised": fin}

    @app.post("/api/drafts/{draft_id}/addenda", status_code=201)
    def api_addendum(request: Request, draft_id: int, body: AddendumIn):
        """Text after signing: dated, attributed, never an edit of the signed note."""
        draft = h.get(draft_id)
        user = physician_only(request, draft, "addendum")
        if not body.text.strip():
            raise ApiError(400, "empty", "the addendum is empty")
        try:
            add = store.add_addendum(draft_id, text=body.text.strip(), author=user["username"])
        except StoreError as e:
            raise ApiError(409, "not_signed", str(e)) from None
        h.audit(request, "addendum", draft_id)
        return {"id": draft_id, "addendum": add}

    @app.post("/api/drafts/{draft_id}/queries", status_code=201)
    def api_send_queries(request: Request, draft_id: int, body: QueriesIn):
        """Send questions to the encounter's physician: the ones given, or the ones the current text raises."""
        draft = h.get(draft_id)
        user = h.require_edit(request, draft)
        if draft["encounter"] is None:
            raise ApiError(400, "no_encounter", "this draft has no encounter, so no physician to ask")
        if draft["finalised"]:
            raise ApiError(409, "conflict", "the note is signed; ask in an addendum instead", current=draft)
        if body.questions is None:
            revision = store.revision(draft_id, draft["revision"])
            questions = h.review(draft, revision["note"], revision["codes"])["queries"]
            kind, rule = None, "query"  # each one's kind follows from the question (dictation.question_kind)
        else:
            questions = [q.strip()[:500] for q in body.questions if q.strip()]
            kind, rule = body.kind or "procedure", "query.own"
        if not questions:
            raise ApiError(400, "no_questions", "there is nothing to ask: the note raises no question")
        try:
            sent = store.send_queries(draft_id, revision=body.revision, sent_by=user["username"],
                                      sent_to=draft["encounter"]["physician"]["username"],
                                      queries=[{"rule": rule, "question": q, "kind": kind} for q in questions])
        except Conflict as e:
            raise ApiError(409, "conflict", str(e)) from None
        h.audit(request, "query.send", draft_id, draft["encounter"]["id"])
        return {"id": draft_id, "sent": sent, "already_open": len(questions) - len(sent)}

    @app.get("/api/inbox")
    def api_inbox(request: Request, answered: bool = False):
        user = h.actor(request)
        queries = store.inbox(user["username"], include_answered=answered)
        h.audit(request, "view.inbox", detail={"open": sum(1 for q in queries if not q["answer"])})
        return {"queries": queries}

    def answer_round(request: Request, answers: list[tuple[int, str]]) -> dict:
        user = h.require(request, "answer")
        if any(not text.strip() for _, text in answers):
            raise ApiError(400, "empty", "an answer is empty: answer in a sentence, as you would dictate it")
        try:
            done = store.answer_queries([(qid, text.strip()) for qid, text in answers], author=user["username"])
        except NotFound as e:
            raise ApiError(404, "not_found", str(e)) from None
        except Forbidden as e:
            raise ApiError(403, "forbidden", str(e)) from None
        except Conflict as e:
            raise ApiError(409, "conflict", str(e)) from None
        except StoreError as e:
            raise ApiError(400, "bad_request", str(e)) from None
        draft_id = done[0]["draft_id"]
        h.audit(request, "query.answer", draft_id, detail={"answers": len(done)})
        return {"answered": done, **h.redraft(request, draft_id)}

    @app.post("/api/queries/{query_id}/answer")
    def api_answer(request: Request, query_id: int, body: AnswerIn):
        """The physician's answer joins the dictation; once the note's questions are all answered, the note is
        redrafted if nobody edited it, else re-checked."""
        out = answer_round(request, [(query_id, body.text)])
        return {"query": out.pop("answered")[0], **out}

    @app.post("/api/drafts/{draft_id}/answers")
    def api_answers(request: Request, draft_id: int, body: AnswersIn):
        """Several answers to one note's questions at once: one round, one redraft, one revision."""
        h.get(draft_id)  # 404 for no such note
        for a in body.answers:
            try:
                if store.query(a.query_id)["draft_id"] != draft_id:
                    raise ApiError(400, "bad_request", f"every answer must be to a question of note #{draft_id}")
            except NotFound as e:
                raise ApiError(404, "not_found", str(e)) from None
        return answer_round(request, [(a.query_id, a.text) for a in body.answers])

    @app.get("/api/me")
    def api_me(request: Request):
        user = request.scope.get("notedraft_user")
        if user is None:
            return {"user": None, "accounts": False}
        return {"user": user, "accounts": True, "inbox": len(store.inbox(user["username"]))}

    @app.get("/api/users")
    def api_users(request: Request):
        h.require(request, "admin")
        return {"users": store.users()}

    @app.post("/api/users", status_code=201)
    def api_add_user(request: Request, body: UserIn):
        h.require(request, "admin")
        if request.scope.get("notedraft_user") is None:
            raise ApiError(403, "forbidden", "create the first account with `notedraft users add`")
        try:
            user = add_user(store, username=body.username, display_name=body.display_name, role=body.role,
                            password=body.password, npi=body.npi or None)
        except AccountError as e:
            raise ApiError(400, "bad_account", str(e)) from None
        h.audit(request, "user.add")
        return {"user": user}

    @app.post("/api/users/{username}/active")
    def api_user_active(request: Request, username: str, body: ActiveIn):
        me = h.require(request, "admin")
        if username == me["username"] and not body.active:
            raise ApiError(400, "bad_request", "you cannot disable your own account")
        try:
            store.set_active(username, body.active)
        except NotFound as e:
            raise ApiError(404, "not_found", str(e)) from None
        h.audit(request, "user.enable" if body.active else "user.disable")
        return {"username": username, "active": body.active}

    @app.get("/api/access-log")
    def api_access_log(request: Request, draft_id: int | None = None, limit: int = 500):
        h.require(request, "admin")
        return {"entries": store.access_log(max(1, min(limit, 5000)), draft_id)}


def reviewer(check_report, grounding, queries_for) -> Any:
    """review(draft, note, codes): the live check the editor, the query loop and the signature all share."""

    def review(draft: dict, note: str, codes: list[str]) -> dict:
        report = check_report(note, codes, draft["encounter"])
        validation = report.as_json()
        ground = grounding(note, draft["dictation_full"])
        questions = queries_for(report.facts, report)
        return {"validation": validation, "grounding": ground, "queries": questions,
                "blocking": blocking_findings(validation, ground)}

    return review


__all__ = ["add_routes", "reviewer", "sort_by_attention", "export_record", "may"]
