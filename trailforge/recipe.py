"""The recipe: everything a build depends on, validated, with paths resolved."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from .errors import RecipeError
from .yamlio import line_of, load_yaml, raise_validation

VERSION_RE = re.compile(r"\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.-]+)?")
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
RECIPE_FILE = "trailforge.yaml"
#: A count or seed as YAML writes it: `true`, `"3"` or `2.0` are refused, not read as numbers.
Whole = Annotated[int, Strict()]


class OOD(BaseModel):
    """Held-out ground: rows of these domains, roles or views go to the `ood` split only."""

    model_config = ConfigDict(extra="forbid")
    domains: list[str] = Field(default_factory=list)
    roles: list[str] = Field(default_factory=list)
    views: list[str] = Field(default_factory=list)


class MaxDrift(BaseModel):
    """Drop variants whose shift under `model` exceeds `limit` (a volatility-controlled dataset)."""

    model_config = ConfigDict(extra="forbid")
    model: str = "minilm"
    measure: str = "embedding_shift"
    limit: float = Field(gt=0)


class Difficulty(BaseModel):
    """How trails are ordered within a curriculum stage, easiest first (the `rarity` column):
    `token_ids`, a proxy (BPE ids of early, frequent merges are low), or `surprisal`, the mean
    surprisal per token of the base trail under a causal LM (`model`: a local save_pretrained
    folder, relative to the recipe, or hf:ORG/NAME)."""

    model_config = ConfigDict(extra="forbid")
    by: Literal["token_ids", "surprisal"] = "token_ids"
    model: str | None = None

    @model_validator(mode="after")
    def _model_for_surprisal(self) -> "Difficulty":
        if self.by == "surprisal" and not self.model:
            raise ValueError("by: surprisal needs a model (a causal LM folder or hf:ORG/NAME)")
        if self.by == "token_ids" and self.model:
            raise ValueError("a model is used only with by: surprisal")
        return self


class CardMeta(BaseModel):
    """The dataset card's metadata, as the Hub reads it (pretty_name defaults to the name)."""

    model_config = ConfigDict(extra="forbid")
    pretty_name: str | None = None
    license: str = "apache-2.0"
    language: list[str] = Field(default_factory=lambda: ["en"], min_length=1)
    task_categories: list[str] = Field(default_factory=lambda: ["text-generation"])
    task_ids: list[str] = Field(default_factory=lambda: ["language-modeling"])
    tags: list[str] = Field(
        default_factory=lambda: [
            "reasoning",
            "curriculum",
            "synthetic",
            "micro-variants",
            "trailforge",
        ]
    )


class Anchors(BaseModel):
    """The `anchor` mutator's vocabulary: tags with `{}` for the decisive words."""

    model_config = ConfigDict(extra="forbid")
    tags: list[str] = Field(default_factory=lambda: ["[!] {}", "{} (!)"])
    in_completion: bool = False  # also anchor the conclusion (then a model learns to emit tags)

    @field_validator("tags")
    @classmethod
    def _tags(cls, v: list[str]) -> list[str]:
        for tag in v:
            if tag.count("{}") != 1 or not tag.replace("{}", "").strip():
                raise ValueError(
                    f"tag {tag!r} must hold `{{}}` once and some text, e.g. '[KEY] {{}}'"
                )
            if any(bad in tag for bad in ("->", "=>", "|")):
                raise ValueError(
                    f"tag {tag!r} reads as logic (an arrow or a pipe); use a bracket "
                    "tag or emphasis"
                )
        if len(set(v)) != len(v):
            raise ValueError("entries must be unique")
        return v


class Worlds(BaseModel):
    """Generated world frames (docs/worlds.md): a `worlds` domain beside the curated ones."""

    model_config = ConfigDict(extra="forbid")
    frames: Whole = Field(ge=1)
    ood_frames: Whole = Field(default=0, ge=0)  # frames of ood vocabulary, for the `ood` split
    banks: str = "content/worlds/banks.yaml"
    stages_per_frame: Whole | None = Field(default=None, ge=1)  # None: every curriculum stage


class StagePlan(BaseModel):
    """One gene of the curriculum: a stage, the domains it draws on and how many trails per frame."""

    model_config = ConfigDict(extra="forbid")
    stage: Whole = Field(ge=1)
    domains: Literal["all"] | list[str] = "all"
    trails_per_frame: Whole | None = Field(default=None, ge=1)


class Recipe(BaseModel):
    """A build recipe (trailforge.yaml). Relative paths are resolved against `base_dir`."""

    model_config = ConfigDict(extra="forbid")

    name: str
    version: str
    seed: Whole = 0
    description: str = ""
    grammars: list[str] = Field(default_factory=lambda: ["grammars/ski-chain.yaml"], min_length=1)
    content: str = "content"
    templates: str = "templates"
    domains: Literal["all"] | list[str] = "all"
    roles: list[str] = Field(min_length=1)
    views: list[str] = Field(min_length=1)
    curriculum: list[StagePlan] = Field(
        default_factory=lambda: [StagePlan(stage=s) for s in range(1, 6)], min_length=1
    )
    trails_per_frame: Whole = Field(default=2, ge=1)
    tokenizers: list[str] = Field(
        default_factory=lambda: ["o200k_base", "cl100k_base"], min_length=1
    )
    max_token_distance: Whole = Field(default=2, ge=1, le=16)
    #: The bound for meaning-changing edits (flips): the edited words, the conclusion and, where
    #: the edit changes a step's relation, its connective.
    max_flip_distance: Whole = Field(default=3, ge=1, le=16)
    variants_per_trail: Whole = Field(default=4, ge=0)
    walks: Whole = Field(default=1, ge=0)
    walk_depth: Whole = Field(default=3, ge=1)
    mutators: list[str] = Field(
        default_factory=lambda: ["anchor", "synonym", "connective", "filler", "flip"]
    )
    anchors: Anchors = Field(default_factory=Anchors)
    #: Share of a judging role's renderings (a role template with `reject`) that show a broken
    #: chain: a conclusion that does not follow, which the role rejects (rows with valid false).
    broken_share: float = Field(default=0.3, ge=0, le=1)
    worlds: Worlds | None = Field(default=None, validate_default=True)
    splits: dict[str, float] = Field(
        default_factory=lambda: {"train": 0.9, "validation": 0.05, "test": 0.05}
    )
    ood: OOD = Field(default_factory=OOD)
    order: Literal["curriculum", "shuffle"] = "curriculum"
    difficulty: Difficulty = Field(default_factory=Difficulty)
    card: CardMeta = Field(default_factory=CardMeta)
    max_drift: MaxDrift | None = None
    output: str = "out"
    limit: Whole | None = Field(default=None, ge=1)
    base_dir: Path = Field(default=Path("."), exclude=True)
    #: The recipe file, for errors found after loading (a recipe built in code has none).
    source: Path | None = Field(default=None, exclude=True)
    #: Fields set by command-line options rather than the file (errors then name the option).
    overridden: frozenset[str] = Field(default=frozenset(), exclude=True)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not NAME_RE.fullmatch(v):
            raise ValueError("use letters, digits, '_', '-' and '.' only")
        return v

    @field_validator("version")
    @classmethod
    def _version(cls, v: Any) -> str:
        if not isinstance(v, str) or not VERSION_RE.fullmatch(v):
            raise ValueError("must be a semantic version like 0.1.0 (quote it in YAML)")
        return v

    @field_validator("roles", "views", "mutators", "tokenizers")
    @classmethod
    def _unique(cls, v: list[Any]) -> list[Any]:
        if len(set(v)) != len(v):
            raise ValueError("entries must be unique")
        return v

    @field_validator("mutators")
    @classmethod
    def _mutators_for_variants(cls, v: list[str], info: ValidationInfo) -> list[str]:
        if not v and (info.data.get("variants_per_trail") or info.data.get("walks")):
            raise ValueError(
                "no mutators, yet variants_per_trail or walks ask for variants: name at least "
                "one, or set variants_per_trail: 0 and walks: 0 for base trails only"
            )
        return v

    @field_validator("splits")
    @classmethod
    def _splits(cls, v: dict[str, float]) -> dict[str, float]:
        if not v or any(p < 0 for p in v.values()) or abs(sum(v.values()) - 1.0) > 1e-6:
            raise ValueError("proportions must be non-negative and sum to 1")
        if "train" not in v:
            raise ValueError("a `train` split is required")
        if "ood" in v:
            raise ValueError(
                "`ood` is filled from `ood.domains`/`roles`/`views`, not by proportion"
            )
        if not all(NAME_RE.fullmatch(k) and "-" not in k for k in v):
            raise ValueError("split names use letters, digits and '_'")
        return v

    @field_validator("curriculum")
    @classmethod
    def _stages_once(cls, v: list[StagePlan]) -> list[StagePlan]:
        stages = [p.stage for p in v]
        if len(set(stages)) != len(stages):
            raise ValueError("each stage may appear once")
        return v

    @property
    def stages(self) -> list[int]:
        """Stages in training order."""
        return [p.stage for p in self.curriculum]

    @field_validator("worlds")
    @classmethod
    def _something_to_build(cls, v: Worlds | None, info: ValidationInfo) -> Worlds | None:
        if v is None and info.data.get("domains") == []:
            raise ValueError(
                "`domains` is an empty list and there are no `worlds`: nothing to build "
                "(write `domains: all`, name some domains, or add `worlds`)"
            )
        return v

    @field_validator("ood")
    @classmethod
    def _ood_known(cls, v: OOD, info: ValidationInfo) -> OOD:
        for name, held in (("roles", v.roles), ("views", v.views)):
            missing = [x for x in held if x not in (info.data.get(name) or [])]
            if missing:
                raise ValueError(f"ood.{name} {missing} are not in {name}")
        return v

    def where(self, *loc: str | int) -> dict[str, Any]:
        """`file` and `line` of `loc` (e.g. "ood", "domains") in the recipe file, for errors found
        after loading; none for a recipe made in code or a field a command-line option set."""
        if self.source is None or (loc and loc[0] in self.overridden):
            return {}
        try:
            data = load_yaml(self.source, RecipeError, "recipe")
        except RecipeError:
            return {"file": self.source}
        found = loc and isinstance(data, dict) and loc[0] in data
        return {"file": self.source, "line": line_of(data, loc) if found else None}

    def path(self, value: str) -> Path:
        """A recipe path resolved against the recipe's folder."""
        p = Path(value)
        return p if p.is_absolute() else self.base_dir / p

    @property
    def grammar_paths(self) -> list[Path]:
        return [self.path(g) for g in self.grammars]

    @property
    def output_dir(self) -> Path:
        return self.path(self.output) / self.name / self.version

    def resolved(self) -> dict[str, Any]:
        """The recipe as recorded in the manifest: every field that shapes the data, paths as
        written (relative to the recipe); not the output folder, and no absolute path of this
        machine (a tokenizer or model given by one is recorded by its name)."""
        data = self.model_dump(mode="json", exclude={"output"})
        data["tokenizers"] = [recorded_spec(t) for t in self.tokenizers]
        if self.difficulty.model:
            data["difficulty"]["model"] = recorded_spec(self.difficulty.model)
        return data


def split_label(spec: str) -> tuple[str | None, str]:
    """`LABEL=SPEC` -> (LABEL, SPEC); a plain spec -> (None, SPEC)."""
    head, sep, tail = spec.partition("=")
    if sep and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", head):
        return head, tail
    return None, spec


#: Recipe fields set by `load_recipe`, not by the recipe file.
INTERNAL_FIELDS = frozenset({"base_dir", "source", "overridden"})


def recorded_spec(spec: str) -> str:
    """A tokenizer or model spec as a version records it: an absolute path becomes its last
    name (`LABEL=` kept), so no machine path is written into a dataset; a relative path is
    normalised (`./tk/tokenizer.json` is `tk/tokenizer.json`), so how it is spelled changes
    nothing in the version."""
    label, bare = split_label(spec)
    if not bare or bare.startswith("hf:"):
        return spec
    if os.path.isabs(os.path.expanduser(bare)):
        path = Path(os.path.expanduser(bare)).name
    else:
        path = os.path.normpath(bare)
    return path if label is None else f"{label}={path}"


def default_recipe_path() -> Path:
    """./trailforge.yaml if present, else the default recipe of this checkout."""
    here = Path.cwd() / RECIPE_FILE
    if here.exists():
        return here
    return Path(__file__).resolve().parent.parent / RECIPE_FILE


def load_recipe(path: Path | None = None, **overrides: Any) -> Recipe:
    """Load and validate a recipe; non-None `overrides` replace recipe fields (CLI options)."""
    path = Path(path) if path is not None else default_recipe_path()
    data = load_yaml(path, RecipeError, "recipe")
    if not isinstance(data, dict):
        raise RecipeError(
            "a recipe must be a mapping",
            file=path,
            line=1,
            hint="see trailforge.yaml for the fields",
        )
    internal = sorted(INTERNAL_FIELDS & set(data))
    if internal:  # set from where the recipe was loaded, never by the file
        raise RecipeError(
            f"recipe: {internal[0]}: Extra inputs are not permitted",
            file=path,
            line=line_of(data, (internal[0],)),
            hint="see docs for the fields a recipe accepts",
        )
    merged = dict(data)
    given = {k: v for k, v in overrides.items() if v is not None}
    merged.update(given, base_dir=path.resolve().parent, source=path, overridden=frozenset(given))
    try:
        return Recipe.model_validate(merged)
    except ValidationError as exc:
        first = exc.errors()[0]
        option = first.get("loc", ("",))[0]
        if option in given:  # a command-line option, not a line of the file
            raise RecipeError(
                f"{option} {given[option]!r} (given as an option, not in {path.name}): "
                f"{first['msg']}",
                hint="see `trailforge build --help` for what each option accepts",
            ) from None
        raise_validation(exc, data, path, RecipeError, "recipe")
        raise  # unreachable: raise_validation always raises
