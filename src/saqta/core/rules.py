"""Rules as data: versioned, effective-dated parameter files that cite their legal source.

Every rule file is YAML with a top-level ``kind``. The kind ``parameters`` holds dated values::

    kind: parameters
    namespace: mshi.contributions
    description: ...
    parameters:
      employer_deduction_rate:
        description: Employer deductions, share of the object of calculation
        type: decimal          # decimal | integer | string | boolean | date | list | mapping
        unit: ratio
        values:
          - from: 2022-01-01   # effective-from, required
            to: null           # effective-to (inclusive), optional
            value: 0.03
            source: Law ... art. 27; Fund annual report 2022, section 2
            verified: true     # false: the source does not settle it; null value = not given

Other kinds (the day-transfer table of the calendar, reference lists) register their own schema
with :func:`register_kind`. Every file is checked by a strict schema: unknown keys, missing dates,
inverted or overlapping ranges and wrong value types are refused with one line per problem naming
the file, the key path and the problem.

A value with ``to`` omitted lasts until the day before the next value's ``from``. The loader answers
"the value of X on date D" (:meth:`RuleSet.value`), in the manner of OpenFisca's dated parameters.
Numbers are read as exact ``Decimal``; YAML floats never become Python floats.
"""

from __future__ import annotations

import datetime as dt
import difflib
import hashlib
import importlib
import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from importlib import resources
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from saqta.core.errors import Problem, RulesError

ValueType = Literal["decimal", "integer", "string", "boolean", "date", "list", "mapping"]


class _DecimalLoader(yaml.CSafeLoader):
    """A safe YAML loader (libyaml's C parser) that reads every float as an exact ``Decimal``."""


def _construct_decimal(loader: yaml.SafeLoader, node: yaml.Node) -> Decimal:
    text = str(loader.construct_scalar(node))  # type: ignore[arg-type]
    try:
        value = Decimal(text.replace("_", ""))
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite():
        raise yaml.constructor.ConstructorError(
            None, None, f"{text} is not a finite number", node.start_mark
        )
    return value


def _construct_timestamp(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    """Dates as ``datetime.date``; an impossible date (2022-02-30) stays text for the schema to
    refuse with its key path."""
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)  # type: ignore[arg-type]
    except ValueError:
        return str(loader.construct_scalar(node))  # type: ignore[arg-type]


_DecimalLoader.add_constructor("tag:yaml.org,2002:float", _construct_decimal)
_DecimalLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)


def read_yaml(path: Path) -> Any:
    """Read a YAML file with exact decimals; a syntax error names the file, line and column."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RulesError(f"cannot read: {exc.strerror or exc}", where=str(path)) from exc
    except UnicodeDecodeError as exc:
        raise RulesError(f"not UTF-8 text (byte {exc.start})", where=str(path)) from exc
    try:
        return yaml.load(text, Loader=_DecimalLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(path)
        problem = getattr(exc, "problem", None) or str(exc)
        raise RulesError(f"not valid YAML: {problem}", where=where) from exc


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatedValue(_Strict):
    """One value of a parameter with the dates it is in force and its source."""

    from_: dt.date = Field(alias="from")
    to: dt.date | None = None
    value: Any = None
    source: str = Field(min_length=3)
    verified: bool = True
    note: str | None = None

    def in_force(self, on: dt.date) -> bool:
        return self.from_ <= on and (self.to is None or on <= self.to)


class Parameter(_Strict):
    description: str
    type: ValueType
    unit: str | None = None
    values: list[DatedValue] = Field(min_length=1)


class ParameterFile(_Strict):
    kind: Literal["parameters"]
    namespace: str = Field(pattern=r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")
    description: str
    parameters: dict[str, Parameter]


def _type_problem(kind: ValueType, value: Any) -> str | None:
    """Why ``value`` does not fit the declared ``kind``, or ``None``."""
    checks: dict[str, tuple[Callable[[Any], bool], str]] = {
        "decimal": (
            lambda v: isinstance(v, Decimal | int) and not isinstance(v, bool),
            "a decimal number",
        ),
        "integer": (lambda v: isinstance(v, int) and not isinstance(v, bool), "an integer"),
        "string": (lambda v: isinstance(v, str), "a string"),
        "boolean": (lambda v: isinstance(v, bool), "true or false"),
        "date": (lambda v: isinstance(v, dt.date), "a date YYYY-MM-DD"),
        "list": (lambda v: isinstance(v, list), "a list"),
        "mapping": (lambda v: isinstance(v, dict), "a mapping"),
    }
    accepts, label = checks[kind]
    if accepts(value):
        return None
    return f"wrong type: expected {label}, got {type(value).__name__} {value!r}"


def check_ranges(
    ranges: Sequence[tuple[dt.date, dt.date | None]], where: Callable[[int], str]
) -> list[Problem]:
    """Problems with a list of [from, to] ranges: inverted ones and overlaps (in file order)."""
    problems: list[Problem] = []
    for i, (start, end) in enumerate(ranges):
        if end is not None and end < start:
            problems.append(Problem(where(i), f"inverted range: to {end} is before from {start}"))
    order = sorted(range(len(ranges)), key=lambda i: ranges[i][0])
    for a, b in itertools.pairwise(order):
        start_a, end_a = ranges[a]
        start_b, _ = ranges[b]
        if start_a == start_b or (end_a is not None and end_a >= start_b):
            problems.append(
                Problem(
                    where(b),
                    f"overlapping range: from {start_b} falls inside the range "
                    f"{start_a}..{end_a or 'open'} of values[{a}]",
                )
            )
    return problems


def _pydantic_problems(path: Path, exc: ValidationError) -> list[Problem]:
    problems = []
    for error in exc.errors():
        loc = ".".join(
            f"[{part}]" if isinstance(part, int) else str(part) for part in error["loc"]
        ).replace(".[", "[")
        key = loc or "(top level)"
        kind = error["type"]
        if kind == "extra_forbidden":
            what = "unknown key"
        elif kind == "missing":
            what = "missing date" if loc.endswith(("from", "to")) else "missing required key"
        elif kind.startswith("date"):
            what = f"wrong type: expected a date YYYY-MM-DD, got {error.get('input')!r}"
        elif kind == "literal_error":
            what = f"wrong value: {error['msg']}"
        else:
            what = f"wrong type: {error['msg']} (got {error.get('input')!r})"
        problems.append(Problem(f"{path}: {key}", what))
    return problems


def _parameter_problems(path: Path, doc: ParameterFile) -> list[Problem]:
    problems: list[Problem] = []
    for name, param in doc.parameters.items():
        base = f"{path}: parameters.{name}.values"
        for i, entry in enumerate(param.values):
            if entry.value is None:
                if entry.verified:
                    problems.append(
                        Problem(
                            f"{base}[{i}].value",
                            "missing value: a value the source does not give must be marked "
                            "verified: false",
                        )
                    )
                continue
            problem = _type_problem(param.type, entry.value)
            if problem:
                problems.append(Problem(f"{base}[{i}].value", problem))

        def where(i: int, base: str = base) -> str:
            return f"{base}[{i}]"

        problems += check_ranges([(v.from_, v.to) for v in param.values], where)
    return problems


_KINDS: dict[str, type[BaseModel]] = {"parameters": ParameterFile}
_EXTRA_CHECKS: dict[str, Callable[[Path, Any], list[Problem]]] = {
    "parameters": _parameter_problems,
}


def register_kind(
    kind: str,
    model: type[BaseModel],
    extra_check: Callable[[Path, Any], list[Problem]] | None = None,
) -> None:
    """Register the strict schema (and optional cross-field checks) of another kind of rule file."""
    _KINDS[kind] = model
    if extra_check is not None:
        _EXTRA_CHECKS[kind] = extra_check


def validate_file(path: Path) -> tuple[BaseModel | None, list[Problem]]:
    """Parse and validate one rule file: the model, or every problem found in it."""
    try:
        raw = read_yaml(path)
    except RulesError as exc:
        return None, list(exc.problems)
    if not isinstance(raw, dict):
        return None, [Problem(str(path), "a rule file must be a mapping with a 'kind' key")]
    kind = raw.get("kind")
    if kind not in _KINDS:
        known = ", ".join(sorted(_KINDS))
        return None, [Problem(f"{path}: kind", f"unknown kind {kind!r} (known: {known})")]
    try:
        doc = _KINDS[kind].model_validate(raw)
    except ValidationError as exc:
        return None, _pydantic_problems(path, exc)
    check = _EXTRA_CHECKS.get(kind)
    problems = check(path, doc) if check else []
    return (None if problems else doc), problems


@dataclass(frozen=True)
class RuleValue:
    """The answer to "the value of X on date D", with where it came from."""

    name: str
    on: dt.date
    value: Any
    from_: dt.date
    to: dt.date | None
    source: str
    verified: bool
    unit: str | None
    file: Path
    note: str | None = None


@dataclass
class RuleSet:
    """Every parameter of every loaded file, answering dated questions."""

    files: list[Path]
    version: str
    parameters: dict[str, tuple[Parameter, Path]] = field(default_factory=dict)
    documents: dict[Path, BaseModel] = field(default_factory=dict)

    def names(self) -> list[str]:
        return sorted(self.parameters)

    def parameter(self, name: str) -> Parameter:
        try:
            return self.parameters[name][0]
        except KeyError:
            close = difflib.get_close_matches(name, self.parameters, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise RulesError(f"unknown rule{hint}", where=f"rule {name!r}") from None

    def lookup(self, name: str, on: dt.date) -> RuleValue:
        """The dated entry in force on ``on``, even when its value is not given."""
        param = self.parameter(name)
        path = self.parameters[name][1]
        ordered = sorted(param.values, key=lambda v: v.from_)
        for i, entry in enumerate(ordered):
            following = ordered[i + 1].from_ if i + 1 < len(ordered) else None
            if entry.in_force(on) and (following is None or on < following):
                value = entry.value
                if param.type == "decimal" and isinstance(value, int):
                    value = Decimal(value)
                return RuleValue(
                    name=name,
                    on=on,
                    value=value,
                    from_=entry.from_,
                    to=entry.to,
                    source=entry.source,
                    verified=entry.verified,
                    unit=param.unit,
                    file=path,
                    note=entry.note,
                )
        first = ordered[0].from_
        last = ordered[-1].to
        span = f"values run {first} to {last}" if last else f"values start {first}"
        raise RulesError(f"no value in force on {on} ({span})", where=f"rule {name!r}")

    def value(self, name: str, on: dt.date) -> Any:
        """The value of ``name`` in force on ``on``. A value the source does not give is an error
        that tells the operator to set it in the overrides folder."""
        found = self.lookup(name, on)
        if found.value is None:
            raise RulesError(
                f"no value is given by the source ({found.source}); set one in the rules "
                "overrides folder (SAQTA_RULES_OVERRIDES)",
                where=f"rule {name!r} on {on}",
            )
        return found.value

    def decimal(self, name: str, on: dt.date) -> Decimal:
        value = self.value(name, on)
        if not isinstance(value, Decimal):
            raise RulesError(f"is not a decimal ({value!r})", where=f"rule {name!r}")
        return value

    def documents_of(self, kind: type[BaseModel]) -> list[BaseModel]:
        return [doc for doc in self.documents.values() if isinstance(doc, kind)]


def packaged_rules_dir() -> Path:
    """The folder of rule files shipped inside the package."""
    return Path(str(resources.files("saqta") / "rules"))


def rule_files(dirs: Iterable[Path]) -> dict[Path, Path]:
    """Every rule file under ``dirs``, in folder order, mapped to the folder it came from."""
    files: dict[Path, Path] = {}
    for folder in dirs:
        if not folder.is_dir():
            raise RulesError("rules folder does not exist", where=str(folder))
        for path in sorted(folder.rglob("*.yaml")):
            files[path] = folder
    return files


def default_rule_dirs() -> list[Path]:
    from saqta.core.settings import get_settings

    overrides = get_settings().rules_overrides
    if overrides is not None and not overrides.is_dir():
        raise RulesError(
            "does not exist or is not a folder", where=f"SAQTA_RULES_OVERRIDES {overrides}"
        )
    return [packaged_rules_dir(), *([overrides] if overrides else [])]


KIND_MODULES = ["saqta.core.calendar", "saqta.core.reference"]
"""Core modules that register the schemas of the other kinds of rule file when imported."""

KIND_ENTRY_POINTS = "saqta.rule_kinds"
"""The entry-point group through which the bounded contexts register their kinds of rule file
(``pyproject.toml``): the core finds them without importing upward."""


def register_kinds() -> None:
    """Import every module that registers a kind of rule file: the core's, then the contexts'."""
    for module in KIND_MODULES:
        importlib.import_module(module)
    found = entry_points(group=KIND_ENTRY_POINTS)
    if not found:
        raise RulesError(
            "no kinds of rule file are registered by the installed package; reinstall Saqta "
            "(./scripts/setup)",
            where=f"entry points {KIND_ENTRY_POINTS}",
        )
    for entry in found:
        entry.load()


def _validate_all(
    dirs: Sequence[Path] | None,
) -> tuple[dict[Path, Path], dict[Path, BaseModel], list[Problem]]:
    register_kinds()
    files = rule_files(dirs if dirs is not None else default_rule_dirs())
    docs: dict[Path, BaseModel] = {}
    problems: list[Problem] = []
    for path in files:
        doc, found = validate_file(path)
        problems += found
        if doc is not None:
            docs[path] = doc
    return files, docs, problems


def check_rules(dirs: Sequence[Path] | None = None) -> tuple[list[Path], list[Problem]]:
    """Validate every rule file; return the files and every problem found (empty when all good)."""
    files, _, problems = _validate_all(dirs)
    return list(files), problems


def load_rules(dirs: Sequence[Path] | None = None) -> RuleSet:
    """Load every rule file of ``dirs`` (default: the shipped rules, then the overrides folder).

    A parameter defined in a later folder replaces the one of an earlier folder whole; the same
    parameter twice within one folder is refused. Any problem in any file refuses the whole load:
    rules are never half-loaded.
    """
    files, docs, problems = _validate_all(dirs)
    digest = hashlib.sha256()
    rules = RuleSet(files=list(files), version="", documents=docs)
    defined_in: dict[str, Path] = {}
    for path, doc in docs.items():
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
        if not isinstance(doc, ParameterFile):
            continue
        for name in doc.parameters:
            full = f"{doc.namespace}.{name}"
            earlier = defined_in.get(full)
            if earlier is not None and files[earlier] == files[path]:
                problems.append(
                    Problem(f"{path}: parameters.{name}", f"{full} is also defined in {earlier}")
                )
            defined_in[full] = path
            rules.parameters[full] = (doc.parameters[name], path)
    if problems:
        raise RulesError(problems)
    rules.version = digest.hexdigest()[:12]
    return rules
