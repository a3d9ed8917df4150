"""deploy/compose.yaml against the Compose Specification's JSON schema (vendored from compose-spec/compose-spec,
schema/compose-spec.json), then what the stack must hold: the services, AOF on, explicit rules, secrets not literal."""

from __future__ import annotations

import json
import re

import jsonschema
import pytest
import yaml

from tests.deploy.tools import DEPLOY, SCHEMAS

COMPOSE = DEPLOY / "compose.yaml"


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft7Validator:
    schema = json.loads((SCHEMAS / "compose-spec.json").read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def test_the_compose_file_is_valid_against_the_compose_spec_schema(compose, validator):
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(compose)]
    assert not errors, "\n".join(errors)


def test_the_schema_check_is_a_real_check(compose, validator):
    broken = json.loads(json.dumps(compose))
    broken["services"]["redis"]["restart_policy"] = "always"  # not a service key
    broken["services"]["worker"]["depends_on"] = {"redis": {"condition": "whenever"}}
    assert len(list(validator.iter_errors(broken))) >= 2


def test_the_whole_stack_is_there(compose):
    services = compose["services"]
    assert {"rabbitmq", "redis", "worker", "api", "prometheus", "alertmanager", "grafana"} <= set(services)
    assert re.fullmatch(r"rabbitmq:\d+\.\d+\.\d+-management", services["rabbitmq"]["image"])
    redis_cmd = services["redis"]["command"]
    assert redis_cmd[redis_cmd.index("--appendonly") + 1] == "yes", "Redis with AOF on"
    for name, service in services.items():
        image = service.get("image", "")
        assert not image.endswith(":latest") and ":" in image, f"{name}: pin a version ({image})"


def test_workers_and_the_api_process(compose):
    worker, api = compose["services"]["worker"], compose["services"]["api"]
    assert worker["command"][:1] == ["serve"] and worker["deploy"]["replicas"] >= 2
    assert api["environment"]["STORMWATCH_CONSUME"] == "false"
    assert api["environment"]["STORMWATCH_ACTIONS_ENABLED"] == "false"
    for service in (worker, api):
        env = service["environment"]
        assert env["STORMWATCH_RULES"] == "/etc/stormwatch/rules", "rules named explicitly, from a mounted dir"
        assert any(v.startswith("./rules:/etc/stormwatch/rules") for v in service["volumes"])
        assert service["read_only"] is True and service["cap_drop"] == ["ALL"]
    assert (DEPLOY / "rules").is_dir()


def test_no_secret_is_written_in_the_file(compose):
    secretish = re.compile(r"PASS|TOKEN|SECRET|KEY|CREDENTIAL", re.I)
    for name, service in compose["services"].items():
        env = service.get("environment", {})
        for key in env:
            if secretish.search(key):
                assert key.endswith(("__FILE", "_FILE")), f"{name}: {key} is a literal secret"
        assert "amqp://" not in json.dumps(env), f"{name}: the AMQP URL (with its password) goes in secrets.env"
    ignored = (DEPLOY / ".gitignore").read_text().split()
    for secret in compose["secrets"].values():
        assert secret["file"].startswith("./secrets/") and "/secrets/" in ignored
    assert "/secrets.env" in ignored


def test_every_mounted_config_exists(compose):
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (DEPLOY / source).exists(), f"{name} mounts {source}, which is not in deploy/"
