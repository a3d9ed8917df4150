"""Every Redis key Stormwatch uses, in one place.

Per-group state lives under a hash tag ``{g<group_id>}`` so that one Lua script can update a group's
alerts, its incident and its idempotency markers atomically on a Redis Cluster: all of a group's keys
hash to one slot. Global indexes (incident lists) live outside the tag and are maintained idempotently
after the group write.

    <ns>:{g<gid>}:group              hash  v (version), seq (incident counter), inc (open incident id),
                                           pending (JSON: alerts the rule's threshold holds back)
    <ns>:{g<gid>}:a:<fingerprint>    str   JSON alert state (labels, status, counts, incident)
    <ns>:{g<gid>}:i:<n>              hash  incident record
    <ns>:{g<gid>}:i:<n>:alerts       set   member fingerprints
    <ns>:{g<gid>}:i:<n>:timeline     list  JSON timeline entries (capped)
    <ns>:{g<gid>}:i:<n>:symptoms     hash  <gid>:<fingerprint> -> JSON: alerts of other groups it explains
    <ns>:{g<gid>}:i:<n>:svc:<rule>   set   services among its symptoms a shared-root-cause problem rule counts
    <ns>:{g<gid>}:m:<message id>     str   idempotency marker: the follow-ups of an applied message
    <ns>:sk:<fingerprint>            str   labels of a sender-keyed alert (PagerDuty dedup_key) at its trigger
    <ns>:cause:<key>                 hash  fingerprint -> "stamp|incident": the shared cause index
                                           (inh:<rule>:<equal signature>, svc:<service>)
    <ns>:cand:<key>                  hash  fingerprint -> "stamp|incident": firing members of incidents that a
                                           source firing under <key> later would merge (correlation.core.merging)
    <ns>:{p<sig>}:occ                zset  incident -> time: incidents counted under one problem signature
    <ns>:{p<sig>}:state              hash  seq, open (the signature's open problem id)
    <ns>:{p<sig>}:p:<n>              hash  problem record; :incidents (set), :timeline (list)
    <ns>:problems, <ns>:problems:open  zset  problem id -> created_at
    <ns>:silences                    hash  silence id -> JSON silence
    <ns>:change-windows              hash  change window id -> JSON window (correlation/core/change_windows.py)
    <ns>:due:{t<n>}:<kind>           zset  the due-time index (kv/due.py): timer key -> due time, one set per
                                           kind in each of 16 shards (n = 0..15, one Cluster slot per shard,
                                           shared by its kinds). Correlation's kinds, keyed by the engine's timer
                                           names and sharded by group (``timer_shard``): resolve ("INC-...": held
                                           resolutions), hold ("h|<gid>|<fp>": holds for a cause, rechecks after a
                                           recovery grace, the end of a change window that muted it), quiet ("q|...":
                                           flap quiet periods), expire ("x|...": alert expiry under
                                           resolve_timeout), merge ("m|<gid>|<incident>": a late cause's merge).
                                           The action runner's, keyed by run id: approved, approval_expiry, verify,
                                           retry (a retrying run's next attempt)
    <ns>:due:{t<n>}:claims           hash  "<kind>:<timer key>" -> its attempt (the lease of the first claim not
                                           completed yet; the shard's slot)
    <ns>:due:upgrading               str   lock of the move of <ns>:act:due into the index (60 s, left to expire)
    <ns>:incidents                   zset  incident id -> created_at
    <ns>:incidents:open              zset  open incident id -> created_at
    <ns>:sla:at_risk                 zset  incident id -> its earliest due: a record warned, not met nor breached
    <ns>:sla:breached                zset  incident id -> when a record of it breached

An incident's SLA records are fields of its hash (``correlation/store/sla.py``): ``sla`` (JSON list of records),
``sla_outbox`` (events written with a crossing, cleared once published), ``on_hold`` (people's reason).

Change events (``docs/changes.md``; ``correlation/store/changes.py``), per service under its own hash tag so a
service's changes sit in one Cluster slot and a busy service does not crowd one node:

    <ns>:{c<service>}:changes        zset  change id -> when it happened (trimmed to the retention and the cap)
    <ns>:{c<service>}:change         hash  change id -> JSON change (events/changes.py)
    <ns>:changes                     zset  "<service>|<id>" -> when: every service's changes, for listing
    <ns>:{g<gid>}:i:<n>:changes      hash  "<service>|<id>" -> JSON link: changes linked to an incident as probable
                                           causes (with the incident's other keys, one slot)

Remediation actions (``actions/``; that package reaches these through its ``ActionKeys`` protocol):

    <ns>:act:{<run id>}:run          hash  one action run: state, inputs (secrets masked), outcome, attempts
                                           (retrying: retry_at and the event context, saved)
    <ns>:act:{<run id>}:claim        str   the worker running an attempt of it (SET NX with a lease)
    <ns>:act:{rl}:<action>:<key>     zset  rate-limit window: run id -> start time (one slot for all limits)
    <ns>:act:breaker:<action>        hash  consecutive failures, open until
    <ns>:act:result:<correlation id> str   a runbook executor's reply, until its run reads it
    <ns>:act:runs                    zset  run id -> created_at
    <ns>:act:inc:<incident id>       zset  the incident's run ids -> created_at
    <ns>:act:prb:<problem id>        zset  the problem's run ids -> created_at (problem rules' actions)
    <ns>:audit                       stream every run outcome (append-only, capped)

Upgrading: the previous version kept timers in ``<ns>:timers:{t<n>}`` (correlation's, one zset per shard, members
the timer keys above, with ``<ns>:timers:{t<n>}:claims``: member -> attempt, which moves into the shard's claims
hash) and ``<ns>:act:due`` (the runner's, members ``ready:|expire:|verify:<run id>``). A worker moves what it
finds there into the due index when its due-time loop starts (``stormwatch/due_loop.py``): each old shard into the
same shard, whose keys share its slot (``{t<n>}``), one script per 500 members that adds and removes each member in
one step; ``act:due`` (another slot) member by member under ``<ns>:due:upgrading``: added (NX), then removed only
if unchanged.
The ticketing bridge (issue 21; ``stormwatch.ticket_refs``): the reference is the incident hash's ``ticket`` field
(``<system>:<ref>``), beside

    <ns>:ticket:claim:<system>:<incident>  str  the worker creating the ticket (SET NX with a lease)
    <ns>:ticket:ref:<system>:<ref>         str  the ticket's incident (inbound webhooks name the ticket)
"""

from __future__ import annotations

from dataclasses import dataclass

from correlation.core.model import parse_incident_id

DUE_SHARDS = 16  # shards of the due-time index: as many as the previous layout's timer shards, each moving into its own


@dataclass(frozen=True, slots=True)
class Keyspace:
    namespace: str

    def _tag(self, group_id: str) -> str:
        return f"{self.namespace}:{{g{group_id}}}"

    def group(self, group_id: str) -> str:
        return f"{self._tag(group_id)}:group"

    def alert(self, group_id: str, fingerprint: str) -> str:
        return f"{self._tag(group_id)}:a:{fingerprint}"

    def incident_prefix(self, group_id: str) -> str:
        """Prefix of the group's incident keys; the read script appends the incident number."""
        return f"{self._tag(group_id)}:i:"

    def alert_prefix(self, group_id: str) -> str:
        """Prefix of the group's alert keys; the read script appends held-back fingerprints."""
        return f"{self._tag(group_id)}:a:"

    def incident(self, incident_id: str) -> str:
        group_id, seq = parse_incident_id(incident_id)
        return f"{self._tag(group_id)}:i:{seq}"

    def incident_alerts(self, incident_id: str) -> str:
        return self.incident(incident_id) + ":alerts"

    def incident_timeline(self, incident_id: str) -> str:
        return self.incident(incident_id) + ":timeline"

    def incident_symptoms(self, incident_id: str) -> str:
        return self.incident(incident_id) + ":symptoms"

    def incident_symptom_services(self, incident_id: str, rule: str) -> str:
        return self.incident(incident_id) + f":svc:{rule}"

    def incident_changes(self, incident_id: str) -> str:
        return self.incident(incident_id) + ":changes"

    def service_changes(self, service: str) -> str:
        return f"{self.namespace}:{{c{service}}}:changes"

    def service_change_docs(self, service: str) -> str:
        return f"{self.namespace}:{{c{service}}}:change"

    @property
    def changes(self) -> str:
        return f"{self.namespace}:changes"

    def cause(self, key: str) -> str:
        """One key of the shared cause index (each its own Cluster slot; read and written one at a time)."""
        return f"{self.namespace}:cause:{key}"

    def symptom_candidates(self, key: str) -> str:
        """The candidates under one cause key: members of incidents a source firing there later would merge."""
        return f"{self.namespace}:cand:{key}"

    def problem_occurrences(self, sig_id: str) -> str:
        return f"{self.namespace}:{{p{sig_id}}}:occ"

    def problem_state(self, sig_id: str) -> str:
        return f"{self.namespace}:{{p{sig_id}}}:state"

    def problem_prefix(self, sig_id: str) -> str:
        return f"{self.namespace}:{{p{sig_id}}}:p:"

    def problem(self, problem_id: str) -> str:
        sig_id, _, seq = problem_id[len("PRB-"):].rpartition("-")
        return f"{self.problem_prefix(sig_id)}{seq}"

    def problem_timeline(self, problem_id: str) -> str:
        return self.problem(problem_id) + ":timeline"

    @property
    def problems(self) -> str:
        return f"{self.namespace}:problems"

    @property
    def open_problems(self) -> str:
        return f"{self.namespace}:problems:open"

    def marker(self, group_id: str, message_id: str) -> str:
        return f"{self._tag(group_id)}:m:{message_id}"

    def sender_key(self, fingerprint: str) -> str:
        """Labels of an alert whose fingerprint is the sender's key (PagerDuty dedup_key), to route its resolve."""
        return f"{self.namespace}:sk:{fingerprint}"

    @property
    def due_shards(self) -> int:
        return DUE_SHARDS

    def due(self, kind: str, shard: int) -> str:
        """One kind's sorted set in one shard of the due-time index (kv/due.py); a shard's kinds share its slot."""
        return f"{self.namespace}:due:{{t{shard}}}:{kind}"

    @staticmethod
    def timer_shard(group_id: str) -> int:
        """The due-index shard of a group's timers (all of a group's timers in one shard, as in the old layout)."""
        return int(group_id[:2], 16) % DUE_SHARDS

    def due_claims(self, shard: int) -> str:
        """One shard's claims hash (kv/due.py): "<kind>:<timer key>" -> the attempt of a claim not completed yet."""
        return f"{self.namespace}:due:{{t{shard}}}:claims"

    @property
    def legacy_timer_shards(self) -> list[str]:
        """Where the previous version kept correlation's timers (shard n shares the slot of the index's shard n)."""
        return [f"{self.namespace}:timers:{{t{n}}}" for n in range(DUE_SHARDS)]

    @staticmethod
    def legacy_timer_claims(shard: str) -> str:
        """The claims hash beside an old timer shard (member -> attempt), moved with its members."""
        return f"{shard}:claims"

    @property
    def legacy_action_due(self) -> str:
        """Where the previous version kept the action runner's due work."""
        return f"{self.namespace}:act:due"

    @property
    def due_upgrade_lock(self) -> str:
        return f"{self.namespace}:due:upgrading"

    @property
    def silences(self) -> str:
        return f"{self.namespace}:silences"

    @property
    def change_windows(self) -> str:
        return f"{self.namespace}:change-windows"

    @property
    def incidents(self) -> str:
        return f"{self.namespace}:incidents"

    @property
    def open_incidents(self) -> str:
        return f"{self.namespace}:incidents:open"

    @property
    def sla_at_risk(self) -> str:
        return f"{self.namespace}:sla:at_risk"

    @property
    def sla_breached(self) -> str:
        return f"{self.namespace}:sla:breached"

    # -- remediation actions (see the module docstring) -------------------------------------------------------

    def action_run(self, run_id: str) -> str:
        return f"{self.namespace}:act:{{{run_id}}}:run"

    def action_claim(self, run_id: str) -> str:
        return f"{self.namespace}:act:{{{run_id}}}:claim"

    def action_rate(self, action: str, key: str) -> str:
        return f"{self.namespace}:act:{{rl}}:{action}:{key}"

    def action_breaker(self, action: str) -> str:
        return f"{self.namespace}:act:breaker:{action}"

    def action_result(self, correlation_id: str) -> str:
        return f"{self.namespace}:act:result:{correlation_id}"

    def incident_runs(self, incident_id: str) -> str:
        return f"{self.namespace}:act:inc:{incident_id}"

    def problem_runs(self, problem_id: str) -> str:
        return f"{self.namespace}:act:prb:{problem_id}"

    @property
    def action_runs(self) -> str:
        return f"{self.namespace}:act:runs"

    @property
    def audit(self) -> str:
        return f"{self.namespace}:audit"

    def ticket_claim(self, incident_id: str, system: str) -> str:
        """The worker creating an incident's ticket in ``system`` (SET NX with a lease; issue 21)."""
        return f"{self.namespace}:ticket:claim:{system}:{incident_id}"

    def ticket_incident(self, system: str, ref: str) -> str:
        """A ticket's incident (the ticketing system's webhook names the ticket)."""
        return f"{self.namespace}:ticket:ref:{system}:{ref}"

    @property
    def pattern(self) -> str:
        """A SCAN pattern matching every key of this namespace (used by cleanup)."""
        return f"{self.namespace}:*"

