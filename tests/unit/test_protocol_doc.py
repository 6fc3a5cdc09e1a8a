"""docs/protocol.md stays true: its tables name what the code has, its worked examples compute.

The page's format, which its opening describes to whoever edits it: a model that crosses the
wire has a heading with its name in backticks and a table whose first column is ``field``;
commands and events give their schema version (commands also their authority) in the
heading, ``### `Acquire` (v1, none)``; a table of codes starts with ``code``, ``reason`` or
``verdict``; a worked example has an ``input | value`` table and code blocks. Each check
returns its problems, so the last tests can show that a page that drifted fails.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from pydantic import BaseModel

from events import codec, limits, upcasting
from events.base import Decision, Message
from events.commands import COMMAND_TYPES, FeatureGrant, HeldLease, Release
from events.event_types import EVENT_TYPES
from events.leases import LeaseGranted
from events.replies import Error, Reply
from events.signed import SignedDocument
from events.vocabulary import Authority, DenialReason, ErrorCode, IgnoredReason, Role
from services.auth import signing
from services.auth.log_signing import NodeKeys
from services.domain import lease_secrets
from services.domain.decide import Context
from services.trust import entitlement, receipt
from services.trust.request import ActivationRequest
from services.views import Heartbeat, KnownServer

DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"

# Models documented beside the commands and events: a heading each, named as the class.
NESTED: dict[str, type[BaseModel]] = {
    "FeatureGrant": FeatureGrant,
    "HeldLease": HeldLease,
    "Decision": Decision,
    "Reply": Reply,
    "Error": Error,
    "Heartbeat": Heartbeat,
    "KnownServer": KnownServer,
    "SignedDocument": SignedDocument,
    "ActivationRequest": ActivationRequest,
}
# Two classes named Terms: documented under these titles instead.
TITLED: dict[str, type[BaseModel]] = {
    "Entitlement terms": entitlement.Terms,
    "Receipt terms": receipt.Terms,
}
# Proven by a lease secret in the body, which the domain checks (not a signature at intake).
LEASE_PROVEN = {"Release", "RenewLeases"}
LEASES = "Leases: secrets, renewals, expiry"  # the section whose examples are commands too
_NAMED = re.compile(r"^`(\w+)`(?: \((.*)\))?$")
_FIELD = re.compile(r"^`(\w+)`$")
_FENCE = re.compile(r"^```(\w*)")


@dataclass
class Section:
    level: int
    title: str
    top: str  # the title of the ## section it is in, without its number
    lines: list[str] = field(default_factory=list)

    def tables(self) -> list[list[list[str]]]:
        """Each table as rows of cells, the header first, the separator dropped."""
        found: list[list[list[str]]] = []
        current: list[list[str]] = []
        for line in [*self.lines, ""]:
            if line.startswith("|"):
                cells = [c.strip() for c in line.strip().strip("|").split("|")]
                if not all(re.fullmatch(r":?-+:?", c) for c in cells):
                    current.append(cells)
            elif current:
                found.append(current)
                current = []
        return found

    def table(self, first: str) -> list[list[str]] | None:
        return next((t for t in self.tables() if t[0][0] == first), None)

    def blocks(self, info: str) -> list[str]:
        """The contents of the fenced code blocks with this info string."""
        found, inside, kind, current = [], False, "", []
        for line in self.lines:
            fence = _FENCE.match(line)
            if fence and not inside:
                inside, kind, current = True, fence.group(1), []
            elif line.startswith("```") and inside:
                inside = False
                if kind == info:
                    found.append("\n".join(current))
            elif inside:
                current.append(line)
        return found

    def text(self) -> str:
        return "\n".join(self.lines)


def sections(text: str) -> list[Section]:
    """The page cut at its headings (not at a '#' inside a code block)."""
    found = [Section(0, "", "")]
    inside = False
    for line in text.splitlines():
        if line.startswith("```"):
            inside = not inside
        heading = None if inside else re.match(r"^(#{1,6}) (.*)$", line)
        if heading:
            level, title = len(heading.group(1)), heading.group(2).strip()
            top = re.sub(r"^\d+\. ", "", title) if level <= 2 else found[-1].top
            found.append(Section(level, title, top))
        else:
            found[-1].lines.append(line)
    return found


def named(doc: list[Section]) -> dict[str, Section]:
    by_name: dict[str, Section] = {}
    for s in doc:
        match = _NAMED.match(s.title)
        if match and s.level >= 3:
            assert match.group(1) not in by_name, f"two headings for {match.group(1)}"
            by_name[match.group(1)] = s
    return by_name


def part(doc: list[Section], top: str) -> Section:
    """The ## section of this title (its number left out, so renumbering costs nothing)."""
    return titled(doc, next(s.title for s in doc if s.level == 2 and s.top == top))


def titled(doc: list[Section], title: str) -> Section:
    found = [s for s in doc if s.title == title]
    assert len(found) == 1, f"expected one heading {title!r}, found {len(found)}"
    return found[0]


def wire_fields(model: type[BaseModel]) -> dict[str, bool]:
    """Field name -> required, without what every message has (documented once)."""
    skip = set(Message.model_fields)
    if model.__name__ in COMMAND_TYPES or model.__name__ in EVENT_TYPES:
        skip.add("type")  # the discriminator; FeatureGrant's ``type`` is a real field
    if issubclass(model, Decision) and model is not Decision:
        skip |= set(Decision.model_fields)
    return {n: f.is_required() for n, f in model.model_fields.items() if n not in skip}


def field_problems(name: str, section: Section, model: type[BaseModel]) -> list[str]:
    table = section.table("field")
    if table is None:
        return [f"{name}: no table with a first column 'field'"]
    header, rows = table[0], table[1:]
    documented = {}
    for row in rows:
        match = _FIELD.match(row[0])
        if not match:
            return [f"{name}: {row[0]!r} is not a field name in backticks"]
        documented[match.group(1)] = row
    expected = wire_fields(model)
    problems = [f"{name}.{f} is in the code, not in the page" for f in expected - documented.keys()]
    problems += [
        f"{name}.{f} is in the page, not in the code" for f in documented - expected.keys()
    ]
    if "default" in header:
        column = header.index("default")
        for f, required in expected.items():
            if f in documented and (documented[f][column] == "required") != required:
                problems.append(f"{name}.{f}: the page's default disagrees with the code")
    return problems


def expected_authority(name: str) -> str:
    needed = signing.needed_authority(COMMAND_TYPES[name].model_construct())
    if needed == (Authority.ADMIN,):
        return "admin"
    if needed and needed[0] == Authority.NODE:
        return "node"
    return "lease secret" if name in LEASE_PROVEN else "none"


def heading_problems(name: str, section: Section, version: int, authority: str | None) -> list[str]:
    match = _NAMED.match(section.title)
    assert match
    parts = [p.strip() for p in (match.group(2) or "").split(",")]
    problems = []
    if parts[0] != f"v{version}":
        problems.append(f"{name}: the heading says {parts[0]!r}, the code v{version}")
    if authority is not None and parts[1:] != [authority]:
        problems.append(f"{name}: the heading says authority {parts[1:]}, the code {authority!r}")
    return problems


def command_problems(text: str) -> list[str]:
    doc = sections(text)
    here = {n: s for n, s in named(doc).items() if s.top == "Commands"}
    problems = [f"command {n} has no section in Commands" for n in COMMAND_TYPES.keys() - here]
    extra = here.keys() - COMMAND_TYPES.keys() - NESTED.keys()
    problems += [f"Commands documents {n}, which is no command" for n in extra]
    for name in COMMAND_TYPES.keys() & here.keys():
        model = COMMAND_TYPES[name]
        problems += field_problems(name, here[name], model)
        version = model.SCHEMA_VERSION
        problems += heading_problems(name, here[name], version, expected_authority(name))
    table = part(doc, "Authority and signatures").table("command") or [[]]
    rows = {r[0].strip("`"): r for r in table[1:]}
    for name in COMMAND_TYPES:
        row = rows.get(name)
        if row is None:
            problems.append(f"the authority table lacks {name}")
        elif row[1] != expected_authority(name):
            problems.append(f"the authority table says {name} needs {row[1]!r}")
    problems += [f"the authority table names {n}, no command" for n in rows.keys() - COMMAND_TYPES]
    forced = Release(lease_id="L-1", reason="stuck after a crash")
    if signing.needed_authority(forced) == (Authority.ADMIN,):
        if "admin" not in " ".join(rows.get("Release", [])[2:]):
            problems.append("the authority table does not say a force-release (Release) is admin")
    examples = [b for s in doc if s.top in ("Commands", LEASES) for b in s.blocks("json")]
    for block in examples:
        try:
            codec.loads_command(block.encode())
        except Exception as exc:
            problems.append(f"an example command does not parse: {exc}")
    return problems


def event_problems(text: str) -> list[str]:
    here = {n: s for n, s in named(sections(text)).items() if s.top == "Event types"}
    problems = [f"event {n} has no section in Event types" for n in EVENT_TYPES.keys() - here]
    extra = here.keys() - EVENT_TYPES.keys() - {"Decision"}
    problems += [f"Event types documents {n}, which is no event" for n in extra]
    for name in EVENT_TYPES.keys() & here.keys():
        model = EVENT_TYPES[name]
        problems += field_problems(name, here[name], model)
        problems += heading_problems(name, here[name], model.SCHEMA_VERSION, None)
    return problems


def model_problems(text: str) -> list[str]:
    doc = sections(text)
    by_name = named(doc)
    problems = []
    for name, model in NESTED.items():
        if name not in by_name:
            problems.append(f"{name} has no section")
        else:
            problems += field_problems(name, by_name[name], model)
    for title, model in TITLED.items():
        problems += field_problems(title, titled(doc, title), model)
    return problems


def code_problems(text: str) -> list[str]:
    doc = sections(text)
    problems = []
    for first, words in (("code", ErrorCode), ("reason", DenialReason), ("verdict", IgnoredReason)):
        tables = [t for s in doc for t in s.tables() if t[0][0] == first]
        if len(tables) != 1:
            problems.append(f"expected one table of {words.__name__}, found {len(tables)}")
            continue
        documented = {r[0].strip("`") for r in tables[0][1:]}
        expected = {str(w) for w in words}
        problems += [f"{words.__name__} {w} is not in the page" for w in expected - documented]
        problems += [f"the page lists {w}, no {words.__name__}" for w in documented - expected]
    return problems


def heartbeat_problems(text: str) -> list[str]:
    doc = sections(text)
    beat = named(doc).get("Heartbeat")
    table = beat.table("field") if beat else None
    role = next((r for r in table or [] if r[0] == "`role`"), None)
    if role is None:
        return ["the Heartbeat table has no role"]
    problems = [f"heartbeat role {r} is not in the page" for r in Role if f"`{r}`" not in role[-1]]
    examples = [b for s in doc if s.top == "Heartbeats" for b in s.blocks("json")]
    if not examples:
        problems.append("the Heartbeats section shows no heartbeat")
    for example in examples:
        sent = orjson.loads(example)
        Heartbeat.model_validate(sent)
        problems += [
            f"the example heartbeat's {k} is no field"
            for k in sent.keys() - wire_fields(Heartbeat).keys()
        ]
    return problems


def upcaster_problems(text: str) -> list[str]:
    table = part(sections(text), "Schema versions").table("type") or [[]]
    documented = {(r[0].strip("`"), int(r[1])) for r in table[1:]}
    expected = set(upcasting._UPCASTERS)
    return [f"upcaster {u} is not in the page" for u in expected - documented] + [
        f"the page lists upcaster {u}, the code has none" for u in documented - expected
    ]


def limit_problems(text: str) -> list[str]:
    table = part(sections(text), "Limits").table("limit") or [[]]
    documented = {r[1].strip("`"): r[2] for r in table[1:]}
    expected = {n: v for n, v in vars(limits).items() if n.isupper() and isinstance(v, int)}
    problems = [f"limit {n} is not in the page" for n in expected.keys() - documented.keys()]
    problems += [f"the page lists {n}, not in limits.py" for n in documented.keys() - expected]
    for name in expected.keys() & documented.keys():
        shown = re.match(r"[\d,]+", documented[name])
        if shown is None or int(shown.group().replace(",", "")) != expected[name]:
            problems.append(
                f"limit {name}: the page says {documented[name]!r}, the code {expected[name]}"
            )
    return problems


def slug(title: str) -> str:
    """The anchor GitHub gives a heading."""
    return re.sub(r"[^\w\- ]", "", title.lower()).replace(" ", "-")


def link_problems(text: str) -> list[str]:
    anchors = {slug(s.title) for s in sections(text)}
    links = set(re.findall(r"\]\(#([^)]+)\)", text))
    return [f"the link #{link} names no heading" for link in sorted(links - anchors)]


# ---- the worked examples ---------------------------------------------------------------


def inputs(section: Section) -> dict[str, list[str]]:
    table = section.table("input") or [[]]
    return {row[0]: [c.strip("`") for c in row[1:]] for row in table[1:]}


def signing_problems(text: str) -> list[str]:
    section = titled(sections(text), "Worked example: signing an admin command")
    given = inputs(section)
    key, authority = given["admin key"][0], Authority(given["authority"][0])
    command_id, actor = given["command id"][0], given["actor"][0]
    signed_at, body = int(given["signed_at"][0]), given["body"][0].encode()
    signature = given["signature"][0]
    problems = []
    material = f"{authority}\n{command_id}\n{actor}\n{signed_at}\n".encode() + body
    if section.blocks("text") != [material.decode()]:
        problems.append("the signed material shown is not authority, id, actor, time and body")
    if signing.sign(key, authority, command_id, actor, signed_at, body) != signature:
        problems.append("the example's signature is not the HMAC of its inputs")
    if f"these {len(body)} bytes" not in given["body"][1]:
        problems.append("the example body's length is not the one shown")
    if not codec.loads_command(body).ADMIN:
        problems.append("the example body is not an admin command")
    message = orjson.loads(section.blocks("json")[0])
    headers = message["headers"]
    now = datetime.fromtimestamp(signed_at / 1000, UTC)
    keys = signing.Keys(admin=key)
    verdict = signing.check(keys, (Authority.ADMIN,), headers, command_id, actor, body, now)
    if verdict != signing.Verdict.GOOD:
        problems.append(f"the example message does not verify: {verdict}")
    if message["properties"]["message_id"] != command_id or message["body"].encode() != body:
        problems.append("the example message is not the example's command")
    if headers.get("x-actor") != actor or headers.get(signing.HEADER) != signature:
        problems.append("the example message's headers are not the example's")
    return problems


def lease_secret_problems(text: str) -> list[str]:
    section = titled(sections(text), "Worked example: a lease secret")
    given = {k: v[0] for k, v in inputs(section).items()}
    node_key = NodeKeys.from_setting(given["node keys"]).keys[0].secret.decode()
    command_id, secret = given["command id"], given["lease secret"]
    problems = []
    if section.blocks("text") != [f"lease-secret\n{command_id}"]:
        problems.append("the lease secret's material is not 'lease-secret\\n' + command id")
    if lease_secrets.secret_for(node_key, command_id) != secret:
        problems.append("the example lease secret is not the HMAC of its command id")
    if lease_secrets.hash_of(secret) != given["secret hash"]:
        problems.append("the example secret hash is not the SHA-256 of the secret")
    if lease_secrets.secret_for(None, command_id) != given["open-site lease secret"]:
        problems.append("the example open-site lease secret is not the SHA-256 of its material")
    ctx = Context(command_id=command_id, epoch=1, now=datetime.now(UTC), lease_key=node_key)
    if ctx.derived_id("L") != given["lease id"]:
        problems.append("the example lease id is not the one derived from its command id")
    return problems


def stream_signature_problems(text: str) -> list[str]:
    doc = sections(text)
    section = titled(doc, "Worked example: a stream message signature (`x-sig`)")
    given = {k: v[0] for k, v in inputs(section).items()}
    lease = {k: v[0] for k, v in inputs(titled(doc, "Worked example: a lease secret")).items()}
    keys = NodeKeys.from_setting(given["node keys"])
    body = section.blocks("json")[0].encode()
    problems = []
    if keys.sign(body) != given["x-sig"] or not keys.verify(body, given["x-sig"]):
        problems.append("the example x-sig is not the HMAC of the body")
    if f"({len(body)} bytes" not in section.text():
        problems.append("the example stream body's length is not the one shown")
    grants = [e for e in codec.loads_events(body) if isinstance(e, LeaseGranted)]
    if [(g.lease_id, g.secret_hash) for g in grants] != [(lease["lease id"], lease["secret hash"])]:
        problems.append("the example stream message does not grant the example lease")
    return problems


CHECKS = [
    command_problems,
    event_problems,
    model_problems,
    code_problems,
    heartbeat_problems,
    upcaster_problems,
    limit_problems,
    link_problems,
    signing_problems,
    lease_secret_problems,
    stream_signature_problems,
]


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_the_page_says_what_the_code_does(check):
    assert check(DOC.read_text()) == []


# ---- a page that drifted fails ---------------------------------------------------------


def _without_line(text: str, start: str) -> str:
    lines = text.splitlines()
    hits = [i for i, line in enumerate(lines) if line.startswith(start)]
    assert hits, start
    del lines[hits[0]]
    return "\n".join(lines)


DRIFTS = [
    ("a command field", lambda t: _without_line(t, "| `lease_seconds` | integer | 60"), "Acquire"),
    ("a command", lambda t: t.replace("### `CancelReservation` (v1, admin)", "### x"), "Cancel"),
    (
        "an authority",
        lambda t: t.replace("`Reserve` (v1, admin)", "`Reserve` (v1, none)"),
        "Reserve",
    ),
    ("a force-release", lambda t: t.replace("is admin instead |", "|"), "force-release"),
    (
        "a default",
        lambda t: t.replace(
            "| `count` | integer | 1 | 1 to 10,000,000,000 |",
            "| `count` | integer | required | |",
            1,
        ),
        "count",
    ),
    ("an upcaster", lambda t: _without_line(t, "| `LeaseGranted` | 1 |"), "LeaseGranted"),
    ("a link", lambda t: t.replace("](#results)", "](#result)"), "#result"),
    ("an event", lambda t: t.replace("### `LeaseExpired` (v1)", "### y"), "LeaseExpired"),
    (
        "a version",
        lambda t: t.replace("`LeaseGranted` (v2)", "`LeaseGranted` (v1)"),
        "LeaseGranted",
    ),
    ("an error code", lambda t: _without_line(t, "| `in_use` | writer"), "in_use"),
    ("a denial reason", lambda t: _without_line(t, "| `reserved` | enough"), "reserved"),
    ("a heartbeat field", lambda t: _without_line(t, "| `target_offset` | integer"), "target"),
    ("a limit", lambda t: t.replace("| `MAX_VERSION` | 64", "| `MAX_VERSION` | 65"), "MAX_VER"),
    ("the signature", lambda t: t.replace("9185d277643e7464", "9185d277643e7465"), "signature"),
    ("the x-sig", lambda t: t.replace('"epoch":3,"node"', '"epoch":4,"node"'), "x-sig"),
]


@pytest.mark.parametrize(("what", "drift", "named_in"), DRIFTS, ids=[d[0] for d in DRIFTS])
def test_a_page_that_drifted_fails(what, drift, named_in):
    drifted = drift(DOC.read_text())
    problems = [p for check in CHECKS for p in check(drifted)]
    assert any(named_in in p for p in problems), (what, problems)
