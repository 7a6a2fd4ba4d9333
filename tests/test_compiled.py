"""The compiled inner loop (trailforge/tokenize/_splice.c) gives what the pure-Python reference
gives: the same splices on arbitrary edits, and the same bytes for the whole default build."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trailforge.distance import token_distance
from trailforge.tokenize import load_tokenizer
from trailforge.tokenize.local import (
    COMPILED,
    measure,
    reference_measure,
    reference_splice,
    reference_token_starts,
    splice,
    token_starts,
    utf8,
)

from .conftest import ROOT, _require
from .test_local_encoding import apply, edits, texts

RUN_FIELDS = ("built_at", "build_seconds")  # the manifest's record of the run, not of the data


@pytest.fixture(scope="module")
def tiktokens():
    if not COMPILED:
        _require("the compiled loop is not built (pip install -e . needs a C compiler)")
    return [load_tokenizer(name) for name in ("o200k_base", "cl100k_base")]


def _window_encoder(tok):
    """A window encoder from the public protocol: ids, and a callable for their byte starts."""

    def encode(window: bytes):
        encoded = tok.encode(window.decode("utf-8"))
        return encoded.ids, lambda: encoded.starts

    return encode


def _same(a, b) -> bool:
    return (a.encoded.ids, a.old, a.new, a.encoded.starts) == (
        b.encoded.ids,
        b.old,
        b.new,
        b.encoded.starts,
    )


@given(text=texts, first=edits, second=edits)
def test_compiled_splice_equals_the_reference(tiktokens, text, first, second):
    child = apply(text, first)
    grandchild = apply(child, second)
    for tok in tiktokens:
        window = _window_encoder(tok)
        parent = tok.encode(text)
        compiled = splice(utf8(text), parent, utf8(child), window)
        assert _same(compiled, reference_splice(utf8(text), parent, utf8(child), window))
        again = splice(utf8(child), compiled.encoded, utf8(grandchild), window)
        reference = reference_splice(utf8(child), compiled.encoded, utf8(grandchild), window)
        assert _same(again, reference), tok.label


@given(text=texts, first=edits, second=edits, cutoff=st.integers(0, 4))
def test_compiled_measure_equals_the_reference(tiktokens, text, first, second, cutoff):
    """The engine's measure step: the same encoding (or none) and the same distance, capped."""
    child = apply(text, first)
    for tok in tiktokens:
        window, parent = _window_encoder(tok), tok.encode(text)
        starts_of = lambda ids: tok.encode(tok.decode(ids)).starts  # noqa: E731
        got = measure(utf8(text), parent, utf8(child), window, starts_of, cutoff)
        expected = reference_measure(utf8(text), parent, utf8(child), window, cutoff)
        assert got[1] == expected[1], tok.label
        assert (got[0] is None) == (expected[0] is None) == (not 0 < got[1] <= cutoff)
        full = token_distance(parent.ids, tok.encode(child).ids)
        assert got[1] == (full if full <= cutoff else cutoff + 1)
        if got[0] is not None:
            assert got[0].ids == expected[0].ids == tok.encode(child).ids
            assert got[0].starts == expected[0].starts
            grandchild = apply(child, second)  # a measured variant measures its own edits
            again = measure(utf8(child), got[0], utf8(grandchild), window, starts_of, 9)
            assert again[1] == min(token_distance(got[0].ids, tok.encode(grandchild).ids), 10)


def test_every_backend_measures_edits_for_the_engine(tiktokens):
    """`edit_measure` is the backend's own compiled step where it has one, else its encode_edit
    and the distance of the changed spans: both give the same answer."""
    from trailforge.tokenize import edit_measure
    from trailforge.tokenize.base import measured

    text = "Suppose the steel rod is heated evenly, so it expands along its length."
    for child in (text.replace("evenly", "slowly"), text, text.replace("steel rod", "beam")):
        for tok in tiktokens:
            parent = tok.encode(text)
            got = edit_measure(tok)(text, parent, child, 1)
            expected = measured(tok.encode_edit(text, parent, child), 1)
            assert got[1] == expected[1]
            assert (got[0] and got[0].ids) == (expected[0] and expected[0].ids)


@given(
    ids=st.lists(st.integers(0, 99), max_size=50),
    lengths=st.lists(st.integers(0, 9), min_size=100, max_size=100),
)
def test_compiled_token_starts_equal_the_reference(tiktokens, ids, lengths):
    assert token_starts(ids, lengths) == reference_token_starts(ids, lengths)


def test_compiled_splice_rejects_wrong_arguments(tiktokens):
    from trailforge.tokenize import _splice

    with pytest.raises(TypeError):
        _splice.splice_bytes("text", b"text", [], [], len)
    with pytest.raises(TypeError, match="encode_window must return"):
        _splice.splice_bytes(b"a b", b"a c", [1, 2], [0, 1], lambda window: None)
    with pytest.raises(IndexError, match="token id 7"):
        _splice.token_starts([7, 0], [1, 2])
    with pytest.raises(TypeError, match="6 arguments"):
        _splice.measure_bytes(b"a b", b"a c", [1, 2], [0, 1], len)
    with pytest.raises(ValueError, match="cutoff"):
        _splice.measure_bytes(b"a b", b"a c", [1, 2], [0, 1], len, -1)


def test_default_build_is_byte_identical_without_the_compiled_loop(
    tiktokens, default_build, tmp_path
):
    env = {**os.environ, "TRAILFORGE_PURE_PYTHON": "1", "HF_HUB_OFFLINE": "1"}
    code = "from trailforge.tokenize.local import COMPILED; assert not COMPILED"
    subprocess.run([sys.executable, "-c", code], env=env, check=True)
    subprocess.run(
        [sys.executable, "-m", "trailforge", "build", "--out", str(tmp_path), "--workers", "2"],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    compiled = default_build.path
    pure = tmp_path / compiled.parent.name / compiled.name
    files = sorted(p.relative_to(compiled) for p in compiled.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(pure) for p in pure.rglob("*") if p.is_file())
    for name in files:
        if name.name == "manifest.json":
            a, b = (json.loads((root / name).read_text()) for root in (compiled, pure))
            assert {k: v for k, v in a.items() if k not in RUN_FIELDS} == {
                k: v for k, v in b.items() if k not in RUN_FIELDS
            }
        else:
            assert (compiled / name).read_bytes() == (pure / name).read_bytes(), name


def test_without_the_extension_trailforge_warns_once_and_splices_the_same(tmp_path):
    """Where pip found no compiler: the pure-Python path, one warning, the same encodings."""
    code = """
import importlib.abc, sys, warnings
class NoExtension(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == "trailforge.tokenize._splice":
            raise ImportError("not built")
sys.meta_path.insert(0, NoExtension())
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    from trailforge.tokenize import load_tokenizer, local
assert not local.COMPILED
notes = [w for w in caught if "compiled splice loop is not built" in str(w.message)]
assert len(notes) == 1, caught
tok = load_tokenizer("o200k_base")
text = "Suppose the steel rod is heated evenly along its length."
child = text.replace("evenly", "slowly")
assert tok.encode_edit(text, tok.encode(text), child).encoded.ids == tok.encode(child).ids
"""
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    env.pop("TRAILFORGE_PURE_PYTHON", None)
    subprocess.run([sys.executable, "-c", code], env=env, check=True, cwd=tmp_path)
