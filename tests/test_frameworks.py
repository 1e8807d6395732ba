"""Framework import, Achievement templates and their validation."""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft201909Validator, Draft202012Validator
from support import SHARED

from issuer.badge_art import render_badge_svg
from issuer.errors import NotFound, TemplateError
from issuer.frameworks import (
    Framework,
    FrameworkSummary,
    build_templates,
    framework_slug,
    import_framework,
    load_framework,
    load_templates,
)

REPO = Path(__file__).resolve().parents[1]
BUNDLED = SHARED / "frameworks" / "computer-user-support-specialists.json"
OB3 = SHARED / "conformance" / "ob3"
BUNDLED_SLUG = "computer-user-support-specialists"
BUNDLED_LEVELS = ["emerging", "developing", "proficient", "advanced"]
TEMPLATE_SCHEMA = REPO / "issuer" / "schemas" / "achievement-template.schema.json"
FRAMEWORK_SCHEMA = REPO / "issuer" / "schemas" / "framework.schema.json"


def _shared(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} is not here (the shared conformance data is outside the repo)")
    return path


def _synthetic() -> dict[str, Any]:
    """A second framework: two levels of three statements, novice before expert."""
    return {
        "schemaVersion": "1.0",
        "occupation": {"soc": "47-2111.00", "title": "Électriciens & Câbleurs"},
        "framework": {
            "version": "2.1",
            "description": "Electrical work on building sites.",
            "levels": {
                "novice": {
                    "label": "Novice",
                    "statements": ["Reads wiring diagrams.", "Uses a multimeter.", "Strips cable."],
                },
                "expert": {
                    "label": "Expert",
                    "statements": ["Designs circuits.", "Leads a crew.", "Signs off inspections."],
                },
            },
        },
        "attribution": "Example Board",
    }


def _write(directory: Path, document: Any, name: str = "framework.json") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    return path


def _snapshot(directory: Path) -> dict[str, bytes | None]:
    if not directory.exists():
        return {}
    return {
        str(path.relative_to(directory)): path.read_bytes() if path.is_file() else None
        for path in sorted(directory.rglob("*"))
    }


def _read(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return document


def test_bundled_framework_imports_one_template_per_level(tmp_path: Path) -> None:
    paths = import_framework(_shared(BUNDLED), tmp_path)

    directory = tmp_path / BUNDLED_SLUG
    assert paths == [
        directory / f"{level}.{suffix}" for level in BUNDLED_LEVELS for suffix in ("json", "svg")
    ]
    catalog = load_templates(tmp_path)
    assert [framework.slug for framework in catalog.frameworks()] == [BUNDLED_SLUG]
    assert [template.level_slug for template in catalog.levels(BUNDLED_SLUG)] == BUNDLED_LEVELS
    assert len(catalog) == 4
    schema = Draft202012Validator(_read(TEMPLATE_SCHEMA))
    for rank, level in enumerate(BUNDLED_LEVELS, start=1):
        template = catalog.get(BUNDLED_SLUG, level)
        schema.validate(template)
        achievement = template["achievement"]
        label = level.capitalize()
        assert template["level"] == {"slug": level, "label": label, "rank": rank, "levelCount": 4}
        assert template["framework"] == {
            "slug": BUNDLED_SLUG,
            "title": "Computer User Support Specialists",
            "version": "v.26.05",
            "socCode": "15-1232.00",
        }
        assert template["requiredStatements"] == 10
        assert achievement["id"] == f"/achievements/{BUNDLED_SLUG}/{level}"
        assert achievement["name"] == f"Computer User Support Specialists \u2014 {label}"
        assert achievement["achievementType"] == "Competency"
        assert [result["id"] for result in achievement["resultDescription"]] == [
            f"/achievements/{BUNDLED_SLUG}/{level}#statement-{number}" for number in range(1, 11)
        ]
        assert "This framework covers computer user support" in achievement["description"]
        assert achievement["alignment"][0]["targetCode"] == "15-1232.00"
        assert len((directory / f"{level}.json").read_bytes()) < 32 * 1024
        svg = (directory / f"{level}.svg").read_text(encoding="utf-8")
        assert achievement["image"]["id"].endswith(base64.b64encode(svg.encode()).decode())


def test_statements_come_from_the_framework_in_order() -> None:
    framework = load_framework(_shared(BUNDLED))
    source = _read(BUNDLED)["framework"]["levels"]
    for level_slug, template in build_templates(framework).items():
        statements = source[level_slug]["statements"]
        achievement = template["achievement"]
        assert [result["name"] for result in achievement["resultDescription"]] == statements
        for statement in statements:
            assert f"\n- {statement}\n" in achievement["criteria"]["narrative"]


def test_reimport_gives_identical_bytes(tmp_path: Path) -> None:
    import_framework(_shared(BUNDLED), tmp_path / "first")
    import_framework(BUNDLED, tmp_path / "second")
    first = _snapshot(tmp_path / "first")
    assert first == _snapshot(tmp_path / "second")

    import_framework(BUNDLED, tmp_path / "first")
    assert _snapshot(tmp_path / "first") == first
    assert not [path for path in (tmp_path / "first").iterdir() if path.name.startswith(".")]


def test_committed_templates_equal_a_fresh_import(tmp_path: Path) -> None:
    committed = REPO / "badge_templates"
    import_framework(_shared(BUNDLED), tmp_path)
    fresh = _snapshot(tmp_path / BUNDLED_SLUG)
    assert _snapshot(committed / BUNDLED_SLUG) == fresh, (
        "badge_templates/ has drifted from the framework: run `issuer frameworks import`"
    )
    assert BUNDLED_SLUG in [framework.slug for framework in load_templates(committed).frameworks()]


def test_templates_are_open_badges_achievements(tmp_path: Path) -> None:
    """Each Achievement (ids resolved as the credential builder does) is valid OB 3.0."""
    official = _read(_shared(OB3 / "schemas" / "ob_v3p0_achievementcredential-jsonschema1.json"))
    validator = Draft201909Validator({"$defs": official["$defs"], "$ref": "#/$defs/Achievement"})
    for template in build_templates(load_framework(_shared(BUNDLED))).values():
        validator.validate(_resolve(template["achievement"], "https://issuer.example"))


def test_every_term_is_defined_by_the_ob_context() -> None:
    """No property would be dropped by JSON-LD: each is a term of the OB 3.0.3 context,
    either top-level or scoped to the node's type."""
    context = _read(_shared(OB3 / "contexts" / "ob_v3p0_context-3.0.3.json"))["@context"]
    achievement = next(iter(build_templates(load_framework(BUNDLED)).values()))["achievement"]

    def check(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                check(item)
        elif isinstance(node, dict):
            types = node.get("type", [])
            scoped: set[str] = set()
            for name in [types] if isinstance(types, str) else types:
                scoped |= set(context[name]["@context"])
            for key, value in node.items():
                assert key in context or key in scoped, f"{key} is not an OB 3.0.3 term"
                check(value)

    check(achievement)


def test_a_second_framework_is_imported_without_assumptions(tmp_path: Path) -> None:
    path = _write(tmp_path / "in", _synthetic())
    paths = import_framework(path, tmp_path / "templates")

    slug = "electriciens-cableurs"
    assert [p.name for p in paths] == ["novice.json", "novice.svg", "expert.json", "expert.svg"]
    catalog = load_templates(tmp_path / "templates")
    assert catalog.frameworks() == [
        FrameworkSummary(
            slug=slug, title="Électriciens & Câbleurs", version="2.1", soc_code="47-2111.00"
        )
    ]
    assert [template.level_slug for template in catalog.levels(slug)] == ["novice", "expert"]
    expert = catalog.get(slug, "expert")
    assert (expert.level_slug, expert.level_label, expert.rank, expert.level_count) == (
        "expert",
        "Expert",
        2,
        2,
    )
    assert expert.required_statements == 3
    assert expert.achievement_id == f"/achievements/{slug}/expert"
    assert expert.document is expert
    assert expert["level"] == {"slug": "expert", "label": "Expert", "rank": 2, "levelCount": 2}
    assert expert["requiredStatements"] == 3
    assert expert["achievement"]["name"] == "Électriciens & Câbleurs \u2014 Expert"
    assert expert["achievement"]["id"] == f"/achievements/{slug}/expert"
    assert len(expert["achievement"]["resultDescription"]) == 3
    assert expert["achievement"]["description"].endswith("Electrical work on building sites.")
    assert "Example Board" in expert["achievement"]["criteria"]["narrative"]
    svg = base64.b64decode(expert["achievement"]["image"]["id"].split(",", 1)[1]).decode()
    assert svg == render_badge_svg("Électriciens & Câbleurs", "Expert", 2, 2)


def test_load_framework_gives_the_model(tmp_path: Path) -> None:
    framework = load_framework(_write(tmp_path, _synthetic()))
    assert isinstance(framework, Framework)
    assert framework.slug == "electriciens-cableurs"
    assert [(level.slug, level.rank) for level in framework.levels] == [
        ("novice", 1),
        ("expert", 2),
    ]
    assert framework.levels[0].statements == (
        "Reads wiring diagrams.",
        "Uses a multimeter.",
        "Strips cable.",
    )
    with pytest.raises(AttributeError):
        framework.slug = "other"  # type: ignore[misc]


def test_the_bundled_framework_is_valid_against_the_framework_schema() -> None:
    Draft202012Validator(_read(FRAMEWORK_SCHEMA)).validate(_read(_shared(BUNDLED)))


def test_reimport_replaces_the_framework_directory(tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    import_framework(_write(tmp_path / "in", _synthetic()), templates)
    changed = _synthetic()
    changed["framework"]["levels"] = {
        "starter": {"label": "Starter", "statements": ["Only one statement."]}
    }
    import_framework(_write(tmp_path / "in", changed), templates)

    assert sorted(p.name for p in (templates / "electriciens-cableurs").iterdir()) == [
        "starter.json",
        "starter.svg",
    ]
    levels = load_templates(templates).levels("electriciens-cableurs")
    assert [template.level_slug for template in levels] == ["starter"]


@pytest.mark.parametrize(
    ("title", "slug"),
    [
        ("Computer User Support Specialists", "computer-user-support-specialists"),
        ("  Heating, Air -- Conditioning  ", "heating-air-conditioning"),
        ("Électricien", "electricien"),
        ("R&D 2.0", "r-d-2-0"),
    ],
)
def test_framework_slug(title: str, slug: str) -> None:
    assert framework_slug(title) == slug


@pytest.mark.parametrize("title", ["", "***", "Ψυχολόγοι"])
def test_framework_slug_refuses_an_empty_slug(title: str) -> None:
    with pytest.raises(TemplateError) as caught:
        framework_slug(title)
    assert caught.value.code == "framework_invalid"


def _raw(text: str) -> Callable[[], bytes]:
    return lambda: text.encode("utf-8")


def _edited(edit: Callable[[dict[str, Any]], object]) -> Callable[[], bytes]:
    def make() -> bytes:
        document = _synthetic()
        edit(document)
        return json.dumps(document).encode("utf-8")

    return make


def _levels(document: dict[str, Any]) -> dict[str, Any]:
    levels: dict[str, Any] = document["framework"]["levels"]
    return levels


def _deeply_nested(depth: int) -> Callable[[], bytes]:
    def make() -> bytes:
        text = json.dumps(_synthetic())
        return (text[:-1] + ', "extra": ' + "[" * depth + "]" * depth + "}").encode()

    return make


VALID_TEXT = json.dumps(_synthetic())
MALFORMED: list[tuple[str, Callable[[], bytes], str]] = [
    ("not_json", _raw("{occupation: 1"), "$"),
    ("empty_file", _raw(""), "$"),
    ("bad_utf8", lambda: b'{"occupation": "\xff\xfe"}', "$"),
    ("top_level_array", _raw("[]"), "$"),
    (
        "duplicate_key",
        _raw(VALID_TEXT.replace('"novice": {', '"novice": {"label": "Twice", ', 1)),
        "$.framework.levels.novice.label",
    ),
    ("duplicate_top_key", _raw(VALID_TEXT[:-1] + ', "occupation": {}}'), "$.occupation"),
    ("nan", _raw(VALID_TEXT.replace('"soc": "47-2111.00"', '"soc": NaN', 1)), "$.occupation.soc"),
    (
        "infinity",
        _raw(VALID_TEXT[:-1] + ', "occupation2": {"jobZone": -Infinity}}'),
        "$.occupation2.jobZone",
    ),
    ("float_overflow", _raw(VALID_TEXT[:-1] + ', "weight": 1e400}'), "$.weight"),
    ("huge_nesting", _deeply_nested(100_000), "$"),
    ("deep_nesting", _deeply_nested(200), "$.extra" + "[0]" * 31),
    ("missing_occupation", _edited(lambda d: d.pop("occupation")), "$"),
    ("missing_title", _edited(lambda d: d["occupation"].pop("title")), "$.occupation"),
    ("title_not_string", _edited(lambda d: d["occupation"].update(title=7)), "$.occupation.title"),
    ("bad_soc", _edited(lambda d: d["occupation"].update(soc="15-1232")), "$.occupation.soc"),
    (
        "title_without_slug",
        _edited(lambda d: d["occupation"].update(title="Ψυχολόγοι")),
        "$.occupation.title",
    ),
    ("levels_empty", _edited(lambda d: d["framework"].update(levels={})), "$.framework.levels"),
    (
        "levels_not_object",
        _edited(lambda d: d["framework"].update(levels=[])),
        "$.framework.levels",
    ),
    ("missing_version", _edited(lambda d: d["framework"].pop("version")), "$.framework"),
    ("unknown_framework_field", _edited(lambda d: d["framework"].update(levles={})), "$.framework"),
    (
        "no_statements",
        _edited(lambda d: _levels(d)["novice"].update(statements=[])),
        "$.framework.levels.novice.statements",
    ),
    (
        "statement_not_string",
        _edited(lambda d: _levels(d)["novice"]["statements"].__setitem__(1, 42)),
        "$.framework.levels.novice.statements[1]",
    ),
    (
        "empty_statement",
        _edited(lambda d: _levels(d)["expert"]["statements"].__setitem__(2, "")),
        "$.framework.levels.expert.statements[2]",
    ),
    (
        "whitespace_statement",
        _edited(lambda d: _levels(d)["expert"]["statements"].__setitem__(0, "   ")),
        "$.framework.levels.expert.statements[0]",
    ),
    (
        "padded_label",
        _edited(lambda d: _levels(d)["expert"].update(label=" Expert")),
        "$.framework.levels.expert.label",
    ),
    (
        "control_character",
        _edited(lambda d: _levels(d)["novice"]["statements"].__setitem__(0, "Bell\u0007")),
        "$.framework.levels.novice.statements[0]",
    ),
    (
        "newline_in_statement",
        _edited(lambda d: _levels(d)["novice"]["statements"].__setitem__(2, "Two\nlines")),
        "$.framework.levels.novice.statements[2]",
    ),
    (
        "delete_character",
        _edited(lambda d: d.update(attribution="Board\u007f")),
        "$.attribution",
    ),
    (
        "control_character_in_key",
        _edited(lambda d: d["occupation"].update({"odd\u0001key": "x"})),
        '$.occupation["odd\\u0001key"]',
    ),
    (
        "lone_surrogate",
        _raw(VALID_TEXT.replace("Strips cable.", "Strips \\ud800 cable.", 1)),
        "$.framework.levels.novice.statements[2]",
    ),
    (
        "duplicate_statement",
        _edited(lambda d: _levels(d)["novice"]["statements"].append("uses a  MULTIMETER.")),
        "$.framework.levels.novice.statements[3]",
    ),
    (
        "level_key_not_a_slug",
        _edited(
            lambda d: d["framework"].update(
                levels={"Novice Level": _levels(d)["novice"], "expert": _levels(d)["expert"]}
            )
        ),
        '$.framework.levels["Novice Level"]',
    ),
    (
        "duplicate_label",
        _edited(lambda d: _levels(d)["expert"].update(label="novice")),
        "$.framework.levels.expert.label",
    ),
    (
        "unknown_level_field",
        _edited(lambda d: _levels(d)["expert"].update(required=2)),
        "$.framework.levels.expert",
    ),
    ("too_large", lambda: VALID_TEXT.encode() + b" " * (1024 * 1024), "$"),
    (
        "template_over_32_kib",
        _edited(
            lambda d: _levels(d)["expert"].update(
                statements=[f"Statement {n} " + "x" * 900 for n in range(30)]
            )
        ),
        "$.framework.levels.expert",
    ),
]


@pytest.mark.parametrize(
    ("make", "json_path"), [case[1:] for case in MALFORMED], ids=[case[0] for case in MALFORMED]
)
def test_malformed_framework_is_refused_and_nothing_is_written(
    tmp_path: Path, make: Callable[[], bytes], json_path: str
) -> None:
    templates = tmp_path / "templates"
    import_framework(_write(tmp_path / "good", _synthetic()), templates)
    before = _snapshot(templates)
    source = tmp_path / "bad" / "framework.json"
    source.parent.mkdir()
    source.write_bytes(make())

    with pytest.raises(TemplateError) as caught:
        import_framework(source, templates)

    assert caught.value.code == "framework_invalid"
    assert caught.value.message.startswith(f"{source}: {json_path}: "), caught.value.message
    assert caught.value.details["path"] == json_path
    assert _snapshot(templates) == before


def test_a_refused_first_import_creates_no_directory(tmp_path: Path) -> None:
    source = tmp_path / "framework.json"
    source.write_text("{", encoding="utf-8")
    with pytest.raises(TemplateError):
        import_framework(source, tmp_path / "templates")
    assert not (tmp_path / "templates").exists()


def test_a_missing_framework_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(TemplateError) as caught:
        load_framework(tmp_path / "absent.json")
    assert caught.value.code == "framework_invalid"
    assert str(tmp_path / "absent.json") in caught.value.message


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """An edit that sets the dotted ``path`` (list indexes as numbers) to ``value``."""

    def edit(template: dict[str, Any]) -> None:
        *parents, last = [int(part) if part.isdigit() else part for part in path.split(".")]
        node: Any = template
        for part in parents:
            node = node[part]
        node[last] = value

    return edit


def _delete(path: str) -> Callable[[dict[str, Any]], None]:
    def edit(template: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = template
        for part in parents:
            node = node[part]
        del node[last]

    return edit


BROKEN_TEMPLATES: list[tuple[Any, ...]] = [
    ("missing_name", _delete("achievement.name"), "$.achievement"),
    ("extra_top_field", _set("issuer", "https://example.org"), "$"),
    ("extra_achievement_field", _set("achievement.creator", {}), "$.achievement"),
    ("extra_level_field", _set("level.colour", "red"), "$.level"),
    ("wrong_template_version", _set("templateVersion", 2), "$.templateVersion"),
    ("required_zero", _set("requiredStatements", 0), "$.requiredStatements"),
    ("required_above_count", _set("requiredStatements", 4), "$.requiredStatements"),
    ("rank_above_count", _set("level.rank", 3), "$.level.rank"),
    ("level_count_wrong", _set("level.levelCount", 3), "$.level.levelCount"),
    # The loader reads files in name order, so the clash is reported on the later one.
    ("duplicate_rank", _set("level.rank", 1), "$.level.rank", "novice.json"),
    ("slug_not_file_name", _set("level.slug", "master"), "$.level.slug"),
    ("framework_not_directory", _set("framework.slug", "other"), "$.framework.slug"),
    ("framework_differs", _set("framework.version", "9"), "$.framework", "novice.json"),
    ("absolute_id", _set("achievement.id", "https://x.example/a"), "$.achievement.id"),
    (
        "id_of_other_level",
        _set("achievement.id", "/achievements/electriciens-cableurs/novice"),
        "$.achievement.id",
    ),
    (
        "result_type",
        _set("achievement.resultDescription.0.resultType", "Grade"),
        "$.achievement.resultDescription[0].resultType",
    ),
    (
        "result_id_out_of_order",
        _set(
            "achievement.resultDescription.1.id",
            "/achievements/electriciens-cableurs/expert#statement-3",
        ),
        "$.achievement.resultDescription[1].id",
    ),
    ("no_results", _set("achievement.resultDescription", []), "$.achievement.resultDescription"),
    (
        "control_character",
        _set("achievement.description", "Tab\there"),
        "$.achievement.description",
    ),
    ("blank_caption", _set("achievement.image.caption", " "), "$.achievement.image.caption"),
    (
        "image_not_data_uri",
        _set("achievement.image.id", "https://x.example/i.svg"),
        "$.achievement.image.id",
    ),
    ("bad_language", _set("achievement.inLanguage", "english"), "$.achievement.inLanguage"),
    (
        "target_type",
        _set("achievement.alignment.0.targetType", "Occupation"),
        "$.achievement.alignment[0].targetType",
    ),
    ("type_not_array", _set("achievement.type", "Achievement"), "$.achievement.type"),
]


@pytest.mark.parametrize(
    ("edit", "json_path", "reported"),
    [(*case[1:3], case[3] if len(case) > 3 else "expert.json") for case in BROKEN_TEMPLATES],
    ids=[case[0] for case in BROKEN_TEMPLATES],
)
def test_load_templates_refuses_a_hand_broken_template(
    tmp_path: Path, edit: Callable[[dict[str, Any]], None], json_path: str, reported: str
) -> None:
    templates = tmp_path / "templates"
    import_framework(_write(tmp_path / "in", _synthetic()), templates)
    broken = templates / "electriciens-cableurs" / "expert.json"
    template = _read(broken)
    edit(template)
    broken.write_text(json.dumps(template, indent=2, ensure_ascii=False), encoding="utf-8")

    with pytest.raises(TemplateError) as caught:
        load_templates(templates)

    assert caught.value.code == "template_invalid"
    expected = f"{broken.parent / reported}: {json_path}: "
    assert caught.value.message.startswith(expected), caught.value.message


@pytest.mark.parametrize(
    ("content", "json_path"),
    [
        (b"{", "$"),
        (b"\xff", "$"),
        (b'{"templateVersion": 1, "templateVersion": 1}', "$.templateVersion"),
        (b'{"templateVersion": NaN}', "$.templateVersion"),
        (b"[" * 50 + b"]" * 50, "$" + "[0]" * 32),
        (b" " * (32 * 1024 + 1), "$"),
    ],
    ids=["not_json", "bad_utf8", "duplicate_key", "nan", "deep", "too_large"],
)
def test_load_templates_refuses_an_unreadable_template(
    tmp_path: Path, content: bytes, json_path: str
) -> None:
    templates = tmp_path / "templates"
    import_framework(_write(tmp_path / "in", _synthetic()), templates)
    broken = templates / "electriciens-cableurs" / "novice.json"
    broken.write_bytes(content)

    with pytest.raises(TemplateError) as caught:
        load_templates(templates)

    assert caught.value.code == "template_invalid"
    assert caught.value.message.startswith(f"{broken}: {json_path}: "), caught.value.message


def test_load_templates_ignores_work_in_progress_and_art(tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    import_framework(_write(tmp_path / "in", _synthetic()), templates)
    (templates / ".electriciens-cableurs.new-x").mkdir()
    (templates / ".electriciens-cableurs.new-x" / "broken.json").write_text("{")
    (templates / "README.md").write_text("Templates.")
    assert [framework.slug for framework in load_templates(templates).frameworks()] == [
        "electriciens-cableurs"
    ]


@pytest.mark.parametrize(
    ("arrange", "name"),
    [
        (lambda root: (root / "stray.json").write_text("{}"), "stray.json"),
        (lambda root: (root / "empty-framework").mkdir(), "empty-framework"),
    ],
    ids=["json_outside_framework", "empty_framework_directory"],
)
def test_load_templates_refuses_misplaced_files(
    tmp_path: Path, arrange: Callable[[Path], object], name: str
) -> None:
    arrange(tmp_path)
    with pytest.raises(TemplateError) as caught:
        load_templates(tmp_path)
    assert caught.value.code == "template_invalid"
    assert caught.value.message.startswith(f"{tmp_path / name}: $: ")


def test_a_missing_templates_directory_is_an_empty_catalog(tmp_path: Path) -> None:
    assert len(load_templates(tmp_path / "absent")) == 0
    (tmp_path / "a-file").write_text("")
    with pytest.raises(TemplateError) as caught:
        load_templates(tmp_path / "a-file")
    assert caught.value.code == "template_invalid"


def test_catalog_hands_out_copies_and_refuses_unknown_achievements(tmp_path: Path) -> None:
    import_framework(_write(tmp_path / "in", _synthetic()), tmp_path / "templates")
    catalog = load_templates(tmp_path / "templates")
    template = catalog.get("electriciens-cableurs", "novice")
    original = copy.deepcopy(template)
    template["achievement"]["name"] = "Changed"
    assert catalog.get("electriciens-cableurs", "novice") == original

    for framework, level in [("electriciens-cableurs", "master"), ("plumbers", "novice")]:
        with pytest.raises(NotFound) as caught:
            catalog.get(framework, level)
        assert caught.value.code == "achievement_not_found"
    with pytest.raises(NotFound):
        catalog.levels("plumbers")


def _resolve(node: Any, base_url: str) -> Any:
    if isinstance(node, dict):
        return {
            key: base_url + value
            if key == "id" and isinstance(value, str) and value.startswith("/")
            else _resolve(value, base_url)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_resolve(item, base_url) for item in node]
    return node
