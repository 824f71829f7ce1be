"""Chapter 3: labeled text tasks, world A and a user's own labeled texts."""

import pytest

from fourpapers import ulmfit as u


def test_labeled_subsets_are_balanced_and_nested(world_b):
    d20, y20 = world_b.labeled(20, seed=0)
    d48, y48 = world_b.labeled(48, seed=0)
    assert y20.bincount().tolist() == [5] * 4 and y48.bincount().tolist() == [12] * 4
    assert all(a is b for a, b in zip(d20, d48[:20]))
    assert len(world_b.labeled(None)[0]) == 2100


def test_no_label_leakage_in_world_a():
    task = u.docstring_task()
    banned = task.info["banned"]
    families = {m for mods in u.DOCSTRING_FAMILIES.values() for m in mods}
    assert families <= banned
    assert {
        "socket",
        "decimal",
        "pathlib",
        "collections",
        "itertools",
        "datetime",
        "email",
        "http",
    } <= banned
    for d in task.pool + task.valid:
        words = set(task.vocab.decode(d))
        assert not words & banned
    assert task.n_classes == 4 and task.valid_labels.bincount().tolist() == [75] * 4
    assert len(task.vocab) == 3000 and max(len(d) for d in task.pool) <= 40


def test_clean_docstring_strips_names():
    text = (
        "Return os.path.join(a, b) via join_paths() or makeDirs.\n>>> shutil.copy('a', "
        "'b')\n'b'\n\n"
        "See the Decimal class, e.g. here."
    )
    toks = u.clean_docstring(text, banned={"decimal"})
    assert "xxref" in toks and "xxcall" in toks and "xxid" in toks and "xxname" in toks
    assert not {"os", "shutil", "join_paths", "makedirs", "decimal", "copy"} & set(toks)
    assert "e" in toks and "g" in toks  # "e.g." is not a dotted reference


def test_texts_task_from_a_labeled_csv(tmp_path):
    path = tmp_path / "data.csv"
    rows = ["text,label"] + [
        f"{'good fine' if i % 2 else 'bad awful'} movie {i},{'pos' if i % 2 else 'neg'}"
        for i in range(40)
    ]
    path.write_text("\n".join(rows), encoding="utf-8")
    texts, labels = u.load_labeled_csv(path)
    task = u.texts_task(
        "a good movie and a bad movie , fine or awful", texts, labels, valid_per_class=5
    )
    assert (
        task.classes == ["neg", "pos"]
        and len(task.valid) == 10
        and len(task.pool) == 30
    )
    assert "<bos>" in task.vocab.stoi and task.vocab.decode(task.valid[0])[0] == "<bos>"


def test_text_task_subsets_and_stream_reject_bad_sizes(world_b):
    with pytest.raises(ValueError, match="n"):
        world_b.labeled(3)
    with pytest.raises(ValueError, match="n"):
        world_b.labeled(2101)
    with pytest.raises(ValueError, match="docs"):
        world_b.stream([])


@pytest.mark.parametrize(
    "call, arg",
    [
        (lambda: u.texts_task("a b", ["a"], ["x"]), "labels"),
        (lambda: u.texts_task("a b", ["a", "b"], ["x"]), "texts"),
        (
            lambda: u.texts_task("a b", ["a", "b"], ["x", "y"], valid_per_class=1),
            "valid_per_class",
        ),
        (lambda: u.load_labeled_csv("/nonexistent.csv"), "path"),
        (lambda: u.clean_docstring(3), "text"),
        (
            lambda: u.texts_task(
                "a b", ["a", "b"] * 5, ["x", "y"] * 5, valid_per_class=1, max_tokens=1
            ),
            "max_tokens",
        ),
        (
            lambda: u.texts_task("", ["a", "b"] * 5, ["x", "y"] * 5, valid_per_class=1),
            "general",
        ),
        (lambda: u.docstring_task(families={"only": ("os",)}), "families"),
    ],
)
def test_bad_arguments_name_the_argument(call, arg):
    with pytest.raises(ValueError, match=arg):
        call()
