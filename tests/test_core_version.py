"""The code version: the git commit in a checkout (read from .git, -dirty when tracked files
changed), the package version and a hash of its sources outside one."""

from __future__ import annotations

import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import saqta
from saqta.core.version import code_version, describe, package_dir, source_hash

PACKAGE = Path(saqta.__file__).resolve().parent
ROOT = PACKAGE.parent.parent
GIT = shutil.which("git")
needs_git = pytest.mark.skipif(GIT is None, reason="git is not installed")
in_checkout = pytest.mark.skipif(
    GIT is None or not (ROOT / ".git").exists(), reason="not running from a git checkout"
)


def git(cwd: Path, *args: str) -> str:
    assert GIT is not None
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.org",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.org",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    done = subprocess.run(
        [GIT, "-C", str(cwd), *args], capture_output=True, text=True, check=True, env=env
    )
    return done.stdout.strip()


def expected_in_checkout(root: Path) -> str:
    commit = git(root, "rev-parse", "HEAD")
    dirty = git(root, "status", "--porcelain", "--untracked-files=no")
    return f"{commit}-dirty" if dirty else commit


@in_checkout
def test_in_this_checkout_it_is_the_commit():
    assert code_version() == expected_in_checkout(ROOT)
    assert code_version() is code_version()  # cached


@in_checkout
def test_the_commit_is_read_without_git(monkeypatch):
    monkeypatch.setenv("PATH", "")
    commit = subprocess.run(
        [str(GIT), "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    assert describe(package_dir()) == f"{commit}+src.{source_hash(package_dir())}"


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    """A fresh repository holding a copy of the package as src/saqta, with one commit."""
    if GIT is None:
        pytest.skip("git is not installed")
    root = tmp_path_factory.mktemp("checkout") / "repo"
    shutil.copytree(PACKAGE, root / "src" / "saqta", ignore=shutil.ignore_patterns("__pycache__"))
    git(root.parent, "init", "-q", "-b", "main", str(root))
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "first")
    return root


@needs_git
def test_a_clean_checkout_gives_its_commit_and_a_changed_one_is_dirty(repo):
    package = repo / "src" / "saqta"
    commit = git(repo, "rev-parse", "HEAD")
    assert describe(package) == commit
    (repo / "untracked.txt").write_text("not tracked: still clean")
    assert describe(package) == commit
    init = package / "__init__.py"
    original = init.read_text()
    try:
        init.write_text(original + "\n# changed\n")
        assert describe(package) == f"{commit}-dirty"
    finally:
        init.write_text(original)
    assert describe(package) == commit


@needs_git
def test_packed_refs_detached_heads_and_linked_working_trees(repo, tmp_path):
    package = repo / "src" / "saqta"
    (repo / "src" / "saqta" / "extra.txt").write_text("second")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "second")
    second = git(repo, "rev-parse", "HEAD")
    git(repo, "pack-refs", "--all")
    assert not (repo / ".git" / "refs" / "heads" / "main").exists()
    assert describe(package) == second
    other = tmp_path / "other"
    git(repo, "worktree", "add", "-q", "--detach", str(other), "HEAD~1")
    first = git(other, "rev-parse", "HEAD")
    assert first != second
    assert (other / ".git").is_file()
    assert describe(other / "src" / "saqta") == first
    git(other, "checkout", "-q", "-b", "side")
    assert describe(other / "src" / "saqta") == first


def test_outside_a_checkout_it_is_the_version_and_a_hash_of_the_sources(tmp_path):
    site = tmp_path / "site"
    shutil.copytree(PACKAGE, site / "saqta", ignore=shutil.ignore_patterns("__pycache__"))
    script = (
        "import saqta, sys; from saqta.core.version import code_version; "
        "print(saqta.__file__); print(code_version())"
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        check=True,
    )
    where, version = done.stdout.split()
    assert Path(where).resolve().is_relative_to(site.resolve())
    release = importlib.metadata.version("saqta")
    assert re.fullmatch(re.escape(release) + r"\+src\.[0-9a-f]{12}", version), version
    assert version == f"{release}+src.{source_hash(site / 'saqta')}"
    before = source_hash(site / "saqta")
    (site / "saqta" / "rules" / "mshi" / "status.yaml").write_text("changed", encoding="utf-8")
    assert source_hash(site / "saqta") != before
