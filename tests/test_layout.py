"""The house rules, checked from the source: one namespace, one-way imports, contracts defined once,
small modules and functions."""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# folder in the repository -> the package name it installs as
PACKAGE_ROOTS = {
    "swapstream": "swapstream",
    "engine": "swapstream.engine",
    "trainer": "swapstream.trainer",
    "export": "swapstream.export",
}
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 80


def _modules() -> dict[str, Path]:
    """Dotted installed name -> source file, for every module of the distribution."""
    out = {}
    for folder, package in PACKAGE_ROOTS.items():
        for path in sorted((REPO / folder).rglob("*.py")):
            rel = path.relative_to(REPO / folder).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            out[".".join([package, *parts])] = path
    return out


def _imports(path: Path) -> set[str]:
    """Every absolute module name imported anywhere in the file (function-level imports too)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


def test_every_package_folder_is_installed_under_the_swapstream_namespace():
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    on_disk = {name for name, path in _modules().items() if path.name == "__init__.py"}
    assert listed == on_disk | {"swapstream.configs"}  # the YAML presets travel as package data
    assert all(name == "swapstream" or name.startswith("swapstream.") for name in listed)
    mapped = {v: k for k, v in PACKAGE_ROOTS.items() if k != "swapstream"}
    assert config["package-dir"] == {**mapped, "swapstream.configs": "configs"}


@pytest.mark.slow
def test_the_built_wheel_claims_only_the_swapstream_import_name(tmp_path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(REPO),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("swapstream-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert top == {"swapstream"}
    assert "swapstream/engine/face/align.py" in names and "swapstream/trainer/model.py" in names
    # engine/engine_config.py and trainer/config.py find the YAML at <package>/../configs, installed or not
    assert "swapstream/configs/engine.yaml" in names and "swapstream/configs/presets/live.yaml" in names


def test_imports_flow_one_way():
    """engine never imports torch, trainer, export or the commands; the leaf imports nothing of the
    project but itself; the model module imports only torch (and the constants leaf)."""
    for name, path in _modules().items():
        imported = _imports(path)
        if name.startswith("swapstream.engine"):
            bad = {m for m in imported if m.split(".")[0] == "torch" or m.startswith(("swapstream.trainer",
                   "swapstream.export", "swapstream.commands", "swapstream.cli"))}  # fmt: skip
            assert not bad, f"{path} imports {bad}"
        if name.startswith("swapstream.common"):
            own = {m for m in imported if m.startswith("swapstream") and not m.startswith("swapstream.common")}
            assert not own, f"{path} (the shared leaf) imports {own}"
    model_imports = {m.split(".")[0] for m in _imports(REPO / "trainer" / "model.py")} - {"__future__", "itertools"}
    assert model_imports <= {"torch", "swapstream"}


def test_nothing_below_the_commands_imports_them():
    """The commands sit on top: no other module of the distribution imports swapstream.commands or
    swapstream.cli (the studio, convert_parts, bench and demo read flags through swap_session)."""
    top = ("swapstream.commands", "swapstream.cli", "swapstream.__main__")
    for name, path in _modules().items():
        if name.startswith(top):
            continue
        upward = {m for m in _imports(path) if m.startswith(top)}
        assert not upward, f"{path.relative_to(REPO)} imports {upward}"


# Where a swap pipeline may be built: the session builder, and the engine's runner (run_sequential).
PIPELINE_BUILDERS = {"swapstream/swap_session/pipelines.py", "engine/pipeline/runner.py"}


def _calls(path: Path, names: set[str]) -> list[int]:
    """Line numbers of calls to any of `names` (as a bare name or an attribute)."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call):
            f = node.func
            called = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None
            if called in names:
                lines.append(node.lineno)
    return lines


def test_swap_pipelines_are_built_in_one_place():
    """convert, live, the studio, convert's segment workers and bench build their pipelines (and
    their swap stages) through swap_session.pipelines.SwapSession; so do the benchmarks."""
    files = [*_modules().values(), *sorted((REPO / "benchmarks").glob("*.py"))]
    for path in files:
        rel = str(path.relative_to(REPO))
        if rel in PIPELINE_BUILDERS:
            continue
        found = _calls(path, {"Pipeline", "PipelinePolicy", "swap_stages"})
        assert not found, f"{rel}:{found} builds a pipeline or swap stages outside {sorted(PIPELINE_BUILDERS)}"


# Spellings that must appear in exactly one module: the enumerations and the shared contracts.
DEFINED_ONCE = {
    '("feather", "poisson")': "swapstream/common/choices.py",
    '("a2b", "b2a")': "swapstream/common/choices.py",
    '("largest", "all")': "swapstream/common/choices.py",
    '("both", "model", "hull", "occlusion")': "swapstream/common/choices.py",
    '("half", "mid", "full", "whole", "head")': "swapstream/common/choices.py",
    '("fp32", "fp16", "int8")': "swapstream/common/choices.py",
    '"Contains synthetically swapped faces': "swapstream/common/choices.py",
    '"swapstream-faceset"': "swapstream/common/faceset.py",
    "class FramePacket": "swapstream/common/pipeline_contract.py",
    "class SourceInfo": "swapstream/common/pipeline_contract.py",
    "class UserError": "swapstream/common/errors.py",
    "def atomic_open": "swapstream/common/atomic_files.py",
    "\nTEMPLATE_ID = ": "swapstream/common/alignment_ids.py",
}


def test_each_contract_and_enumeration_is_defined_once():
    sources = {path: path.read_text() for path in _modules().values()}
    for spelling, home in DEFINED_ONCE.items():
        where = [str(p.relative_to(REPO)) for p, text in sources.items() if spelling in text]
        assert where == [home], f"{spelling} found in {where}, expected only {home}"


def test_no_choices_tuple_is_spelled_in_a_command():
    """CLI choices= come from swapstream.common.choices, never a literal list."""
    for path in sorted((REPO / "swapstream" / "commands").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.keyword) and node.arg == "choices":
                assert not isinstance(node.value, (ast.Tuple, ast.List)) or all(
                    not isinstance(e, ast.Constant) or not isinstance(e.value, str) for e in node.value.elts
                ), f"{path}:{node.value.lineno} spells its choices"


def _long_functions(path: Path) -> list[str]:
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = node.end_lineno - node.lineno + 1
            if length > MAX_FUNCTION_LINES:
                out.append(f"{path.relative_to(REPO)}:{node.lineno} {node.name} ({length} lines)")
    return out


def test_modules_and_functions_stay_small():
    files = [*_modules().values(), *sorted((REPO / "benchmarks").glob("*.py"))]
    big = [
        f"{p.relative_to(REPO)} ({n} lines)" for p in files if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES
    ]
    assert not big, f"modules over {MAX_MODULE_LINES} lines: {big}"
    long = [f for p in files for f in _long_functions(p)]
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines: {long}"


def test_tests_share_helpers_through_helper_modules_only():
    """A test module never imports another test module: shared fixtures live in *_fixtures.py or
    conftest.py, so running one test file never depends on another's internals."""
    for path in sorted((REPO / "tests").glob("*.py")):
        for name in _imports(path):
            top = name.removeprefix("tests.").split(".")[0]
            assert not top.startswith("test_"), f"{path.name} imports {name}"
