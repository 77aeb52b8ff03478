"""What a library user meets first: the declared dependencies and README's examples."""

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(path: Path) -> dict[str, str]:
    """`name==version` lines of a requirements file (comments and other lines skipped)."""
    found = {}
    for line in path.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.-]+)==([^\s;#]+)", line.strip())
        if match:
            found[normalized(match[1])] = match[2]
    return found


def floors() -> dict[str, str]:
    found = {}
    for requirement in PYPROJECT["project"]["dependencies"]:
        match = re.match(r"^([A-Za-z0-9_.-]+)>=([\w.]+)$", requirement.split(";")[0].strip())
        assert match, f"dependency {requirement!r} should be written as name>=floor"
        found[normalized(match[1])] = match[2]
    return found


def version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version.split("+")[0])[:3])


def test_minimum_versions_file_pins_exactly_the_floors():
    """`make mincheck` runs requirements-min.txt, so it must be pyproject's floors, no more."""
    minimum = pins(ROOT / "requirements-min.txt")
    assert minimum == {name: floor if floor.count(".") >= 2 else f"{floor}.0"
                       for name, floor in floors().items()}


def test_the_lock_satisfies_every_floor():
    lock = pins(ROOT / "requirements-lock.txt")
    for name, floor in floors().items():
        assert name in lock, f"{name} is a dependency but not in requirements-lock.txt"
        assert version_tuple(lock[name]) >= version_tuple(floor), f"lock has {name} {lock[name]} < {floor}"


def test_floors_keep_colabs_preinstalled_packages():
    """Colab ships ipywidgets 7.7.1 (8.x widgets do not render there): a floor of 8 would upgrade it."""
    assert version_tuple(floors()["ipywidgets"]) <= (7, 7, 1)
    assert version_tuple(floors()["torch"]) <= (2, 2, 0), "keep Colab's own torch"


def readme_python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)


def test_readme_examples_run_as_written(tmp_path, monkeypatch):
    """Every Python example in README.md runs, in order, with only the step counts shortened."""
    blocks = readme_python_blocks()
    assert len(blocks) >= 2
    monkeypatch.chdir(tmp_path)  # the first example writes ae.pt
    namespace = {}
    for block in blocks:
        shortened = re.sub(r"steps=[\d_]+", "steps=20", block)
        assert shortened != block or "fit(" not in block
        exec(compile(shortened, "README.md", "exec"), namespace)  # noqa: S102
    assert (tmp_path / "ae.pt").exists()
    assert namespace["digits"].shape == (1, 8, 8), "README says digits images are (1, 8, 8)"


@pytest.mark.parametrize("block", range(len(readme_python_blocks())))
def test_readme_examples_name_only_public_objects(block):
    """README's calls use names the package exports (no private helpers)."""
    names = re.findall(r"\bag\.([\w.]+)", readme_python_blocks()[block])
    import aegan_lib as ag
    for dotted in names:
        target = ag
        for part in dotted.split("."):
            assert not part.startswith("_"), dotted
            target = getattr(target, part)


def _modules():
    import importlib
    import pkgutil

    import aegan_lib
    for info in pkgutil.walk_packages(aegan_lib.__path__, "aegan_lib."):
        yield importlib.import_module(info.name)


def test_every_module_lists_its_public_api_and_documents_it():
    """The public names are listed once, in each module's __all__, and each says what it is."""
    for module in _modules():
        if module.__name__.endswith("assets"):
            continue
        assert hasattr(module, "__all__"), f"{module.__name__} has no __all__"
        for name in module.__all__:
            value = getattr(module, name)  # every listed name exists
            if callable(value) and getattr(value, "__module__", None) == module.__name__:
                assert value.__doc__, f"{module.__name__}.{name} has no docstring"
