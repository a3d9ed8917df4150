"""The monitoring configs with their real tools (Debian's promtool and amtool), and every stormwatch_* metric the
dashboard and the alert rules use checked against the names Stormwatch's registry really exposes."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from tests.deploy.tools import DEPLOY, exposed_metric_names, run, stormwatch_names_in, tool

PROMETHEUS = DEPLOY / "prometheus"
RULES = PROMETHEUS / "stormwatch-rules.yml"
DASHBOARD = DEPLOY / "grafana" / "stormwatch.json"


def test_promtool_checks_the_alert_rules():
    result = run(tool("promtool", "prometheus"), "check", "rules", RULES)
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_unit_tests_of_the_alert_rules_pass():
    result = run(tool("promtool", "prometheus"), "test", "rules", "stormwatch-rules.test.yml", cwd=PROMETHEUS)
    assert result.returncode == 0 and "SUCCESS" in result.stdout, result.stdout + result.stderr


def test_every_required_alert_is_there_and_tested():
    alerts = {r["alert"] for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]}
    assert {"StormwatchConsumerStopped", "StormwatchConsumerStalled", "StormwatchQueueDepthGrowing",
            "StormwatchDeadLettersGrowing", "StormwatchRedisErrors", "StormwatchLatencyHigh",
            "StormwatchActionBreakerOpen", "StormwatchRulesReloadRefused"} <= alerts
    tests = yaml.safe_load((PROMETHEUS / "stormwatch-rules.test.yml").read_text())["tests"]
    fired = {t["alertname"] for case in tests for t in case.get("alert_rule_test", []) if t.get("exp_alerts")}
    assert alerts == fired, f"alerts without a test that fires them: {alerts - fired}"
    for group in yaml.safe_load(RULES.read_text())["groups"]:
        for rule in group["rules"]:
            assert rule["labels"]["service"] == "stormwatch", "Alertmanager routes these to people, not to Stormwatch"


def test_promtool_checks_the_prometheus_config(tmp_path):
    # The config names container paths (/etc/prometheus, /run/secrets); point them at the repository's files.
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "stormwatch_ingest_token").write_text("a-token-for-the-check\n")
    text = (PROMETHEUS / "prometheus.yml").read_text()
    text = text.replace("/etc/prometheus/", f"{PROMETHEUS}/").replace("/run/secrets/", f"{secrets}/")
    config = tmp_path / "prometheus.yml"
    config.write_text(text)
    result = run(tool("promtool", "prometheus"), "check", "config", config)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 rule files found" in result.stdout


def test_amtool_checks_the_alertmanager_config():
    result = run(tool("amtool", "prometheus-alertmanager"), "check-config", DEPLOY / "alertmanager" / "alertmanager.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_amtool_routes_stormwatch_alerts_to_people_and_the_rest_to_stormwatch():
    amtool = tool("amtool", "prometheus-alertmanager")
    config = f"--config.file={DEPLOY / 'alertmanager' / 'alertmanager.yml'}"
    own = run(amtool, "config", "routes", "test", config, "service=stormwatch", "alertname=StormwatchDown")
    other = run(amtool, "config", "routes", "test", config, "service=checkout", "alertname=HighErrorRate")
    assert own.stdout.strip() == "oncall", own.stdout + own.stderr
    assert other.stdout.strip() == "stormwatch", other.stdout + other.stderr


def dashboard_expressions() -> list[str]:
    def walk(panels):
        for panel in panels:
            yield from (t["expr"] for t in panel.get("targets", []))
            yield from walk(panel.get("panels", []))
    return list(walk(json.loads(DASHBOARD.read_text())["panels"]))


def rule_expressions() -> list[str]:
    return [r["expr"] for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]]


@pytest.mark.parametrize("source", ["dashboard", "alert rules"])
def test_every_stormwatch_metric_used_exists(source):
    expressions = dashboard_expressions() if source == "dashboard" else rule_expressions()
    used = set().union(*(stormwatch_names_in(e) for e in expressions))
    assert used, "the extraction found nothing: the test would pass vacuously"
    unknown = used - exposed_metric_names()
    assert not unknown, f"{source} uses metrics Stormwatch does not expose: {sorted(unknown)}"


def test_the_dashboard_covers_what_the_issue_asks():
    text = " ".join(dashboard_expressions())
    for needle in ("stormwatch_alerts_received_total", "stormwatch_processing_latency_seconds_bucket",
                   "rabbitmq_detailed_queue_messages_ready", ".dead", "stormwatch_alerts_duplicate_total",
                   "stormwatch_incidents_opened_by_priority_total", 'stormwatch_alerts_correlated_total',
                   "stormwatch_actions_failed_total", "stormwatch_redis_errors_total", "stormwatch_amqp_errors_total"):
        assert needle in text, needle


def test_every_dashboard_expression_parses(tmp_path):
    """promtool parses each expression (as a recording rule), with Grafana's variables given values."""
    exprs = [re.sub(r"\$__rate_interval", "1m", e).replace("$namespace", "stormwatch") for e in dashboard_expressions()]
    rules = {"groups": [{"name": "dashboard", "rules": [{"record": f"dashboard:expr{i}", "expr": e}
                                                       for i, e in enumerate(exprs)]}]}
    path = tmp_path / "dashboard-rules.yml"
    path.write_text(yaml.safe_dump(rules))
    result = run(tool("promtool", "prometheus"), "check", "rules", path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_grafana_provisioning_points_at_the_dashboard_and_its_datasource():
    datasource = yaml.safe_load((DEPLOY / "grafana/provisioning/datasources/prometheus.yml").read_text())
    dashboard = json.loads(DASHBOARD.read_text())
    variable = next(v for v in dashboard["templating"]["list"] if v["name"] == "datasource")
    assert variable["current"]["value"] == datasource["datasources"][0]["uid"]
    provider = yaml.safe_load((DEPLOY / "grafana/provisioning/dashboards/stormwatch.yml").read_text())
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    mounts = compose["services"]["grafana"]["volumes"]
    assert f"./grafana/stormwatch.json:{provider['providers'][0]['options']['path']}/stormwatch.json:ro" in mounts
