"""An action run as stored in Redis (``<ns>:act:run:<run id>``, one hash), typed.

The hash's layout is the contract: field names and their text form do not change (no migration). Every field is a
string in Redis; here each has its type, and ``None`` means the field is absent from the hash (a run that was never
verified has no ``verified``; an incident run has no ``problem``). How each type is written:

    text                        as is
    number (times, duration)    ``repr`` of a float, ``str`` of an int (what redis-py writes for them)
    int (attempt)               ``str``
    bool (retryable)            ``1`` / ``0``
    JSON (inputs, output, saved) compact JSON (orjson)

A record read from Redis keeps the exact text it was read with, and its field order, for every field it has not
changed: ``stored()`` of a loaded record is byte-for-byte what Redis holds (the API's and the CLI's answer). A
field whose text does not parse as its type, and any field this version does not know, is kept verbatim in
``extra``. A run's states: ``running`` (claimed), then ``succeeded``, ``failed``, ``skipped``, ``pending_approval``
(then ``approved`` -> ``running`` -> ..., ``rejected`` or ``expired``), or ``retrying``: an attempt failed
retryably and the next one is a ``retry`` timer on the due-time service at ``retry_at`` (then ``running`` -> ...).
"""

from __future__ import annotations

from typing import Any, Literal
from collections.abc import Mapping

import orjson
from pydantic import BaseModel, ConfigDict, PrivateAttr, ValidationError

RunState = Literal["running", "retrying", "succeeded", "failed", "skipped", "rejected", "expired",
                   "pending_approval", "approved"]
#: a time or duration as written: the clock's float, or an int (an injected clock, an event's whole-second ``at``)
Number = float | int

_JSON = frozenset({"inputs", "output", "saved"})
_NUMBERS = frozenset({"event_at", "created_at", "finished_at", "started_at", "expires_at", "verify_at", "verified_at",
                      "decided_at", "duration", "saves", "retry_at"})


class ActionRun(BaseModel):
    """One run of one action for one event (see the module docstring for the stored form)."""

    model_config = ConfigDict(frozen=True, strict=True, extra="forbid")

    run_id: str
    # why: the subject, the rule and the event that planned it
    incident: str | None = None  # "" for a problem rule's run
    problem: str | None = None  # only for a problem rule's run
    action: str | None = None
    type: str | None = None
    rule: str | None = None
    trigger: str | None = None
    event_id: str | None = None
    event_at: Number | None = None
    created_at: Number | None = None
    # where it is
    state: RunState | None = None
    finished_at: Number | None = None
    reason: str | None = None
    detail: str | None = None
    inputs: dict[str, Any] | None = None  # secrets masked
    # waiting for approval
    saved: dict[str, Any] | None = None  # the event context, for running it once approved
    expires_at: Number | None = None
    decided_by: str | None = None
    decided_at: Number | None = None
    # run
    attempt: int | None = None  # the last attempt made (a retrying run: the one that failed)
    duration: Number | None = None
    started_at: Number | None = None
    output: dict[str, Any] | None = None
    retryable: bool | None = None
    retry_at: Number | None = None  # retrying: when the next attempt is due (its ``retry`` timer)
    # verified (incident runs with ``verify``)
    verify_at: Number | None = None
    verified: str | None = None  # remediated | escalated
    verified_at: Number | None = None
    saves: Number | None = None  # seconds one successful run saves, as its action states (`saves`): reports
    #: fields this version does not know, or whose text is not of their type: kept verbatim
    extra: dict[str, str] = {}

    _raw: dict[str, str] = PrivateAttr(default_factory=dict)  # the text each field was read with (order kept)
    _order: tuple[str, ...] = PrivateAttr(default=())  # the fields' order in the hash

    # -- from and to the stored form -----------------------------------------------------------------------

    @classmethod
    def from_stored(cls, stored: Mapping[str, str]) -> ActionRun:
        """A run from its hash (decoded to text)."""
        values: dict[str, Any] = {}
        extra: dict[str, str] = {}
        for name, text in stored.items():
            if name in _TEXT:
                values[name] = text
                continue
            if name not in _TYPED:
                extra[name] = text
                continue
            try:
                values[name] = _parse(name, text)
            except ValueError:
                extra[name] = text
        try:
            run = cls(**values, extra=extra) if extra else cls(**values)
        except ValidationError as exc:  # a value of the wrong kind (e.g. an unknown state): keep those verbatim
            bad = {str(e["loc"][0]) for e in exc.errors() if e["loc"] and e["loc"][0] in values}
            extra |= {name: stored[name] for name in bad}
            kept = {k: v for k, v in values.items() if k not in bad}
            run = cls(**kept, extra=extra) if extra else cls(**kept)
        run._raw = dict(stored)
        run._order = tuple(stored)
        return run

    @classmethod
    def new(cls, **fields: Any) -> ActionRun:
        """A run built in code; ``stored()`` writes its fields in the order given here."""
        run = cls(**fields)
        run._order = tuple(fields)
        return run

    def stored(self) -> dict[str, str]:
        """The hash: every field present, as text, in the stored order (a loaded field unchanged: its exact text)."""
        raw, order, extra = self._raw, self._order, self.extra
        present = self.model_fields_set
        if len(raw) == len(order) and len(present) + len(extra) <= len(raw) + ("extra" in present):
            return dict(raw)  # as loaded, nothing changed
        out: dict[str, str] = {}
        for name in (*order, *sorted(present), *extra):
            if name in out or name == "extra":
                continue
            if name in raw:
                out[name] = raw[name]
            elif name in present:
                out[name] = render(getattr(self, name))
            elif name in extra:
                out[name] = extra[name]
        return out

    def public(self) -> dict[str, str]:
        """What the API (``GET /api/v1/actions...``) and the CLI (``actions list|show --json``) answer."""
        return self.stored()

    def changed(self, **fields: Any) -> ActionRun:
        """This run with ``fields`` set (validated); the fields it had keep their text and order."""
        kept = {n: getattr(self, n) for n in self.model_fields_set if n not in fields}
        if self.extra:
            kept["extra"] = {k: v for k, v in self.extra.items() if k not in fields}
        run = type(self)(**kept, **fields)
        run._raw = {k: v for k, v in self._raw.items() if k not in fields}
        run._order = (*self._order, *(f for f in fields if f not in self._order))
        return run

    @classmethod
    def fields(cls, run_id: str, **fields: Any) -> dict[str, str]:
        """``fields`` checked against their types and rendered as stored, in the order given (a write's pairs)."""
        run = cls.new(run_id=run_id, **fields)
        return {name: render(getattr(run, name)) for name in fields}

    # -- reading -------------------------------------------------------------------------------------------

    @property
    def subject(self) -> str:
        """The problem's id for a problem rule's run, else the incident's."""
        return self.problem or self.incident or ""


_TYPED = frozenset(ActionRun.model_fields) - {"extra"}
_TEXT = _TYPED - _JSON - _NUMBERS - {"attempt", "retryable"}  # as stored (``state`` is checked by the model)


def render(value: Any) -> str:
    """One value as the hash holds it (``None``: empty, as the runner has always written it)."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, int):
        return str(value)
    return orjson.dumps(value).decode()


def _parse(name: str, text: str) -> Any:
    """One field's text as its type; ValueError when it is not (the field is then kept verbatim)."""
    if name in _JSON:
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            raise ValueError(f"{name}: not JSON") from None
    if name in _NUMBERS:
        try:
            value: Number = int(text)
        except ValueError:
            value = float(text)
        if render(value) != text:
            raise ValueError(f"{name}: {text!r} is not as written")
        return value
    if name == "attempt":
        value = int(text)
        if str(value) != text:
            raise ValueError(f"{name}: {text!r} is not as written")
        return value
    if name == "retryable":
        if text not in ("1", "0"):
            raise ValueError(f"{name}: {text!r} is not 1 or 0")
        return text == "1"
    return text
