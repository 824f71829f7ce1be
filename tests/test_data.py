import pytest
import torch

from fourpapers import data


def test_pydoc_corpus_is_real_english_and_deterministic():
    text = data.pydoc_corpus()
    assert len(text) > 100_000
    assert "statement" in text and "the" in data.tokenize_words(text)[:200]
    assert data.pydoc_corpus() == text


def test_docstring_corpus_is_deduplicated_ordered_and_named():
    docs = data.docstring_corpus()
    assert len(docs) > 1000
    texts = [d.text for d in docs]
    assert len(set(texts)) == len(texts)
    assert all(d.module and d.name.startswith(d.module) for d in docs)
    modules = [d.module for d in docs]
    assert modules == sorted(modules)  # modules walked in sorted order
    assert {"os", "socket", "math", "collections"} <= set(modules)
    assert data.docstring_corpus() == docs


def test_docstring_corpus_does_not_depend_on_patched_builtins(monkeypatch):
    # A notebook kernel replaces builtins.input and friends; the corpus must not change
    # with that.
    import builtins

    data._docstring_corpus_cached.cache_clear()
    before = data.docstring_corpus()
    data._docstring_corpus_cached.cache_clear()
    monkeypatch.setattr(builtins, "input", lambda *a: "")
    assert data.docstring_corpus() == before


def test_char_vocab_round_trip():
    vocab = data.CharVocab.from_text("hello world")
    ids = vocab.encode("hello")
    assert ids.dtype == torch.long and vocab.decode(ids) == "hello"
    assert len(vocab) == len(set("hello world"))
    with pytest.raises(ValueError, match="text"):
        vocab.encode("hello!")


def test_word_vocab_ranks_by_frequency_and_maps_unknowns():
    vocab = data.WordVocab.from_text("b a b c b a .", max_size=3)
    assert vocab.itos == ["<unk>", "b", "a"]
    assert vocab.decode(vocab.encode("a c b")) == ["a", "<unk>", "b"]
    with pytest.raises(ValueError, match="max_size"):
        data.WordVocab.from_text("a b", max_size=1)


def test_unigram_entropy_in_nats():
    assert data.unigram_entropy(torch.tensor([0, 1, 0, 1])) == pytest.approx(
        torch.log(torch.tensor(2.0)).item()
    )
    assert data.unigram_entropy(torch.tensor([3, 3, 3])) == pytest.approx(0.0)


def test_windows_are_contiguous_shifted_and_deterministic():
    ids = torch.arange(100)
    x, y = data.random_windows(ids, 4, 10, torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (4, 10)
    assert torch.equal(y[:, :-1], x[:, 1:]) and torch.equal(
        x[:, 1:] - x[:, :-1], torch.ones(4, 9, dtype=torch.long)
    )
    a, b = (
        next(data.batches(ids, 4, 10, seed=3)),
        next(data.batches(ids, 4, 10, seed=3)),
    )
    assert torch.equal(a[0], b[0])
    assert not torch.equal(next(data.batches(ids, 4, 10, seed=4))[0], a[0])


def test_split_ids_keeps_order():
    tr, va = data.split_ids(torch.arange(100), 0.1)
    assert torch.equal(torch.cat([tr, va]), torch.arange(100)) and len(va) == 10


def test_load_text_file_and_folder(tmp_path):
    (tmp_path / "b.txt").write_text("second", encoding="utf-8")
    (tmp_path / "a.txt").write_text("first", encoding="utf-8")
    assert data.load_text(tmp_path) == "first\n\nsecond"
    assert data.load_text(tmp_path / "a.txt") == "first"
    assert data.corpus(str(tmp_path / "a.txt")) == "first"


@pytest.mark.parametrize(
    "call, arg",
    [
        (lambda: data.CharVocab.from_text(""), "text"),
        (lambda: data.WordVocab.from_text("   "), "text"),
        (lambda: data.random_windows(torch.arange(10), 2, 10), "seq_len"),
        (lambda: data.random_windows(torch.arange(10), 0, 3), "batch_size"),
        (lambda: data.batches(torch.arange(5), 2, 8), "seq_len"),
        (lambda: data.corpus("no-such-corpus"), "name"),
        (lambda: data.load_text("/no/such/path"), "path"),
        (lambda: data.unigram_entropy(torch.tensor([], dtype=torch.long)), "ids"),
        (lambda: data.split_ids(torch.arange(10), 1.5), "valid_frac"),
    ],
)
def test_bad_input_names_the_argument(call, arg):
    with pytest.raises(ValueError, match=arg):
        call()


def test_empty_text_file_is_rejected(tmp_path):
    (tmp_path / "empty.txt").write_text("  \n", encoding="utf-8")
    with pytest.raises(ValueError, match="path"):
        data.load_text(tmp_path / "empty.txt")
