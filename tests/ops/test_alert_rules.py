"""The example Prometheus alert rules in deploy/: valid, and firing when they should
(promtool's own rule tests, tests/ops/rules_test.yml), else at least well-formed."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

HERE = Path(__file__).resolve().parent
RULES = HERE.parents[1] / "deploy" / "prometheus" / "tipline-rules.yml"
NEEDED = {"TiplineUrgentTipUnacknowledged", "TiplineAlertsFailing", "TiplineNotReady"}


def test_rules_are_well_formed_and_cover_what_on_call_needs() -> None:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    rules = [rule for group in groups for rule in group["rules"]]
    assert {rule["alert"] for rule in rules} >= NEEDED
    for rule in rules:
        assert rule["expr"].strip() and rule["labels"]["severity"] in ("page", "warning")
        assert rule["annotations"]["summary"]


def _promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.skip("promtool not found: apt-get install prometheus (make system-deps) to run it")
    return path


def test_promtool_checks_the_rules() -> None:
    result = subprocess.run(
        [_promtool(), "check", "rules", str(RULES)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_rules_fire_when_they_should() -> None:
    result = subprocess.run(
        [_promtool(), "test", "rules", "rules_test.yml"],
        cwd=HERE,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
