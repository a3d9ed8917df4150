"""deploy/profile_stages.py --by-owner: samples go to the owner of their innermost frame (issue 20's argument)."""

import importlib.util
from pathlib import Path

spec = importlib.util.spec_from_file_location(
    "profile_stages", Path(__file__).resolve().parents[2] / "deploy" / "profile_stages.py")
assert spec is not None and spec.loader is not None
profile_stages = importlib.util.module_from_spec(spec)
spec.loader.exec_module(profile_stages)

RAW = [  # py-spy's raw format: frames outermost first, then the sample count
    "<module> (deploy/cpu_per_alert.py:90);run (uvloop/__init__.py:92);Runner.run (asyncio/runners.py:118) 7",
    "Runner.run (asyncio/runners.py:118);AlertConsumer._run (ingest/consumer.py:161);"
    "decide (correlation/core/engine.py:87) 5",
    "AlertConsumer._run (ingest/consumer.py:161);FrameReceiver.get_frame (aiormq/connection.py:120);"
    "unmarshal (pamqp/frame.py:40) 3",
    "AlertConsumer._run (ingest/consumer.py:161);__init__ (<string>:3) 1",
    "Worker.connect (stormwatch/app.py:10);parse_yaml (rules/yaml_lines.py:5) 50",  # start-up: left out
]


def test_each_sample_goes_to_its_innermost_frames_owner() -> None:
    counts, total = profile_stages.owners(RAW)
    assert total == 16
    assert counts == {"event loop": 7, "Stormwatch": 5, "package pamqp": 3,
                      "generated (dataclass and namedtuple methods)": 1}


def test_a_full_path_is_read_from_after_site_packages() -> None:
    assert profile_stages.owner("f (/x/.venv/lib/python3.11/site-packages/redis/client.py:1)") == "package redis"
    assert profile_stages.owner("f (contextlib.py:1)") == "module contextlib.py"
    assert profile_stages.owner("f (kv/scripts.py:1)") == "Stormwatch"
