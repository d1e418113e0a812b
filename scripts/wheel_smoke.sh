#!/usr/bin/env bash
# Installs the way users install it: build the sdist and the wheel (and a wheel from the sdist), install the wheel
# with the practice extra into a fresh venv in a temporary folder, and use it from there as a user would (no checkout
# on the path, NOTEDRAFT_HOME unset): the README's main command, validate, the README's audit command, codes, the eval gate, the editor over
# real HTTP, and the practice deployment the README shows (accounts, sign-off, exports; SQLite and PostgreSQL). Prints a progress line per step; any failure stops it with a FAILED line and exit 1.
# Usage: bash scripts/wheel_smoke.sh [PYTHON]   (PYTHON builds; default .venv/bin/python, which has `build`)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
py=${1:-$repo/.venv/bin/python}
work=$(mktemp -d "${TMPDIR:-/tmp}/notedraft-wheel-smoke.XXXXXX")
start=$(date +%s)
server_pid=""

cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then kill "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
step() { echo "wheel-smoke [$(( $(date +%s) - start ))s] $*"; }
fail() { echo "wheel-smoke: FAILED: $*" >&2; exit 1; }
# expect CODE DESCRIPTION -- COMMAND...: run it, keep stdout/stderr in $work/out and $work/err, check the exit code.
expect() {
  local want=$1 what=$2; shift 3
  local rc=0
  "$@" >"$work/out" 2>"$work/err" || rc=$?
  if [ "$rc" != "$want" ]; then
    echo "--- stdout"; cat "$work/out"; echo "--- stderr"; cat "$work/err"
    fail "$what: exit $rc, expected $want"
  fi
}
contains() { grep -qF -- "$2" "$work/$1" || { cat "$work/$1"; fail "$1 does not contain: $2"; }; }

# --- build ---------------------------------------------------------------------------------------------------------
# Build from a clone-like copy: the files git tracks or would track (symlinks kept), without build/ or a stale
# src/notedraft.egg-info, whose SOURCES.txt setuptools merges into the sdist and would hide a missing package-data
# entry. Outside a git checkout (e.g. an unpacked sdist) the tree is copied as it is.
step "copying the source tree (git ls-files) to $work/tree"
mkdir "$work/tree"
if git -C "$repo" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  (cd "$repo" && git ls-files -z --cached --others --exclude-standard \
    | while IFS= read -r -d '' f; do if [ -e "$f" ] || [ -L "$f" ]; then printf '%s\0' "$f"; fi; done \
    | tar --null --no-recursion -T - -cf -) | tar -xf - -C "$work/tree"
else
  (cd "$repo" && tar --exclude=.venv --exclude=build --exclude='*.egg-info' -cf - .) | tar -xf - -C "$work/tree"
fi
step "building the sdist, and the wheel from the sdist (python -m build)"
"$py" -m build --outdir "$work/dist" "$work/tree" >"$work/build.log" 2>&1 || { tail -30 "$work/build.log"; fail "build"; }
step "building the wheel from the source tree"
"$py" -m build --wheel --outdir "$work/dist-tree" "$work/tree" >"$work/build-tree.log" 2>&1 \
  || { tail -30 "$work/build-tree.log"; fail "build --wheel"; }
sdist=$(ls "$work"/dist/notedraft-*.tar.gz)
wheel=$(ls "$work"/dist/notedraft-*.whl)
tree_wheel=$(ls "$work"/dist-tree/notedraft-*.whl)

step "checking both wheels and the sdist ship the templates, prompts, rule packs, web assets and eval datasets"
"$py" - "$repo" "$sdist" "$wheel" "$tree_wheel" <<'EOF' || fail "package contents"
import sys, tarfile, zipfile
from pathlib import Path

repo, sdist, wheel, tree_wheel = Path(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
# Every file the package needs at run time, from the checkout (root folders are the source of truth).
wanted = {f"notedraft/_data/{p.relative_to(repo)}": p for pattern in
          ("templates/*.j2", "prompts/*.j2", "evals/*.jsonl", "evals/*.toml", "families/*/*.toml",
           "families/*/rules/*.toml") for p in repo.glob(pattern)}
pkg = repo / "src"
wanted |= {str(p.relative_to(pkg)): p for pattern in
           ("notedraft/rules/*.toml", "notedraft/rules/*/*.toml", "notedraft/lexicon/*.toml", "notedraft/web/templates/*.html",
            "notedraft/web/static/*", "notedraft/audit/assets/*")
           for p in pkg.glob(pattern)}
assert len(wanted) > 30, wanted
names = {}
for whl in (wheel, tree_wheel):
    with zipfile.ZipFile(whl) as z:
        names[whl] = set(z.namelist())
        for name, source in wanted.items():
            if name not in names[whl]:
                sys.exit(f"{whl}: {name} missing")
            if z.read(name) != source.read_bytes():
                sys.exit(f"{whl}: {name} differs from {source}")
if names[wheel] != names[tree_wheel]:
    sys.exit(f"the wheel from the sdist and the wheel from the tree differ: {sorted(names[wheel] ^ names[tree_wheel])}")
with tarfile.open(sdist) as t:
    members = {m.name.split("/", 1)[1]: m for m in t.getmembers() if "/" in m.name}
for name in wanted:
    m = members.get(f"src/{name}")
    if m is None or not m.isfile():
        sys.exit(f"{sdist}: src/{name} missing or not a regular file")
print(f"  {len(wanted)} run-time files in both wheels ({len(names[wheel])} entries each) and in the sdist")
EOF

# --- install into a fresh venv, outside the checkout ----------------------------------------------------------------
step "installing $(basename "$wheel")[practice] into a fresh venv in $work"
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install -q --disable-pip-version-check "$wheel[practice]" >"$work/pip.log" 2>&1 \
  || { tail -30 "$work/pip.log"; fail "pip install wheel[practice]"; }
mkdir -p "$work/run"
cd "$work/run"
test_pg=${NOTEDRAFT_TEST_PG:-}
unset NOTEDRAFT_HOME NOTEDRAFT_EVALS_DIR NOTEDRAFT_REALNOTES NOTEDRAFT_DB NOTEDRAFT_TOKEN PYTHONPATH \
  OPENAI_API_KEY OPENAI_BASE_URL NOTEDRAFT_TEST_PG
export XDG_STATE_HOME="$work/state"
nd="$work/venv/bin/notedraft"
where=$("$work/venv/bin/python" -c "import notedraft; print(notedraft.__file__)")
case "$where" in "$work"/venv/*) ;; *) fail "notedraft imported from $where, not from the fresh venv" ;; esac

# --- the CLI ---------------------------------------------------------------------------------------------------------
# The README's main command: the first `notedraft draft "..."` in README.md, so the README cannot drift.
dictation=$(grep -o 'notedraft draft "[^"]*"' "$repo/README.md" | head -1 | sed 's/^notedraft draft "//; s/"$//')
[ -n "$dictation" ] || fail "no 'notedraft draft \"...\"' command in README.md"
step "notedraft draft (README's main command) from $work/run"
expect 0 "notedraft draft" -- "$nd" draft "$dictation" --out note.txt
contains out "SUPPORTED: 27096-LT"
contains out "PROCEDURE NOTE"

step "notedraft validate: the drafted note (exit 0) and a note without fluoroscopy (exit 1)"
expect 0 "validate a supported note" -- "$nd" validate note.txt --code 27096-LT
contains out "SUPPORTED: 27096-LT"
printf '%s\n' "PROCEDURE: Right SI joint injection. Fluoroscopy was not used; will schedule a fluoroscopically guided" \
  "injection. Ultrasound guidance, in-plane. 40 mg Kenalog. Dx M46.1. Therapeutic." >unsupported.txt
expect 1 "validate an unsupported note" -- "$nd" validate unsupported.txt --code 27096-RT
contains out "NOT SUPPORTED: 27096-RT"
contains out "27096.guidance.fluoroscopy_or_ct"

# The README's audit command: the first `notedraft audit notes/ ...` in README.md, run here on a folder of the two
# notes above and a claims file, so the README's example cannot drift from what the wheel does.
audit_cmd=$(grep -o 'notedraft audit notes/[^`]*' "$repo/README.md" | head -1)
[ -n "$audit_cmd" ] || fail "no 'notedraft audit notes/ ...' command in README.md"
step "${audit_cmd} (README's audit command) from $work/run"
mkdir -p notes/november
cp note.txt notes/november/supported.txt
cp unsupported.txt notes/november/unsupported.txt
printf '%s\n' "note,codes,physician,date_of_service" "november/supported.txt,27096-LT,Dr. Ana Lee,2026-11-02" \
  "november/unsupported.txt,27096-RT,Dr. Ana Lee,2026-11-03" >claims.csv
read -r -a audit_args <<<"${audit_cmd#notedraft }"
expect 1 "the README's audit command" -- "$nd" "${audit_args[@]}"
contains out "claims not supported             1"
contains out "27096.guidance.fluoroscopy_or_ct"
audit_out=$(printf '%s\n' "${audit_args[@]}" | grep -A1 -x -- '--out' | tail -1)
for f in results.jsonl results.csv report.html; do [ -s "$audit_out/$f" ] || fail "audit wrote no $audit_out/$f"; done
grep -q 'script-src' "$audit_out/report.html" || fail "report.html has no Content-Security-Policy"
grep -qE '(src|href)="https?:' "$audit_out/report.html" && fail "report.html refers to something outside itself"
echo "  $(wc -l <"$audit_out/results.jsonl") rows; report.html $(wc -c <"$audit_out/report.html") bytes"

step "notedraft codes"
expect 0 "notedraft codes" -- "$nd" codes
contains out "27096"
expect 0 "notedraft codes 27096" -- "$nd" codes 27096
contains out "Requirements:"
expect 0 "notedraft codes --family epidural" -- "$nd" codes --family epidural
contains out "64484"
contains out "62323"

step "notedraft eval --strategy template --check (the shipped datasets and thresholds)"
expect 0 "notedraft eval --check" -- "$nd" eval --strategy template --check --out "$work/eval"
contains out "gate: passed"
echo "  $(grep -m1 'gate:' "$work/out"); $(wc -l <"$work/eval/samples.jsonl") samples logged"

# --- the editor over HTTP -------------------------------------------------------------------------------------------
port=$("$work/venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
step "notedraft serve on 127.0.0.1:$port: CSRF token, create a draft, save a revision"
"$nd" serve --port "$port" --db "$work/run/editor.sqlite" >"$work/serve.log" 2>&1 &
server_pid=$!
"$work/venv/bin/python" - "$port" "$dictation" <<'EOF' || { cat "$work/serve.log"; fail "editor round trip"; }
import http.cookiejar, json, sys, time, urllib.error, urllib.request

port, dictation = sys.argv[1], sys.argv[2]
base = f"http://127.0.0.1:{port}"
opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))


def call(method, path, body=None, headers=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method,
                                 headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with opener.open(req, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


deadline = time.monotonic() + 30  # a start-up wait, not a timing assertion
while True:
    try:
        status, raw = call("GET", "/api/csrf")
        break
    except OSError:
        if time.monotonic() > deadline:
            sys.exit("the editor did not answer within 30 s")
        time.sleep(0.3)
assert status == 200, (status, raw)
csrf = json.loads(raw)
headers = {csrf["header"]: csrf["csrf"]}

status, raw = call("POST", "/api/drafts", {"dictation": dictation, "codes": ["27096-LT"]})
assert status == 403, f"a POST without the CSRF header must be refused, got {status}"
status, raw = call("POST", "/api/drafts", {"dictation": dictation, "codes": ["27096-LT"]}, headers)
assert status == 201, (status, raw[:300])
created = json.loads(raw)
assert created["supported"] is True and created["codes"] == ["27096-LT"], created
assert "Left sacroiliac joint injection" in created["note"], created["note"]

edited = created["note"] + "\nPatient tolerated the procedure well.\n"
status, raw = call("PUT", f"/api/drafts/{created['id']}", {"note": edited, "base_revision": created["revision"]},
                   headers)
assert status == 200, (status, raw[:300])
saved = json.loads(raw)
assert saved["revision"] == created["revision"] + 1, saved

status, raw = call("GET", f"/api/drafts/{created['id']}")
assert status == 200 and json.loads(raw)["note"] == edited, (status, raw[:300])
for page in (f"/drafts/{created['id']}", "/static/editor.js", "/static/editor.css"):
    status, raw = call("GET", page)
    assert status == 200 and raw, (page, status)
print(f"  draft {created['id']}: revision {created['revision']} -> {saved['revision']}, editor page and assets served")
EOF
kill -TERM "$server_pid"  # uvicorn shuts down cleanly on SIGTERM (SIGINT is ignored in background jobs)
rc=0; wait "$server_pid" || rc=$?
server_pid=""
# uvicorn shuts down, then re-raises the signal: 143 (128 + SIGTERM) is a clean stop, as is 0.
case "$rc" in 0|143) ;; *) cat "$work/serve.log"; fail "notedraft serve exited $rc after SIGTERM" ;; esac
grep -q "Application shutdown complete" "$work/serve.log" || { cat "$work/serve.log"; fail "the editor did not shut down cleanly"; }

# --- the practice deployment, as the README shows it ---------------------------------------------------------------
# `notedraft users add` (password on stdin), `notedraft serve` with NOTEDRAFT_DB, then a scribe drafts for an
# encounter, the physician signs, the signed note exports with its header and as FHIR: on SQLite, and on
# PostgreSQL when the test server is there (a fresh database).
practice_round() {
  local db=$1 label=$2
  step "practice deployment on $label: users add (admin, physician, scribe), serve, draft, sign, export"
  echo "correct-horse-battery-staple" >"$work/pw"
  for who in "admin|Practice Admin|admin" "drlee|Dr. Ana Lee|physician" "sam|Sam Rivera|scribe"; do
    IFS='|' read -r user name role <<<"$who"
    NOTEDRAFT_DB="$db" expect 0 "users add $user" -- "$nd" users add "$user" --name "$name" --role "$role" \
      --password-stdin <"$work/pw"
  done
  NOTEDRAFT_DB="$db" expect 0 "users list" -- "$nd" users list
  contains out "drlee"
  port=$("$work/venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  NOTEDRAFT_DB="$db" "$nd" serve --port "$port" >"$work/serve.log" 2>&1 &
  server_pid=$!
  "$work/venv/bin/python" - "$port" "$dictation" <<'EOF' || { cat "$work/serve.log"; fail "practice round trip on $label"; }
import http.cookiejar, json, sys, time, urllib.error, urllib.request

port, dictation = sys.argv[1], sys.argv[2]
base = f"http://127.0.0.1:{port}"


class Person:
    def __init__(self, username):
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        self.headers = {}
        self.headers = {"X-CSRF-Token": json.loads(self.call("GET", "/api/csrf")[1])["csrf"]}
        status, raw = self.call("POST", "/api/login", {"username": username, "password": "correct-horse-battery-staple"})
        assert status == 200, (username, status, raw[:200])

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json", **self.headers})
        try:
            with self.opener.open(req, timeout=30) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()


deadline = time.monotonic() + 30  # a start-up wait, not a timing assertion
while True:
    try:
        urllib.request.urlopen(base + "/api/csrf", timeout=5)
        break
    except OSError:
        if time.monotonic() > deadline:
            sys.exit("the editor did not answer within 30 s")
        time.sleep(0.3)
try:
    urllib.request.urlopen(base + "/api/drafts", timeout=10)
    sys.exit("with accounts, the API must need a login")
except urllib.error.HTTPError as e:
    assert e.code == 401, e.code
sam, doctor = Person("sam"), Person("drlee")
import datetime
encounter = {"mrn": "MRN-SMOKE", "patient_name": "Smoke Test", "patient_dob": "1950-01-01",
             "date_of_service": datetime.date.today().isoformat(), "physician": "drlee",
             "place_of_service": "office", "payer": "commercial"}
status, raw = sam.call("POST", "/api/drafts", {"dictation": dictation, "codes": ["27096-LT"], "encounter": encounter})
assert status == 201, (status, raw[:300])
draft = json.loads(raw)
assert draft["supported"], draft
status, raw = sam.call("POST", f"/api/drafts/{draft['id']}/sign", {"revision": 1, "attest": True})
assert status == 403, f"a scribe must not sign: {status}"
status, raw = doctor.call("POST", f"/api/drafts/{draft['id']}/sign", {"revision": 1, "attest": True})
assert status == 200, (status, raw[:300])
status, raw = sam.call("GET", f"/api/drafts/{draft['id']}/export?format=text")
text = raw.decode()
assert status == 200 and "MRN-SMOKE" in text and "Dr. Ana Lee" in text and "27096-LT" in text, (status, text[:500])
status, raw = sam.call("GET", f"/api/drafts/{draft['id']}/export?format=fhir")
assert status == 200 and json.loads(raw)["resourceType"] == "Bundle", (status, raw[:300])
# An API token, as the README shows: a script reads with it, no password and no CSRF token.
status, raw = sam.call("POST", "/api/me/tokens", {"name": "smoke", "scope": "read"})
assert status == 201, (status, raw[:300])
token = json.loads(raw)["token"]
req = urllib.request.Request(base + "/api/drafts", headers={"Authorization": f"Bearer {token}"})
with urllib.request.urlopen(req, timeout=30) as r:
    listed = json.loads(r.read())
assert [d["id"] for d in listed["drafts"]] == [draft["id"]], listed
assert "Smoke Test" in text, text[:500]
print(f"  draft {draft['id']}: drafted by sam, signed by drlee, exported as text and FHIR, listed with an API token")
EOF
  kill -TERM "$server_pid"
  rc=0; wait "$server_pid" || rc=$?
  server_pid=""
  case "$rc" in 0|143) ;; *) cat "$work/serve.log"; fail "notedraft serve exited $rc after SIGTERM" ;; esac
}
practice_round "$work/run/practice.sqlite" "SQLite"
if [ -n "$test_pg" ]; then
  pg_db=$("$work/venv/bin/python" - "$test_pg" create <<'EOF'
import secrets, sys
from urllib.parse import urlsplit, urlunsplit
import psycopg
name = "nd_smoke_" + secrets.token_hex(4)
with psycopg.connect(sys.argv[1], autocommit=True) as c:
    c.execute(f'CREATE DATABASE "{name}"')
print(urlunsplit(urlsplit(sys.argv[1])._replace(path="/" + name)))
EOF
)
  practice_round "$pg_db" "PostgreSQL"
  "$work/venv/bin/python" - "$test_pg" "$pg_db" <<'EOF'
import sys
from urllib.parse import urlsplit
import psycopg
with psycopg.connect(sys.argv[1], autocommit=True) as c:
    c.execute(f'DROP DATABASE IF EXISTS "{urlsplit(sys.argv[2]).path[1:]}" WITH (FORCE)')
EOF
fi

# --- a broken install says so in one line -----------------------------------------------------------------------------
step "a broken install (templates removed from the venv): one line, exit 2, the dictation kept"
data=$("$work/venv/bin/python" -c "import notedraft, pathlib; print(pathlib.Path(notedraft.__file__).parent / '_data')")
mv "$data/templates" "$work/templates.away"
expect 2 "draft with the templates missing" -- "$nd" draft "$dictation"
mv "$work/templates.away" "$data/templates"
[ "$(wc -l <"$work/err")" = 1 ] || { cat "$work/err"; fail "expected one stderr line"; }
contains err "broken install"
grep -q Traceback "$work/err" && fail "a traceback on stderr"
kept=$(ls "$XDG_STATE_HOME"/notedraft/dictation-*.txt)
[ "$(cat "$kept")" = "$dictation" ] || fail "the saved dictation differs from what was typed"

step "OK: the wheel works outside the checkout"
