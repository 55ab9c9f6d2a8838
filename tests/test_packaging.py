"""Checks on the build plumbing: Dockerfile, pyproject vs lock, Makefile, CI script, README."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[1]
LAYERS = ["storage", "monitoring", "collectors", "dashboard"]
TEST_STEPS = ["ruff check", "ruff format --check", "mypy", "lint-imports", "hadolint", "pytest"]


def _pyproject() -> dict[str, Any]:
    with (REPO / "pyproject.toml").open("rb") as f:
        return tomllib.load(f)


def _lock_pins() -> dict[str, str]:
    """Map canonical package name -> pinned version from requirements.lock."""
    pins: dict[str, str] = {}
    for line in (REPO / "requirements.lock").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name, sep, version = line.partition("==")
        assert sep, f"requirements.lock line {line!r} is not pinned with '=='"
        pins[canonicalize_name(Requirement(name).name)] = version.split(";")[0].strip()
    return pins


def _dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    logical: list[str] = []
    pending = ""
    for raw in (REPO / "Dockerfile").read_text().splitlines():
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        logical.append(pending + stripped)
        pending = ""
    assert not pending, "Dockerfile ends inside a line continuation"
    result = []
    for line in logical:
        keyword, _, args = line.partition(" ")
        result.append((keyword.upper(), args.strip()))
    return result


def _final_stage() -> list[tuple[str, str]]:
    """Instructions of the last build stage (the image that ships)."""
    instructions = _dockerfile_instructions()
    starts = [i for i, (kw, _) in enumerate(instructions) if kw == "FROM"]
    assert starts, "Dockerfile has no FROM"
    return instructions[starts[-1] :]


def _exec_form(args: str) -> list[str]:
    """Words of a CMD/ENTRYPOINT, JSON exec form or shell form."""
    if args.startswith("["):
        return [str(w) for w in json.loads(args)]
    return shlex.split(args)


def _venv_tool(name: str) -> Path:
    """Path of a console script installed next to this interpreter (the project venv)."""
    tool = Path(sys.executable).parent / name
    if not tool.exists():
        found = shutil.which(name)
        assert found, f"{name} not found; run `make .venv` to install the dev tools"
        tool = Path(found)
    return tool


def test_hadolint_passes_on_dockerfile() -> None:
    proc = subprocess.run(
        [str(_venv_tool("hadolint")), "--no-color", "Dockerfile"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, f"hadolint findings:\n{proc.stdout}{proc.stderr}"


def test_image_runs_as_non_root_user() -> None:
    users = [args for kw, args in _final_stage() if kw == "USER"]
    assert users, "final image stage has no USER; it would run as root"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"}, f"final USER is {users[-1]!r}"


def test_healthcheck_probes_health_endpoint() -> None:
    checks = [args for kw, args in _final_stage() if kw == "HEALTHCHECK"]
    assert checks, "final image stage has no HEALTHCHECK"
    assert "/api/v1/health" in checks[-1]
    assert "8501" in checks[-1]
    assert "curl" not in checks[-1], "python:slim has no curl; use urllib"


def test_image_serves_on_all_interfaces_port_8501_with_db_on_volume() -> None:
    stage = _final_stage()
    command: list[str] = []
    for kw, args in stage:
        if kw in {"ENTRYPOINT", "CMD"}:
            command += _exec_form(args)
    assert command[:2] == ["vigil", "serve"], f"image command is {command}"
    assert command[command.index("--host") + 1] == "0.0.0.0"
    assert command[command.index("--port") + 1] == "8501"
    db = command[command.index("--db") + 1]
    volumes = [v.strip('[]" ') for kw, args in stage if kw == "VOLUME" for v in args.split()]
    assert any(db.startswith(v.rstrip("/") + "/") for v in volumes), f"{db} not under {volumes}"
    exposed = [args for kw, args in stage if kw == "EXPOSE"]
    assert any("8501" in e.split() for e in exposed), f"EXPOSE is {exposed}"


def test_image_sets_do_not_track() -> None:
    envs = " ".join(args for kw, args in _final_stage() if kw == "ENV")
    assert re.search(r"\bDO_NOT_TRACK=1\b", envs), f"final stage ENV is {envs!r}"


def test_dockerfile_copies_every_packaged_package() -> None:
    packages = _pyproject()["tool"]["setuptools"]["packages"]
    top_level = {p.split(".")[0] for p in packages}
    copies = " ".join(args for kw, args in _dockerfile_instructions() if kw == "COPY")
    missing = sorted(p for p in top_level if not re.search(rf"(^|\s|\./){p}(/|\s|$)", copies))
    assert not missing, f"Dockerfile does not COPY packages {missing}"


def test_dockerignore_keeps_envs_data_and_git_out() -> None:
    entries = {
        line.strip().rstrip("/")
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    for needed in [".venv", "vigil-data", ".git"]:
        assert needed in entries, f".dockerignore does not exclude {needed}"


def test_pyproject_lists_the_four_layers_and_console_script() -> None:
    project = _pyproject()
    packages = project["tool"]["setuptools"]["packages"]
    for layer in LAYERS:
        assert layer in packages, f"pyproject [tool.setuptools] packages lacks {layer}"
    assert project["project"]["scripts"]["vigil"] == "dashboard.cli:main"


def test_every_pyproject_requirement_is_satisfied_by_the_lock() -> None:
    project = _pyproject()["project"]
    requirements = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        requirements += extra
    pins = _lock_pins()
    problems = []
    for text in requirements:
        req = Requirement(text)
        if req.marker is not None and not req.marker.evaluate({"python_version": "3.11"}):
            continue
        pinned = pins.get(canonicalize_name(req.name))
        if pinned is None:
            problems.append(f"{req.name}: not in requirements.lock")
        elif not req.specifier.contains(pinned, prereleases=True):
            problems.append(f"{req.name}: lock pins {pinned}, pyproject wants {req.specifier}")
    assert not problems, "run `make lock`:\n" + "\n".join(problems)


def test_lock_header_matches_make_lock_command() -> None:
    header = (REPO / "requirements.lock").read_text().splitlines()[:3]
    compile_line = next((h for h in header if "uv pip compile" in h), None)
    assert compile_line, "requirements.lock was not produced by `uv pip compile`"
    makefile = (REPO / "Makefile").read_text()
    for flag in ["--extra dev", "--extra gpu", "--python-version 3.11"]:
        assert flag in compile_line, f"lock header lacks {flag}"
        assert flag in makefile, f"`make lock` lacks {flag}"


def test_ci_script_is_strict_executable_and_ends_with_make_test() -> None:
    script = REPO / ".ci" / "run"
    assert os.access(script, os.X_OK), ".ci/run is not executable (chmod +x .ci/run)"
    lines = script.read_text().splitlines()
    assert lines[0].startswith("#!") and "bash" in lines[0], f"shebang is {lines[0]!r}"
    assert "set -euo pipefail" in lines
    commands = [ln.strip() for ln in lines if ln.strip() and not ln.strip().startswith("#")]
    assert commands[-1] in {"make test", "exec make test"}, f"last command is {commands[-1]!r}"


def test_ci_script_exports_chromium_path_for_browser_tests() -> None:
    text = (REPO / ".ci" / "run").read_text()
    assert "export VIGIL_CHROMIUM" in text
    assert "chromium-headless-shell" in text and "poppler-utils" in text


def _make_dry_run(*targets: str) -> list[str]:
    make = shutil.which("make")
    if make is None:
        pytest.fail("GNU make is not installed; the README's first commands need it")
    # Flags of an outer `make test` must not leak into the dry run.
    env = {k: v for k, v in os.environ.items() if k not in {"MAKEFLAGS", "MFLAGS", "MAKELEVEL"}}
    proc = subprocess.run(
        [make, "--no-print-directory", "-n", *targets],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, f"make -n {' '.join(targets)} failed:\n{proc.stderr}"
    return proc.stdout.splitlines()


def test_makefile_has_demo_test_bench_targets() -> None:
    text = (REPO / "Makefile").read_text()
    phony = " ".join(re.findall(r"^\.PHONY:(.*)$", text, flags=re.MULTILINE)).split()
    for target in ["demo", "test", "bench", "serve", "lint", "fmt", "clean", "lock", "help"]:
        assert re.search(rf"^{target}:", text, flags=re.MULTILINE), f"no `{target}` target"
        assert target in phony, f"`{target}` is not .PHONY"
    assert any("vigil demo" in line for line in _make_dry_run("demo"))
    assert any("-m benchmarks" in line for line in _make_dry_run("bench"))


def test_make_test_runs_every_check_in_order() -> None:
    lines = _make_dry_run("test")
    positions = []
    for step in TEST_STEPS:
        hits = [i for i, line in enumerate(lines) if f"/bin/{step}" in line]
        assert hits, f"`make test` does not run {step}"
        positions.append(hits[-1])
    assert positions == sorted(positions), f"`make test` runs steps out of order: {lines}"


def test_make_clean_never_removes_vigil_data() -> None:
    removals = [line for line in _make_dry_run("clean") if "rm " in line]
    assert removals, "`make clean` removes nothing"
    for line in removals:
        assert "vigil-data" not in line.split("-prune")[-1], f"clean touches data: {line}"


def _readme_commands() -> list[str]:
    """Shell commands from README.md's fenced code blocks, in order."""
    readme = REPO / "README.md"
    assert readme.exists(), "README.md is missing"
    commands: list[str] = []
    in_block = False
    for line in readme.read_text().splitlines():
        if line.strip().startswith("```"):
            in_block = not in_block
            continue
        stripped = line.strip().removeprefix("$ ").strip()
        if in_block and stripped and not stripped.startswith("#"):
            commands.append(stripped)
    return commands


def test_readme_starts_with_make_demo_then_make_test() -> None:
    commands = _readme_commands()
    assert commands[:2] == ["make demo", "make test"], f"README's first commands: {commands[:2]}"
