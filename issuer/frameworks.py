"""Competency frameworks, and the Achievement templates made from them.

A framework file names an occupation and lists its levels (lowest rank first) with the
statements of each level. Importing it writes one template per level to
``badge_templates/<framework>/<level>.json`` (plus the badge art as ``<level>.svg`` for
review). The templates are reviewed and committed, and the service loads them all at
start-up, validating each one, so a broken template stops the service instead of an award.

Templates hold no deployment URL: ids that start with ``/`` are paths that the credential
builder resolves against ``ISSUER_BASE_URL``.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import math
import os
import re
import shutil
import tempfile
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match

from issuer import badge_art
from issuer.errors import NotFound, TemplateError

TEMPLATE_VERSION = 1
FRAMEWORK_SCHEMA = "framework.schema.json"
TEMPLATE_SCHEMA = "achievement-template.schema.json"
MAX_FRAMEWORK_BYTES = 1024 * 1024
MAX_TEMPLATE_BYTES = 32 * 1024
MAX_NESTING = 32
MAX_SLUG_LENGTH = 120
ACHIEVEMENT_TYPE = "Competency"
LANGUAGE = "en"
ONET_FRAMEWORK = "O*NET-SOC"
ONET_TARGET_TYPE = "ext:ONetOccupation"
ONET_SUMMARY_URL = "https://www.onetonline.org/link/summary/{soc}"

_SCHEMAS = Path(__file__).with_name("schemas")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NOT_SLUG_CHARACTERS = re.compile(r"[^a-z0-9]+")
# C0 controls and DEL: canonicalizers disagree on how to write them, which breaks
# signatures (see DESIGN.md), so frameworks may not carry them anywhere.
_CONTROL_CHARACTER = re.compile("[\u0000-\u001f\u007f]")
_SCHEMA_DESCRIBED = frozenset({"pattern", "not", "minLength", "type", "anyOf"})


@dataclass(frozen=True)
class Occupation:
    """The occupation a framework describes (an O*NET-SOC code and title)."""

    soc: str
    title: str
    group: str | None = None


@dataclass(frozen=True)
class Level:
    """One level of a framework; rank 1 is the lowest."""

    slug: str
    label: str
    rank: int
    statements: tuple[str, ...]


@dataclass(frozen=True)
class Framework:
    """A validated framework file."""

    slug: str
    occupation: Occupation
    version: str
    description: str
    context_covered: str
    levels: tuple[Level, ...]
    attribution: str | None = None
    sources: tuple[tuple[str, str], ...] = ()


class Template(dict[str, Any]):
    """One Achievement template: the template document itself (a plain JSON object, as the
    credential builder takes it) with its key facts as read-only attributes."""

    @property
    def document(self) -> dict[str, Any]:
        return self

    @property
    def framework_slug(self) -> str:
        return str(self["framework"]["slug"])

    @property
    def level_slug(self) -> str:
        return str(self["level"]["slug"])

    @property
    def level_label(self) -> str:
        return str(self["level"]["label"])

    @property
    def rank(self) -> int:
        return int(self["level"]["rank"])

    @property
    def level_count(self) -> int:
        return int(self["level"]["levelCount"])

    @property
    def required_statements(self) -> int:
        return int(self["requiredStatements"])

    @property
    def achievement_id(self) -> str:
        """The Achievement's id: a path that the credential builder resolves."""
        return str(self["achievement"]["id"])


@dataclass(frozen=True)
class FrameworkSummary:
    """A framework as the catalog knows it (from its templates)."""

    slug: str
    title: str
    version: str
    soc_code: str


class TemplateCatalog:
    """The Achievement templates loaded from ``badge_templates/``, all validated."""

    def __init__(self, templates: dict[str, dict[str, dict[str, Any]]]):
        # framework slug -> level slug -> template document, levels in rank order.
        self._templates = templates

    def __len__(self) -> int:
        """The number of templates (levels) over all frameworks."""
        return sum(len(levels) for levels in self._templates.values())

    def get(self, framework_slug: str, level_slug: str) -> Template:
        """A copy of one template (the caller may change it freely).

        Raises NotFound (``achievement_not_found``) for an unknown framework or level.
        """
        return Template(copy.deepcopy(self.shared(framework_slug, level_slug)))

    def shared(self, framework_slug: str, level_slug: str) -> Template:
        """One template whose contents are the catalog's own, not copied, for a caller that
        only reads it (issuing an award: the deep copy cost more than building the rest of
        the credential).

        Raises as ``get``.
        """
        document = self._templates.get(framework_slug, {}).get(level_slug)
        if document is None:
            raise NotFound(
                "achievement_not_found", f"There is no achievement {framework_slug}/{level_slug}."
            )
        return Template(document)

    def frameworks(self) -> list[FrameworkSummary]:
        """The frameworks, sorted by slug."""
        summaries = []
        for slug in sorted(self._templates):
            framework = next(iter(self._templates[slug].values()))["framework"]
            summaries.append(
                FrameworkSummary(
                    slug=slug,
                    title=framework["title"],
                    version=framework["version"],
                    soc_code=framework["socCode"],
                )
            )
        return summaries

    def levels(self, framework_slug: str) -> list[Template]:
        """Copies of the templates of a framework, lowest rank first.

        Raises NotFound (``achievement_not_found``) for an unknown framework.
        """
        levels = self._templates.get(framework_slug)
        if levels is None:
            raise NotFound("achievement_not_found", f"There is no framework {framework_slug!r}.")
        return [Template(copy.deepcopy(document)) for document in levels.values()]


def framework_slug(title: str) -> str:
    """The slug of an occupation title: ``Computer User Support Specialists`` gives
    ``computer-user-support-specialists``.

    Raises TemplateError (``framework_invalid``) when the title has no ASCII letter or
    digit to make a slug from.
    """
    slug = _slugify(title)
    if not slug:
        raise TemplateError("framework_invalid", f"The title {title!r} gives an empty slug.")
    return slug


def load_framework(path: Path) -> Framework:
    """Read and validate a framework file.

    Raises TemplateError (``framework_invalid``) naming the file and the JSON path of the
    first problem: unreadable, not strict UTF-8 JSON (duplicate keys, NaN/Infinity, nesting
    deeper than 32), control characters in a string, anything the framework schema refuses,
    a level key that is not a slug, duplicate statements in a level or duplicate labels.
    """
    source = str(path)
    try:
        with path.open("rb") as file:
            data = file.read(MAX_FRAMEWORK_BYTES + 1)
    except OSError as error:
        raise _error(
            "framework_invalid", source, "$", f"cannot be read ({error.strerror})"
        ) from None
    if len(data) > MAX_FRAMEWORK_BYTES:
        raise _error("framework_invalid", source, "$", f"larger than {MAX_FRAMEWORK_BYTES} bytes")
    document = _parse_strict_json(data, source, "framework_invalid")
    _refuse_control_characters(document, source)
    _validate(document, _validator(FRAMEWORK_SCHEMA), source, "framework_invalid")
    return _framework_from_document(document, source)


def build_templates(framework: Framework) -> dict[str, dict[str, Any]]:
    """One Achievement template per level, keyed by level slug in rank order (pure)."""
    return {level.slug: _template_for(framework, level) for level in framework.levels}


def import_framework(path: Path, templates_dir: Path) -> list[Path]:
    """Import a framework file into ``templates_dir/<framework-slug>/``.

    Writes ``<level>.json`` and ``<level>.svg`` for every level and returns their paths in
    rank order. All or nothing: everything is validated and rendered in memory, written to
    a temporary directory next to the target and renamed into place, replacing an earlier
    import of the same framework. The same file always gives the same bytes.

    Raises TemplateError (``framework_invalid``) for a broken framework or one whose
    template would be over 32 KiB, and OSError when the directory cannot be written.
    """
    framework = load_framework(path)
    target = templates_dir / framework.slug
    files: dict[str, bytes] = {}
    for level, template in zip(framework.levels, build_templates(framework).values(), strict=True):
        data = _template_bytes(template)
        if len(data) > MAX_TEMPLATE_BYTES:
            raise _error(
                "framework_invalid",
                str(path),
                _json_path(("framework", "levels", level.slug)),
                f"its template would be {len(data)} bytes, over the {MAX_TEMPLATE_BYTES} limit",
            )
        files[f"{level.slug}.json"] = data
        files[f"{level.slug}.svg"] = _svg_bytes(template)
    # Check the templates exactly as start-up will, so an import never writes a directory
    # that the service then refuses to load.
    _load_framework_directory(
        target, [(target / name, data) for name, data in files.items() if name.endswith(".json")]
    )
    _write_directory(target, files)
    return [target / name for name in files]


def load_templates(templates_dir: Path) -> TemplateCatalog:
    """Read and validate every template under ``templates_dir``.

    Each ``<framework>/<level>.json`` must be strict JSON under 32 KiB, valid against the
    achievement template schema, consistent with its file name, and the levels of one
    framework must rank 1..n. Entries whose names start with a dot (an import in progress)
    and files other than ``.json`` are ignored.

    A directory that does not exist yet is an empty catalog (``issuer init`` fills it).

    Raises TemplateError (``template_invalid``) naming the file and the JSON path of the
    first problem.
    """
    if not templates_dir.exists():
        return TemplateCatalog({})
    if not templates_dir.is_dir():
        raise _error("template_invalid", str(templates_dir), "$", "not a directory")
    catalog: dict[str, dict[str, dict[str, Any]]] = {}
    for entry in sorted(templates_dir.iterdir()):
        if entry.name.startswith("."):
            continue
        if not entry.is_dir():
            if entry.suffix == ".json":
                raise _error(
                    "template_invalid", str(entry), "$", "not inside a framework directory"
                )
            continue
        files = []
        for file in sorted(entry.glob("*.json")):
            files.append((file, _read_template_file(file)))
        catalog[entry.name] = _load_framework_directory(entry, files)
    return TemplateCatalog(catalog)


def svg_data_uri(svg: str) -> str:
    """A ``data:`` URI holding the SVG, as the Achievement's ``image.id``."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def _slugify(text: str) -> str:
    # Decompose accented letters so that "é" keeps its "e"; anything else non-ASCII goes.
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return _NOT_SLUG_CHARACTERS.sub("-", ascii_text.lower()).strip("-")


def _framework_from_document(document: dict[str, Any], source: str) -> Framework:
    occupation = document["occupation"]
    body = document["framework"]
    slug = _slugify(occupation["title"])
    if not slug:
        raise _error(
            "framework_invalid",
            source,
            "$.occupation.title",
            "has no ASCII letter or digit to make a slug from",
        )
    if len(slug) > MAX_SLUG_LENGTH:
        raise _error(
            "framework_invalid",
            source,
            "$.occupation.title",
            f"gives a slug longer than {MAX_SLUG_LENGTH} characters",
        )
    levels = []
    labels: dict[str, str] = {}
    for rank, (key, level) in enumerate(body["levels"].items(), start=1):
        level_path = ("framework", "levels", key)
        if _slugify(key) != key:
            suggestion = _slugify(key) or "a-slug"
            raise _error(
                "framework_invalid",
                source,
                _json_path(level_path),
                "a level key must be a slug (lower-case ASCII letters and digits joined by "
                f"single hyphens), such as {suggestion!r}",
            )
        label_key = level["label"].casefold()
        if label_key in labels:
            raise _error(
                "framework_invalid",
                source,
                _json_path((*level_path, "label")),
                f"repeats the label of level {labels[label_key]!r}",
            )
        labels[label_key] = key
        _refuse_duplicate_statements(level["statements"], level_path, source)
        levels.append(
            Level(slug=key, label=level["label"], rank=rank, statements=tuple(level["statements"]))
        )
    return Framework(
        slug=slug,
        occupation=Occupation(
            soc=occupation["soc"], title=occupation["title"], group=occupation.get("group")
        ),
        version=body["version"],
        description=body.get("description", ""),
        context_covered=body.get("contextCovered", ""),
        levels=tuple(levels),
        attribution=document.get("attribution"),
        sources=tuple(document.get("sources", {}).items()),
    )


def _refuse_duplicate_statements(
    statements: list[str], level_path: tuple[str, ...], source: str
) -> None:
    # Statements that differ only in case or spacing are the same statement to a reader.
    seen: dict[str, int] = {}
    for index, statement in enumerate(statements):
        key = " ".join(statement.split()).casefold()
        if key in seen:
            raise _error(
                "framework_invalid",
                source,
                _json_path((*level_path, "statements", index)),
                f"repeats statements[{seen[key]}]",
            )
        seen[key] = index


def _template_for(framework: Framework, level: Level) -> dict[str, Any]:
    title = framework.occupation.title
    level_count = len(framework.levels)
    achievement_id = _achievement_path(framework.slug, level.slug)
    svg = badge_art.render_badge_svg(title, level.label, level.rank, level_count)
    return {
        "templateVersion": TEMPLATE_VERSION,
        "framework": {
            "slug": framework.slug,
            "title": title,
            "version": framework.version,
            "socCode": framework.occupation.soc,
        },
        "level": {
            "slug": level.slug,
            "label": level.label,
            "rank": level.rank,
            "levelCount": level_count,
        },
        "requiredStatements": len(level.statements),
        "achievement": {
            "id": achievement_id,
            "type": ["Achievement"],
            "achievementType": ACHIEVEMENT_TYPE,
            "name": f"{title} \u2014 {level.label}",
            "description": _description(framework, level),
            "criteria": {"narrative": _narrative(framework, level)},
            "image": {
                "id": svg_data_uri(svg),
                "type": "Image",
                "caption": badge_art.caption_for(title, level.label, level.rank, level_count),
            },
            # resultType Status: a Result linked to one of these says ``status: Completed``
            # for a statement the earner demonstrated (ResultStatusType in OB 3.0).
            "resultDescription": [
                {
                    "id": f"{achievement_id}#statement-{number}",
                    "type": ["ResultDescription"],
                    "name": statement,
                    "resultType": "Status",
                }
                for number, statement in enumerate(level.statements, start=1)
            ],
            "alignment": [_occupation_alignment(framework.occupation)],
            "tag": _tags(framework, level),
            "version": framework.version,
            "inLanguage": LANGUAGE,
        },
    }


def _achievement_path(framework: str, level: str) -> str:
    return f"/achievements/{framework}/{level}"


def _description(framework: Framework, level: Level) -> str:
    summary = (
        f"{level.label} is level {level.rank} of {len(framework.levels)} of the "
        f"{framework.occupation.title} competency framework ({framework.version}), awarded "
        "for demonstrating the statements of this level."
    )
    context = framework.context_covered or framework.description
    return f"{summary} {context}" if context else summary


def _narrative(framework: Framework, level: Level) -> str:
    bullets = "\n".join(f"- {statement}" for statement in level.statements)
    credit = f"Framework: {framework.occupation.title}, {framework.version}"
    if framework.attribution:
        credit += f", {framework.attribution}"
    credit += "."
    if framework.sources:
        sources = "; ".join(f"{name}: {value}" for name, value in framework.sources)
        credit += f" Sources: {sources.rstrip('.')}."
    return f"The earner demonstrated these statements:\n\n{bullets}\n\n{credit}"


def _occupation_alignment(occupation: Occupation) -> dict[str, Any]:
    return {
        "type": ["Alignment"],
        "targetName": occupation.title,
        "targetUrl": ONET_SUMMARY_URL.format(soc=occupation.soc),
        "targetDescription": f"The {ONET_FRAMEWORK} occupation {occupation.soc}, "
        f"{occupation.title}.",
        "targetFramework": ONET_FRAMEWORK,
        "targetCode": occupation.soc,
        "targetType": ONET_TARGET_TYPE,
    }


def _tags(framework: Framework, level: Level) -> list[str]:
    occupation = framework.occupation
    candidates = [level.label, occupation.title, f"O*NET {occupation.soc}"]
    if occupation.group:
        candidates.append(occupation.group)
    return list(dict.fromkeys(candidates))


def _template_bytes(template: dict[str, Any]) -> bytes:
    return (json.dumps(template, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _svg_bytes(template: dict[str, Any]) -> bytes:
    # The review copy is the very image the template embeds.
    data_uri = template["achievement"]["image"]["id"]
    return base64.b64decode(data_uri.split(",", 1)[1])


def _read_template_file(path: Path) -> bytes:
    try:
        with path.open("rb") as file:
            data = file.read(MAX_TEMPLATE_BYTES + 1)
    except OSError as error:
        raise _error(
            "template_invalid", str(path), "$", f"cannot be read ({error.strerror})"
        ) from None
    if len(data) > MAX_TEMPLATE_BYTES:
        raise _error("template_invalid", str(path), "$", f"larger than {MAX_TEMPLATE_BYTES} bytes")
    return data


def _load_framework_directory(
    directory: Path, files: Sequence[tuple[Path, bytes]]
) -> dict[str, dict[str, Any]]:
    """The templates of one framework directory, checked together, in rank order."""
    if not files:
        raise _error("template_invalid", str(directory), "$", "holds no templates")
    validator = _validator(TEMPLATE_SCHEMA)
    by_rank: dict[int, tuple[Path, dict[str, Any]]] = {}
    first: dict[str, Any] | None = None
    for path, data in files:
        source = str(path)
        template = _parse_strict_json(data, source, "template_invalid")
        _validate(template, validator, source, "template_invalid")
        _check_template(template, path, source)
        if first is None:
            first = template
        _check_same_framework(template, first, len(files), source)
        rank = template["level"]["rank"]
        if rank in by_rank:
            raise _error(
                "template_invalid",
                source,
                "$.level.rank",
                f"rank {rank} is also the rank of {by_rank[rank][0].name}",
            )
        by_rank[rank] = (path, template)
    return {template["level"]["slug"]: template for _, (_, template) in sorted(by_rank.items())}


def _check_template(template: dict[str, Any], path: Path, source: str) -> None:
    framework = template["framework"]["slug"]
    level = template["level"]
    achievement = template["achievement"]
    if framework != path.parent.name:
        raise _error(
            "template_invalid",
            source,
            "$.framework.slug",
            f"{framework!r} does not match the directory {path.parent.name!r}",
        )
    if level["slug"] != path.stem:
        raise _error(
            "template_invalid",
            source,
            "$.level.slug",
            f"{level['slug']!r} does not match the file name {path.name!r}",
        )
    if level["rank"] > level["levelCount"]:
        raise _error(
            "template_invalid", source, "$.level.rank", "is greater than $.level.levelCount"
        )
    expected_id = _achievement_path(framework, level["slug"])
    if achievement["id"] != expected_id:
        raise _error("template_invalid", source, "$.achievement.id", f"must be {expected_id!r}")
    descriptions = achievement["resultDescription"]
    for number, description in enumerate(descriptions, start=1):
        if description["id"] != f"{expected_id}#statement-{number}":
            raise _error(
                "template_invalid",
                source,
                f"$.achievement.resultDescription[{number - 1}].id",
                f"must be {expected_id}#statement-{number}",
            )
    if template["requiredStatements"] > len(descriptions):
        raise _error(
            "template_invalid",
            source,
            "$.requiredStatements",
            f"is more than the {len(descriptions)} statements of the level",
        )
    try:
        base64.b64decode(achievement["image"]["id"].split(",", 1)[1], validate=True)
    except binascii.Error:
        raise _error(
            "template_invalid", source, "$.achievement.image.id", "is not valid base64"
        ) from None


def _check_same_framework(
    template: dict[str, Any], first: dict[str, Any], file_count: int, source: str
) -> None:
    if template["framework"] != first["framework"]:
        raise _error(
            "template_invalid",
            source,
            "$.framework",
            "differs from the other templates of the framework",
        )
    if template["level"]["levelCount"] != file_count:
        raise _error(
            "template_invalid",
            source,
            "$.level.levelCount",
            f"says {template['level']['levelCount']} levels but the directory holds "
            f"{file_count} templates",
        )


def _write_directory(target: Path, files: dict[str, bytes]) -> None:
    """Write ``files`` into a fresh directory and rename it to ``target`` (replacing it)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.new-", dir=target.parent))
    try:
        # mkdtemp makes the directory private; templates are public documents.
        staging.chmod(0o755)
        for name, data in files.items():
            with (staging / name).open("wb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
        _swap_into_place(staging, target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    _fsync_directory(target.parent)


def _swap_into_place(staging: Path, target: Path) -> None:
    if not target.exists():
        staging.rename(target)
        return
    # A directory cannot be renamed over a non-empty one, so the old import steps aside
    # first and comes back if the new one cannot take its place.
    retired = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
    target.rename(retired)
    try:
        staging.rename(target)
    except OSError:
        retired.rename(target)
        raise
    shutil.rmtree(retired, ignore_errors=True)


def _fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


class _Object(list[tuple[str, Any]]):
    """A JSON object as parsed: its members in order, duplicates not yet refused."""


@dataclass(frozen=True)
class _NonFinite:
    """``NaN``, ``Infinity`` or a number too large for a float, kept to be refused."""

    literal: str


def _parse_float(literal: str) -> float | _NonFinite:
    value = float(literal)
    return value if math.isfinite(value) else _NonFinite(literal)


def _parse_strict_json(data: bytes, source: str, code: str) -> Any:
    """Parse strict JSON, refusing with the JSON path of the problem where there is one."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise _error(code, source, "$", f"is not UTF-8 (byte {error.start})") from None
    try:
        parsed = json.loads(
            text, object_pairs_hook=_Object, parse_constant=_NonFinite, parse_float=_parse_float
        )
    except RecursionError:
        raise _error(code, source, "$", f"is nested deeper than {MAX_NESTING} levels") from None
    except json.JSONDecodeError as error:
        raise _error(
            code,
            source,
            "$",
            f"is not JSON: {error.msg} (line {error.lineno}, column {error.colno})",
        ) from None
    except ValueError as error:
        # For example an integer with more digits than Python converts.
        raise _error(code, source, "$", f"is not JSON: {error}") from None
    return _strict_value(parsed, (), source, code)


def _strict_value(node: Any, path: tuple[str | int, ...], source: str, code: str) -> Any:
    if isinstance(node, (_Object, list)) and len(path) >= MAX_NESTING:
        raise _error(code, source, _json_path(path), f"is nested deeper than {MAX_NESTING} levels")
    if isinstance(node, _Object):
        members: dict[str, Any] = {}
        for key, value in node:
            member_path = (*path, key)
            if key in members:
                raise _error(code, source, _json_path(member_path), "is a duplicate key")
            _refuse_surrogates(key, member_path, source, code)
            members[key] = _strict_value(value, member_path, source, code)
        return members
    if isinstance(node, list):
        return [
            _strict_value(item, (*path, index), source, code) for index, item in enumerate(node)
        ]
    if isinstance(node, _NonFinite):
        raise _error(code, source, _json_path(path), f"{node.literal} is not a finite number")
    if isinstance(node, str):
        _refuse_surrogates(node, path, source, code)
    return node


def _refuse_surrogates(text: str, path: tuple[str | int, ...], source: str, code: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise _error(
            code, source, _json_path(path), "holds a lone UTF-16 surrogate (\\ud800-\\udfff)"
        ) from None


def _refuse_control_characters(document: Any, source: str) -> None:
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(document, ())]
    while stack:
        node, path = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                _refuse_control_in_text(key, (*path, key), source, what="key")
                stack.append((value, (*path, key)))
        elif isinstance(node, list):
            stack.extend((item, (*path, index)) for index, item in enumerate(node))
        elif isinstance(node, str):
            _refuse_control_in_text(node, path, source, what="string")


def _refuse_control_in_text(
    text: str, path: tuple[str | int, ...], source: str, *, what: str
) -> None:
    found = _CONTROL_CHARACTER.search(text)
    if found:
        raise _error(
            "framework_invalid",
            source,
            _json_path(path),
            f"the {what} holds the control character U+{ord(found.group()):04X}",
        )


def _validator(schema_name: str) -> Draft202012Validator:
    schema = json.loads((_SCHEMAS / schema_name).read_text(encoding="utf-8"))
    return Draft202012Validator(schema)


def _validate(document: Any, validator: Draft202012Validator, source: str, code: str) -> None:
    errors = list(validator.iter_errors(document))
    if not errors:
        return
    chosen = best_match(errors)
    path = _json_path(tuple(chosen.absolute_path))
    raise TemplateError(
        code,
        f"{source}: {path}: {_describe(chosen)}",
        {
            "file": source,
            "path": path,
            "errors": [
                {"path": _json_path(tuple(error.absolute_path)), "message": _describe(error)}
                for error in errors[:20]
            ],
        },
    )


def _describe(error: ValidationError) -> str:
    """A schema error in words: the schema's description of what is wanted, if it has one."""
    wanted = error.schema.get("description") if isinstance(error.schema, dict) else None
    if error.validator in _SCHEMA_DESCRIBED and wanted:
        return f"must be {wanted} (found {_preview(error.instance)})"
    message = error.message
    return message if len(message) <= 200 else message[:199] + "\u2026"


def _preview(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:59] + "\u2026"


def _json_path(parts: Sequence[str | int]) -> str:
    """A JSONPath such as ``$.framework.levels.emerging.statements[3]``."""
    path = "$"
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        elif _IDENTIFIER.fullmatch(part):
            path += f".{part}"
        else:
            path += f"[{json.dumps(part)}]"
    return path


def _error(code: str, source: str, path: str, what: str) -> TemplateError:
    return TemplateError(code, f"{source}: {path}: {what}", {"file": source, "path": path})
