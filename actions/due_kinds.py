"""The action runner's timer kinds on the due-time service (``kv.due``), each keyed by run id.

    approved         an approved run: execute it
    approval_expiry  a run still waiting for approval at its expiry: it expires
    verify           a run with ``verify: {within}``: remediated if its incident resolved, else escalate
    retry            a run whose attempt failed retryably (``retrying``): its next attempt, after the backoff

The version before the due index kept the first three in one sorted set, ``<ns>:act:due``, as
``ready:|expire:|verify:<run id>``; ``legacy`` reads such a member for the move into the index.
"""

from __future__ import annotations

APPROVED = "approved"
APPROVAL_EXPIRY = "approval_expiry"
VERIFY = "verify"
RETRY = "retry"
KINDS = (APPROVED, APPROVAL_EXPIRY, VERIFY, RETRY)

_LEGACY = {"ready": APPROVED, "expire": APPROVAL_EXPIRY, "verify": VERIFY}


def legacy(member: str) -> tuple[str, str] | None:
    """A member of the previous version's ``<ns>:act:due`` -> (kind, run id), None if it is not one."""
    old, sep, run_id = member.partition(":")
    kind = _LEGACY.get(old)
    return (kind, run_id) if kind is not None and sep and run_id else None
