"""The README's two commands are the ones CI runs, verbatim."""

from __future__ import annotations

import re

from conftest import ROOT


def _command(marker: str) -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    m = re.search(rf"<!-- {marker} -->\s*```bash\n(.+?)\n```", readme, re.S)
    assert m, f"README has no {marker} block"
    return m.group(1).strip()


def test_ci_runs_readme_setup_then_test_command():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    setup, test = _command("setup-command"), _command("test-command")
    assert "torch==2.13.0" in setup
    assert setup in ci and test in ci
    assert ci.index(setup) < ci.index(test)
