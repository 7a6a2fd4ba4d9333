import pytest

from trailforge.errors import TokenizerError
from trailforge.tokenize import load_tokenizer, load_tokenizers, tiktoken_names

TEXT = "Suppose a steel rod is heated. Therefore, the rod gets longer."


@pytest.mark.parametrize("name", tiktoken_names())
def test_every_listed_encoding_loads_with_the_network_blocked(name, monkeypatch):
    import socket

    def refuse(*args, **kwargs):
        raise OSError("network blocked in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    tok = load_tokenizer(name)
    ids = tok.encode_batch([TEXT])[0]
    assert 10 < len(ids) < 20 and tok.decode(ids) == TEXT
    assert tok.label == name and len(tok.fingerprint) == 64 and tok.vocab_size > 100_000


@pytest.mark.parametrize("name", ["gpt2", "r50k_base", "p50k_base"])
def test_encodings_without_a_shipped_rank_file_are_refused(name):
    with pytest.raises(TokenizerError) as info:
        load_tokenizer(name)
    assert "needs the network" in info.value.message and "cl100k_base" in info.value.hint


def test_tokenizer_json_never_pads_or_truncates(wordpiece_path):
    tok = load_tokenizer(str(wordpiece_path))
    short, long = tok.encode_batch(["a rod", " ".join(["rod"] * 300)])
    assert len(short) == 2 and len(long) == 300  # the shipped file pads and truncates to 128
    assert tok.vocab_size == 30522 and tok.label == "model"


def test_local_model_folder_through_transformers(wordpiece_path):
    tok = load_tokenizer(str(wordpiece_path.parent))
    by_json = load_tokenizer(str(wordpiece_path))
    assert tok.encode_batch([TEXT]) == by_json.encode_batch([TEXT])


def test_label_prefix_and_duplicate_labels(wordpiece_path):
    tok = load_tokenizer(f"bert={wordpiece_path}")
    assert tok.label == "bert"
    with pytest.raises(TokenizerError, match="share the label"):
        load_tokenizers(["cl100k_base", "cl100k_base=o200k_base"])


def test_unknown_tokenizer_is_a_clear_error():
    with pytest.raises(TokenizerError) as info:
        load_tokenizer("no-such-tokenizer")
    assert "cl100k_base" in info.value.hint


def test_hub_tokenizer_offline_fails_cleanly(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(TokenizerError) as info:
        load_tokenizer("hf:trailforge-tests/definitely-not-cached")
    assert "Hub" in info.value.message


def test_broken_tokenizer_file(tmp_path):
    path = tmp_path / "tokenizer.json"
    path.write_text("{not json")
    with pytest.raises(TokenizerError, match="cannot load"):
        load_tokenizer(str(path))
