from hypothesis import given
from hypothesis import strategies as st

from trailforge.distance import char_distance, token_distance

ids = st.lists(st.integers(min_value=0, max_value=50), max_size=30)


def reference(a, b):
    """Textbook dynamic-programming Levenshtein distance."""
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (x != y))
    return row[-1]


@given(ids, ids)
def test_agrees_with_reference_and_is_symmetric(a, b):
    assert token_distance(a, b) == reference(a, b) == token_distance(b, a)


@given(ids)
def test_identity(a):
    assert token_distance(a, list(a)) == 0


@given(ids, ids, ids)
def test_triangle_inequality(a, b, c):
    assert token_distance(a, c) <= token_distance(a, b) + token_distance(b, c)


@given(ids, ids, st.integers(min_value=0, max_value=5))
def test_cutoff_reports_cutoff_plus_one(a, b, cutoff):
    exact = reference(a, b)
    assert token_distance(a, b, cutoff=cutoff) == (exact if exact <= cutoff else cutoff + 1)


def test_char_distance():
    assert char_distance("heated", "cooled") == 4
