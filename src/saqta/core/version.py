"""The code version recorded with every run, manifest and report.

In a git checkout of the project it is the commit of ``HEAD`` (40 hexadecimal digits), followed by
``-dirty`` when tracked files differ from that commit. The commit is read from the ``.git`` folder
itself (``HEAD``, the refs and ``packed-refs``, linked working trees included), so no git program
is needed for it; whether the work tree is dirty is asked of ``git status`` when git is installed.
Without git, it cannot be told, so the hash of the package's sources is added instead
(``<commit>+src.<hash>``), which still names the code exactly.

Outside a checkout (an installed package), it is the package version and a hash of the installed
sources: ``0.1.0+src.<12 hexadecimal digits>``. The hash covers every file of the package except
compiled caches, with its path, so any change to the code, its rules or templates changes it.

The answer is computed once per process (:func:`code_version` is cached).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import os
import re
import shutil
import subprocess
from pathlib import Path

import saqta

_SHA = re.compile(r"^[0-9a-f]{40}$")
_GIT_TIMEOUT = 10.0


def package_dir() -> Path:
    """The folder of the ``saqta`` package that is running."""
    return Path(saqta.__file__).resolve().parent


@functools.cache
def code_version() -> str:
    """The version of the running code: git commit (``-dirty`` if changed), or package version
    and source hash outside a checkout."""
    return describe(package_dir())


def describe(package: Path) -> str:
    """The code version of the package in ``package`` (uncached; see :func:`code_version`)."""
    checkout = _checkout_of(package)
    if checkout is not None:
        commit = _head_commit(checkout[1])
        if commit is not None:
            dirty = _dirty(checkout[0])
            if dirty is None:
                return f"{commit}+src.{source_hash(package)}"
            return f"{commit}-dirty" if dirty else commit
    return f"{_package_version()}+src.{source_hash(package)}"


def source_hash(package: Path) -> str:
    """SHA-256 (first 12 hexadecimal digits) of every file of the package and its relative path,
    compiled caches left out."""
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*")):
        if not path.is_file() or "__pycache__" in path.parts or path.suffix in (".pyc", ".pyo"):
            continue
        relative = path.relative_to(package).as_posix()
        digest.update(relative.encode("utf-8") + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:12]


def _package_version() -> str:
    try:
        return importlib.metadata.version("saqta")
    except importlib.metadata.PackageNotFoundError:
        return saqta.__version__


def _checkout_of(package: Path) -> tuple[Path, Path] | None:
    """``(work tree, git folder)`` when ``package`` is the project's source folder in a git
    checkout (``<root>/src/saqta`` with ``<root>/.git``), else ``None``. A package installed into
    a virtual environment inside a checkout is not the checkout's code, and is not taken for it."""
    if package.name != "saqta" or package.parent.name != "src":
        return None
    root = package.parent.parent
    dot_git = root / ".git"
    if dot_git.is_dir():
        return root, dot_git
    if dot_git.is_file():  # a linked working tree or a submodule: "gitdir: <path>"
        text = dot_git.read_text(encoding="utf-8", errors="replace").strip()
        if text.startswith("gitdir:"):
            target = Path(text.removeprefix("gitdir:").strip())
            target = target if target.is_absolute() else (root / target)
            if target.is_dir():
                return root, target.resolve()
    return None


def _common_dir(git_dir: Path) -> Path:
    """Where the refs live: a linked working tree names it in its ``commondir`` file."""
    common = git_dir / "commondir"
    if common.is_file():
        target = Path(common.read_text(encoding="utf-8").strip())
        return (target if target.is_absolute() else git_dir / target).resolve()
    return git_dir


def _head_commit(git_dir: Path) -> str | None:
    """The commit ``HEAD`` points at, following symbolic refs, read from the files."""
    try:
        head = (git_dir / "HEAD").read_text(encoding="utf-8").strip()
    except OSError:
        return None
    for _ in range(10):
        if _SHA.match(head):
            return head
        if not head.startswith("ref:"):
            return None
        ref = head.removeprefix("ref:").strip()
        found = _read_ref(git_dir, ref)
        if found is None:
            return None
        head = found
    return None


def _read_ref(git_dir: Path, ref: str) -> str | None:
    # refs of one working tree (HEAD, refs/bisect, ...) live in its own folder, the rest in the
    # common folder; a loose ref wins over packed-refs
    for folder in (git_dir, _common_dir(git_dir)):
        loose = folder / ref
        if loose.is_file():
            return loose.read_text(encoding="utf-8").strip()
    packed = _common_dir(git_dir) / "packed-refs"
    if packed.is_file():
        for line in packed.read_text(encoding="utf-8").splitlines():
            parts = line.split(" ", 1)
            if len(parts) == 2 and parts[1].strip() == ref and _SHA.match(parts[0]):
                return parts[0]
    return None


def _dirty(root: Path) -> bool | None:
    """Whether tracked files of the work tree differ from ``HEAD``; ``None`` without git."""
    git = shutil.which("git")
    if git is None:
        return None
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C"}
    try:
        result = subprocess.run(
            [git, "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=_GIT_TIMEOUT,
            env=env,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if result.returncode != 0:
        return None
    return bool(result.stdout.strip())
