"""The wheel, installed into a fresh virtual environment, imports every module and ships its data."""

from __future__ import annotations

import subprocess
import sys
import tomllib
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = {"core": "acumbamail_smtp", "integrations": "acumbamail_smtp.integrations",
           "testserver": "acumbamail_smtp.testserver"}

IMPORT_ALL = r"""
import importlib, pkgutil, sys
import django
from django.conf import settings
settings.configure(
    INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "django.contrib.admin",
                    "django.contrib.sessions", "django.contrib.messages", "acumbamail_smtp.integrations.django"],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
    ROOT_URLCONF="acumbamail_smtp.integrations.django.urls", SECRET_KEY="made-up-for-the-import-test",
)
django.setup()
import acumbamail_smtp
names = []
for info in pkgutil.walk_packages(acumbamail_smtp.__path__, "acumbamail_smtp."):
    if info.name.rsplit(".", 1)[-1] == "__main__":
        continue
    importlib.import_module(info.name)
    names.append(info.name)
print(len(names), "modules imported from", acumbamail_smtp.__file__)
"""


def python_packages_in(folder: Path, dotted: str) -> set[str]:
    return {dotted + ".".join(("", *p.parent.relative_to(folder).parts)).rstrip(".")
            if p.parent != folder else dotted
            for p in folder.rglob("__init__.py") if "__pycache__" not in p.parts}


def test_every_folder_with_init_is_listed_in_pyproject() -> None:
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found: set[str] = set()
    for folder, dotted in FOLDERS.items():
        found |= python_packages_in(ROOT / folder, dotted)
    assert found - listed == set(), "add these packages to [tool.setuptools] packages in pyproject.toml"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(ROOT)],
                   check=True, capture_output=True, timeout=300)
    (built,) = out.glob("acumbamail_smtp-*.whl")
    return built


def test_wheel_ships_type_marker_and_data(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "acumbamail_smtp/py.typed" in names
    assert "acumbamail_smtp/integrations/django/__init__.py" in names
    assert "acumbamail_smtp/testserver/__init__.py" in names
    assert not any(n.startswith(("core/", "tests/", "integrations/")) for n in names)
    starter = [n for n in names if n.startswith("acumbamail_smtp/templates/starters/")]
    assert starter, "starter templates missing from the wheel"
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "acumbamail-smtp = acumbamail_smtp.cli:main" in text
    assert "testserver = acumbamail_smtp.testserver.cli" in text
    assert "acumbamail_smtp.testserver.pytest_plugin" in text


def test_fresh_venv_imports_every_module(wheel: Path, tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    extras = "django,flask,fastapi,celery,tasks,otel,testserver,templates,sqlalchemy"
    # pytest too: the package's pytest plugin module imports it, as it does in users' test environments
    subprocess.run([str(python), "-m", "pip", "install", "-q", f"{wheel}[{extras}]", "pytest"],
                   check=True, capture_output=True, timeout=600)
    proc = subprocess.run([str(python), "-c", IMPORT_ALL], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path, check=False)
    assert proc.returncode == 0, proc.stderr
    assert str(env_dir) in proc.stdout, "imported from somewhere else than the fresh environment"
    count = int(proc.stdout.split()[0])
    assert count >= 20
    cli = subprocess.run([str(env_dir / "bin" / "acumbamail-smtp"), "--help"], capture_output=True,
                         text=True, timeout=60, check=False)
    assert cli.returncode == 0
    assert "demo" in cli.stdout


def test_editable_install_imports_the_mapped_folders(tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", "-e", str(ROOT)],
                   check=True, capture_output=True, timeout=600)
    code = ("import acumbamail_smtp, acumbamail_smtp.integrations, acumbamail_smtp.testserver;"
            "print(acumbamail_smtp.__file__); print(acumbamail_smtp.integrations.__file__)")
    proc = subprocess.run([str(python), "-c", code], capture_output=True, text=True, cwd=tmp_path,
                          timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    core_file, integrations_file = proc.stdout.split()
    assert Path(core_file).parent == ROOT / "core"
    assert Path(integrations_file).parent == ROOT / "integrations"
