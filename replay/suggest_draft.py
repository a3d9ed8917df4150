"""The rule file ``stormwatch rules suggest`` drafts from its candidates (``replay.suggest``).

Topology edges and group and problem rules are written active, inhibit rules commented out (they repeat the edges
per alert name). Drafted against a rule set (``--rules``), the file holds only what that rule set lacks and loads
next to its files: new services under ``topology.services``, new dependencies of its services under
``topology.edges`` (``docs/rules/reference.md``), no ``service_label`` (the rule set's), the ``hold`` only when it
is longer than the rule set's (files merge to the longest), and rule names the rule set does not use.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import TYPE_CHECKING

import orjson

if TYPE_CHECKING:
    from replay.known import KnownRules
    from replay.suggest import Suggestions


def render(found: Suggestions) -> str:
    """The draft rule file of ``found``."""
    out = ["# Drafted by `stormwatch rules suggest` from recordings: review each rule and its evidence",
           "# (`stormwatch rules suggest --json`), then score it: `stormwatch backtest --truth --rules DIR ...`."]
    if found.rules is not None:
        out += ["# It holds only what the rule set it was drafted against does not say: put it next to that",
                "# rule set's files (new dependencies of its services are under topology.edges)."]
        if not found.all():
            out.append(f"# Nothing new: the rule set already says all {len(found.known)} candidate(s).")
    out.append("")
    if found.topology:
        out += _topology(found)
    if found.set_aside:
        out.append("# Set aside: a common cause explains every co-failure these rest on. Add one only if it is real")
        out.append("# (from co-failures alone, two dependants of one cause look the same as a chain through them).")
        out += [f"#   {c.kind} {c.name}: support {c.support}, confidence {c.confidence:.2f}, lift {c.lift:.1f}; "
                f"explained by {', '.join(c.detail['explained_by'])}" for c in found.set_aside]
        out.append("")
    names = _Names(found.rules)
    if found.groups:
        out.append("groups:")
        for c in found.groups:
            out += [f"  # {c.name}: fired again within {_duration(c.detail['longest_gap'])} of resolving "
                    f"{c.support} times",
                    f"  - name: {names.next('groups', 'suggested-refire')}",
                    "    match:",
                    f"      - {_q('alertname=' + orjson.dumps(c.detail['alertname']).decode())}",
                    "    auto_resolve:",
                    "      mode: after_hold",
                    f"      hold: {_duration(c.detail['hold'])}"]
        out.append("")
    if found.problems:
        out.append("problems:")
        for c in found.problems:
            signature = ", ".join(_q(label) for label in c.detail["signature"])
            out += [f"  # {c.name}: {c.support} separate failures of one alert",
                    f"  - name: {names.next('problems', 'suggested-recurrence')}",
                    "    match:",
                    f"      - {_q('alertname=' + orjson.dumps(c.detail['alertname']).decode())}",
                    f"    signature: [{signature}]",
                    f"    recurrence: {{count: {c.detail['count']}, within: {_duration(c.detail['within'])}}}"]
        out.append("")
    if found.inhibit:
        out.append("# Inhibit rules repeating the topology per alert name: uncomment to use them instead.")
        out.append("# inhibit:")
        for c in found.inhibit:
            source = "alertname=" + orjson.dumps(c.detail["source"]).decode()
            target = "alertname=" + orjson.dumps(c.detail["target"]).decode()
            out += [f"#   - name: {names.next('inhibit', 'suggested-inhibit')}  # support {c.support}, confidence "
                    f"{c.confidence:.2f}, lift {c.lift:.1f}",
                    f"#     source_match: [{_q(source)}]",
                    f"#     target_match: [{_q(target)}]",
                    f"#     hold: {_duration(found.hold)}"]
        out.append("")
    return "\n".join(out)

def _topology(found: Suggestions) -> list[str]:
    """The topology of the kept edges: every service under ``services`` with its own rule set; against a rule
    set, its services' new dependencies under ``edges`` and only the services it lacks under ``services``."""
    known = found.rules.services if found.rules is not None else frozenset()
    depends: dict[str, list[str]] = defaultdict(list)
    for c in found.topology:
        depends[c.detail["service"]].append(c.detail["depends_on"])
        if c.detail["depends_on"] not in known:
            depends.setdefault(c.detail["depends_on"], [])
    out = ["topology:"]
    if found.rules is None:
        out += [f"  service_label: {_q(found.service_label)}", f"  hold: {_duration(found.hold)}"]
    elif found.hold > found.rules.hold:  # files merge to the longest hold: a shorter one would say nothing
        out.append(f"  hold: {_duration(found.hold)}  # longer than the rule set's {_duration(found.rules.hold)}")
    out += [f"  # {c.name}: support {c.support}, confidence {c.confidence:.2f}, lift {c.lift:.1f}"
            for c in found.topology]
    for key, services in (("services", sorted(s for s in depends if s not in known)),
                          ("edges", sorted(s for s in depends if s in known))):
        if services:
            out.append(f"  {key}:")
        for service in services:
            deps = ", ".join(_q(d) for d in sorted(depends[service]))
            if key == "edges":
                out.append(f"    {_q(service)}: [{deps}]")
            else:
                out.append(f"    {_q(service)}: {{depends_on: [{deps}]}}" if deps else f"    {_q(service)}: {{}}")
    return [*out, ""]


class _Names:
    """Rule names for the draft: ``prefix-N``, skipping those the rule set already uses."""

    def __init__(self, rules: KnownRules | None) -> None:
        self.rules = rules
        self.count: dict[str, int] = defaultdict(int)

    def next(self, section: str, prefix: str) -> str:
        taken = self.rules.names(section) if self.rules is not None else frozenset()
        while True:
            self.count[section] += 1
            name = f"{prefix}-{self.count[section]}"
            if name not in taken:
                return name


def _q(text: str) -> str:
    return orjson.dumps(text).decode()  # a JSON string is a YAML string


def _duration(seconds: float) -> str:
    return f"{math.ceil(seconds)}s"
