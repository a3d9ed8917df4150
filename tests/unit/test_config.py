"""Settings from STORMWATCH_* variables: defaults, parsing, errors that name the variable; the CLI's exits."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from stormwatch.config import Settings, SettingsError, load_settings, redact_url

STORMWATCH_BIN = Path(sys.executable).with_name("stormwatch")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests see only the variables they set (CI exports STORMWATCH_AMQP_URL and friends)."""
    for name in list(os.environ):
        if name.startswith("STORMWATCH_"):
            monkeypatch.delenv(name)


def test_defaults() -> None:
    s = load_settings()

    assert isinstance(s, Settings)
    assert s.amqp_url == "amqp://guest:guest@127.0.0.1:5672/"
    assert s.redis_url == "redis://127.0.0.1:6379/0"
    assert s.namespace == "stormwatch"
    assert (s.metrics_host, s.metrics_port) == ("127.0.0.1", 9464)
    assert (s.prefetch, s.batch_size, s.batch_wait_ms) == (512, 256, 2.0)
    assert s.group_by == ("alertname", "service")
    assert (s.log_format, s.log_level) == ("auto", "info")
    assert s.rules == "none"  # safe by default: the example rules (and their live actions) only when asked for
    assert (s.default_team, s.default_priorities) == ("unassigned", {})
    assert s.incident_priorities == {"critical": "P1", "error": "P2", "warning": "P3", "info": "P5", "none": "P3"}


def test_settings_are_frozen() -> None:
    s = load_settings()
    with pytest.raises(ValidationError):
        s.namespace = "other"  # type: ignore[misc]


def test_environment_variables_with_the_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STORMWATCH_GROUP_BY", "alertname, cluster")
    monkeypatch.setenv("STORMWATCH_PREFETCH", "64")
    monkeypatch.setenv("STORMWATCH_NAMESPACE", "prod-eu.1")
    monkeypatch.setenv("STORMWATCH_REDIS_URL", "rediss://:pw@redis.internal:6380/2")
    monkeypatch.setenv("STORMWATCH_AMQP_URL", "amqps://u:p@mq.internal/vhost")
    monkeypatch.setenv("STORMWATCH_LOG_FORMAT", "json")
    monkeypatch.setenv("PREFETCH", "1")  # no prefix: ignored

    s = load_settings()

    assert s.group_by == ("alertname", "cluster")
    assert s.prefetch == 64
    assert s.namespace == "prod-eu.1"
    assert s.redis_url == "rediss://:pw@redis.internal:6380/2"
    assert s.amqp_url == "amqps://u:p@mq.internal/vhost"
    assert s.log_format == "json"


def test_overrides_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STORMWATCH_NAMESPACE", "from-env")
    assert load_settings(namespace="from-arg").namespace == "from-arg"


def test_group_by_ignores_empty_parts_and_accepts_a_tuple(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STORMWATCH_GROUP_BY", " alertname ,, cluster , ")
    assert load_settings().group_by == ("alertname", "cluster")
    assert load_settings(group_by=("job",)).group_by == ("job",)


@pytest.mark.parametrize(
    ("env", "value"),
    [
        ("STORMWATCH_PREFETCH", "0"),
        ("STORMWATCH_PREFETCH", "many"),
        ("STORMWATCH_NAMESPACE", "Bad NS"),
        ("STORMWATCH_AMQP_URL", "http://x"),
        ("STORMWATCH_REDIS_URL", "foo"),
        ("STORMWATCH_LABEL_NAMES", "latin1"),
        ("STORMWATCH_GROUP_BY", " , "),
        ("STORMWATCH_METRICS_PORT", "70000"),
        ("STORMWATCH_LOG_LEVEL", "verbose"),
        ("STORMWATCH_ACTIONS_CLAIM_MARGIN_SECONDS", "0"),
        ("STORMWATCH_LABEL_VALUE_MAX_BYTES", "10"),
        ("STORMWATCH_LABELS_MAX_COUNT", "0"),
        ("STORMWATCH_LABELS_MAX_BYTES", "many"),
        ("STORMWATCH_MEMO_MAX_BYTES", "1000"),
        ("STORMWATCH_STREAM_CLIENT_MAX_BYTES", "100"),
        ("STORMWATCH_METRICS_SOURCES", "ok," + "x" * 129),
        ("STORMWATCH_METRICS_TOKEN", "short"),
    ],
)
def test_bad_values_raise_settings_error_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, env: str, value: str
) -> None:
    monkeypatch.setenv(env, value)

    with pytest.raises(SettingsError) as info:
        load_settings()

    assert f"{env}:" in str(info.value)


@pytest.mark.parametrize("value", ["inf", "nan", "-inf", "Infinity"])
def test_no_number_setting_takes_an_infinity_or_nan(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    """``STORMWATCH_TIMER_POLL_SECONDS=inf`` passed ``gt=0`` and would have put the timer loop to sleep for ever."""
    floats = [name for name, f in Settings.model_fields.items() if f.annotation is float]
    assert "timer_poll_seconds" in floats and "history_retention_days" in floats
    for name in floats:
        monkeypatch.setenv(f"STORMWATCH_{name.upper()}", value)
        with pytest.raises(SettingsError) as info:
            load_settings()
        assert f"STORMWATCH_{name.upper()}:" in str(info.value) and "finite" in str(info.value)
        monkeypatch.delenv(f"STORMWATCH_{name.upper()}")


def test_every_bad_variable_is_named_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STORMWATCH_PREFETCH", "0")
    monkeypatch.setenv("STORMWATCH_NAMESPACE", "Bad NS")

    with pytest.raises(SettingsError) as info:
        load_settings()

    assert "STORMWATCH_PREFETCH" in str(info.value)
    assert "STORMWATCH_NAMESPACE" in str(info.value)


def test_group_by_error_names_the_bad_label(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STORMWATCH_GROUP_BY", "alertname,bad-label")
    assert load_settings().group_by == ("alertname", "bad-label")  # a UTF-8 label name (the default scheme)
    monkeypatch.setenv("STORMWATCH_LABEL_NAMES", "classic")
    with pytest.raises(SettingsError, match="'bad-label' is not a valid label name"):
        load_settings()


def test_metrics_sources_split_and_the_metrics_token_is_never_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STORMWATCH_METRICS_SOURCES", "nagios, zabbix,,")
    assert load_settings().metrics_sources == ("nagios", "zabbix")
    monkeypatch.setenv("STORMWATCH_METRICS_TOKEN", "secret-ish")
    with pytest.raises(SettingsError) as info:
        load_settings()
    assert "STORMWATCH_METRICS_TOKEN:" in str(info.value) and "secret-ish" not in str(info.value)


def test_unknown_keyword_is_rejected() -> None:
    with pytest.raises(SettingsError, match="STORMWATCH_NO_SUCH_SETTING"):
        load_settings(no_such_setting=1)


def test_settings_error_does_not_echo_a_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STORMWATCH_AMQP_URL", "amqp//guest:s3cret@mq.internal:5672/")  # typo: no ':'

    with pytest.raises(SettingsError) as info:
        load_settings()

    assert "STORMWATCH_AMQP_URL" in str(info.value)
    assert "s3cret" not in str(info.value)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("amqp://guest:s3cret@mq:5672/", "amqp://guest:***@mq:5672/"),
        ("redis://:s3cret@redis:6379/0", "redis://:***@redis:6379/0"),
        ("rediss://user:p%40ss@redis:6380/1", "rediss://user:***@redis:6380/1"),
        ("redis://redis:6379/0", "redis://redis:6379/0"),
        ("amqp://guest@mq/", "amqp://guest@mq/"),
    ],
)
def test_redact_url_hides_passwords(url: str, expected: str) -> None:
    assert redact_url(url) == expected


# --- the real CLI --------------------------------------------------------------------------------------

CLI_CASES = {
    "bad_prefetch": {"STORMWATCH_PREFETCH": "0"},
    "redis_down": {"STORMWATCH_REDIS_URL": "redis://127.0.0.1:1/0"},
}


@pytest.fixture(scope="module")
def cli_runs() -> dict[str, tuple[int, str]]:
    """``stormwatch incidents list`` once per case, all started together (each is ~1 s of imports)."""
    if not STORMWATCH_BIN.exists():
        pytest.fail(f"{STORMWATCH_BIN} is missing: pip install -e . into the venv")
    base = {k: v for k, v in os.environ.items() if not k.startswith("STORMWATCH_")}
    base["COLUMNS"] = "400"  # rich wraps at the terminal width; keep messages on one line
    procs = {
        name: subprocess.Popen(
            [str(STORMWATCH_BIN), "incidents", "list"], env=base | extra,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for name, extra in CLI_CASES.items()
    }
    results = {}
    for name, proc in procs.items():
        try:
            _, stderr = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, stderr = proc.communicate()
        results[name] = (proc.returncode, " ".join(stderr.split()))
    return results


def test_cli_names_the_bad_variable_and_exits_2(cli_runs: dict[str, tuple[int, str]]) -> None:
    code, stderr = cli_runs["bad_prefetch"]
    assert code == 2, stderr
    assert "STORMWATCH_PREFETCH" in stderr
    assert "Traceback" not in stderr


def test_cli_says_redis_is_not_answering_and_how_to_start_it(cli_runs: dict[str, tuple[int, str]]) -> None:
    code, stderr = cli_runs["redis_down"]
    assert code == 1, stderr
    assert "Redis is not answering at redis://127.0.0.1:1/0" in stderr
    assert "redis-server" in stderr and "make services" in stderr
    assert "STORMWATCH_REDIS_URL" in stderr
    assert "Traceback" not in stderr


def test_cli_redis_message_hides_the_password(monkeypatch: pytest.MonkeyPatch) -> None:
    # in-process (the message is built by the CLI's context.with_store) to spare a third ~1 s subprocess
    from stormwatch.app import ServiceUnavailable
    from stormwatch.cli import context

    monkeypatch.setattr(context, "configure_logging", lambda *args, **kwargs: None)
    monkeypatch.setenv("STORMWATCH_REDIS_URL", "redis://:s3cret@127.0.0.1:1/0")

    with pytest.raises(ServiceUnavailable) as info:
        asyncio.run(context.with_store(lambda store: None))

    assert "Redis is not answering at redis://:***@127.0.0.1:1/0" in str(info.value)
    assert "s3cret" not in str(info.value)


def test_http_address_defaults_to_the_metrics_address_and_http_settings_win(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().http_address == ("127.0.0.1", 9464)
    monkeypatch.setenv("STORMWATCH_METRICS_PORT", "9500")
    assert load_settings().http_address == ("127.0.0.1", 9500)  # older deployments keep their port
    monkeypatch.setenv("STORMWATCH_HTTP_PORT", "8080")
    monkeypatch.setenv("STORMWATCH_HTTP_HOST", "0.0.0.0")
    assert load_settings().http_address == ("0.0.0.0", 8080)
    monkeypatch.setenv("STORMWATCH_HTTP_PORT", "70000")
    with pytest.raises(SettingsError, match="STORMWATCH_HTTP_PORT:"):
        load_settings()


def test_gc_threshold_is_three_generations_or_empty(monkeypatch) -> None:
    from stormwatch.config import SettingsError, load_settings

    assert load_settings().gc_threshold == (10_000, 10, 100)
    monkeypatch.setenv("STORMWATCH_GC_THRESHOLD", "20000,5,5")
    assert load_settings().gc_threshold == (20_000, 5, 5)
    monkeypatch.setenv("STORMWATCH_GC_THRESHOLD", "")
    assert load_settings().gc_threshold == ()
    for bad in ("10000,10", "0,10,10", "a,b,c"):
        monkeypatch.setenv("STORMWATCH_GC_THRESHOLD", bad)
        try:
            load_settings()
        except SettingsError as exc:
            assert "STORMWATCH_GC_THRESHOLD" in str(exc) or "gc_threshold" in str(exc)
        else:
            raise AssertionError(f"{bad!r} was accepted")


def test_default_priorities_override_the_built_in_matrix_and_bad_pairs_name_the_variable(monkeypatch) -> None:
    monkeypatch.setenv("STORMWATCH_DEFAULT_PRIORITIES", " info=P4 , none=P4 ")
    monkeypatch.setenv("STORMWATCH_DEFAULT_TEAM", "noc")
    s = load_settings()
    assert s.incident_priorities == {"critical": "P1", "error": "P2", "warning": "P3", "info": "P4", "none": "P4"}
    assert s.default_team == "noc"
    for bad, says in (("info", "severity=priority pairs"), ("sev=P1", "'sev' is not a severity"),
                      ("info=P9", "a priority is P1 to P5")):
        monkeypatch.setenv("STORMWATCH_DEFAULT_PRIORITIES", bad)
        with pytest.raises(SettingsError, match="STORMWATCH_DEFAULT_PRIORITIES") as err:
            load_settings()
        assert says in str(err.value)
    monkeypatch.delenv("STORMWATCH_DEFAULT_PRIORITIES")
    monkeypatch.setenv("STORMWATCH_DEFAULT_TEAM", "")
    with pytest.raises(SettingsError, match="STORMWATCH_DEFAULT_TEAM"):
        load_settings()


README = Path(__file__).resolve().parents[2] / "README.md"


def _readme_settings_table() -> dict[str, str]:
    """The README's settings table (section "Configuration"): variable -> its row's format cell."""
    text = README.read_text()
    section = text[text.index("\n## Configuration"):]
    section = section[:section.index("\n## ", 1)]
    rows: dict[str, str] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 4 and cells[0].startswith("`STORMWATCH_"):
            rows[cells[0].strip("`")] = cells[2]
    return rows


def test_the_readme_settings_table_lists_every_setting_with_its_format() -> None:
    """Every Settings field has its own row (full variable name) with a format; no row names a setting that is gone."""
    rows = _readme_settings_table()
    variables = {f"STORMWATCH_{name.upper()}" for name in Settings.model_fields}
    assert sorted(variables - rows.keys()) == [], "settings missing from the README's table"
    assert sorted(rows.keys() - variables) == [], "README rows for settings that do not exist"
    assert [v for v, fmt in rows.items() if not fmt] == [], "rows without a format"
    assert "name:role:token" in rows["STORMWATCH_API_TOKENS"] and "JSON" in rows["STORMWATCH_API_TOKENS"]


def test_tls_files_are_set_together_and_the_error_shows_no_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STORMWATCH_API_TOKENS", "ops:admin:very-secret-token-0123456789")
    monkeypatch.setenv("STORMWATCH_HTTP_TLS_CERT_FILE", "/etc/stormwatch/tls.crt")
    with pytest.raises(SettingsError) as info:
        load_settings()
    assert "STORMWATCH_HTTP_TLS_KEY_FILE" in str(info.value)
    assert "very-secret-token" not in str(info.value)
    monkeypatch.setenv("STORMWATCH_HTTP_TLS_KEY_FILE", "/etc/stormwatch/tls.key")
    assert load_settings().http_tls


def test_label_names_scheme_is_applied_by_load_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from rules import label_names

    monkeypatch.setenv("STORMWATCH_LABEL_NAMES", "classic")
    assert load_settings().label_names == "classic" and label_names.scheme() == "classic"
    assert not label_names.valid("service.name") and label_names.valid("service_name")
    monkeypatch.setenv("STORMWATCH_LABEL_NAMES", "utf8")
    load_settings()
    assert label_names.valid("service.name") and not label_names.valid("") and not label_names.valid("\udcff")


def test_pagerduty_routing_keys_are_validated_and_never_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STORMWATCH_PAGERDUTY_ROUTING_KEYS", "payments:::short-key")
    with pytest.raises(SettingsError) as info:
        load_settings()
    assert "STORMWATCH_PAGERDUTY_ROUTING_KEYS" in str(info.value) and "short-key" not in str(info.value)


def test_config_check_masks_the_routing_keys() -> None:
    from stormwatch.config_check import effective_settings

    key = "0123456789abcdef0123456789abcdef"
    shown = effective_settings(load_settings(pagerduty_routing_keys=f"payments:::{key}"))
    assert shown["STORMWATCH_PAGERDUTY_ROUTING_KEYS"] == "***" and key not in str(shown)
