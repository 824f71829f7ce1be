"""Chapter 3: the mini AWD-LSTM and the concat-pool classifier (Eq. 4)."""

import copy

import pytest
import torch

from fourpapers import ulmfit as u

# --------------------------------------------------------------------------------------
# Model pieces
# --------------------------------------------------------------------------------------


def test_awd_lstm_shapes_tied_weights_and_dropouts(tiny_lm):
    lm = tiny_lm()
    x = torch.randint(0, 50, (3, 7))
    assert lm(x).shape == (3, 7, 50) and lm.encode(x).shape == (3, 7, 8)
    assert lm.decoder.weight is lm.encoder.weight
    assert [r.hidden_size for r in lm.rnns] == [12, 8]
    lm.eval()
    assert torch.equal(lm(x), lm(x))  # no dropout in eval mode
    lm.train()
    assert not torch.equal(
        lm(x), lm(x)
    )  # dropouts (incl. weight drop) in training mode
    lm.set_dropouts(embed_p=0.0, input_p=0.0, weight_p=0.0, hidden_p=0.0, output_p=0.0)
    assert torch.equal(lm(x), lm(x))


@pytest.mark.parametrize(
    "x, expected",
    [
        (torch.tensor([[0, 50]]), r"x: expected token ids in \[0, 50\).*from 0 to 50"),
        (torch.tensor([[-3, 2]]), r"x: expected token ids in \[0, 50\).*from -3 to 2"),
        (torch.tensor([[1.0, 2.0]]), r"x: expected integer token ids.*float32"),
    ],
)
def test_awd_lstm_and_classifier_reject_bad_token_ids(x, expected, tiny_lm):
    lm = tiny_lm()
    with pytest.raises(ValueError, match=expected):
        lm(x)
    clf = u.ConcatPoolClassifier(lm, n_classes=3)
    with pytest.raises(ValueError, match=expected):
        clf(x, torch.tensor([2]))


def test_classifier_rejects_float_lengths(tiny_lm):
    clf = u.ConcatPoolClassifier(tiny_lm(), n_classes=3)
    with pytest.raises(ValueError, match="lengths: expected an integer tensor"):
        clf(torch.tensor([[1, 2, 3]]), torch.tensor([3.0]))


def test_weight_drop_trains_the_raw_hidden_weights(tiny_lm):
    lm = tiny_lm(embed_p=0.0, input_p=0.0, hidden_p=0.0, output_p=0.0, weight_p=0.5)
    x = torch.randint(0, 50, (2, 5))
    assert not torch.equal(lm(x), lm(x))  # DropConnect alone changes the outputs
    torch.manual_seed(3)
    dropped = lm(x)
    torch.manual_seed(3)
    masks = [
        torch.nn.functional.dropout(r.weight_hh_l0, 0.5, training=True) for r in lm.rnns
    ]
    h = lm.encoder(x)
    for r, w in zip(lm.rnns, masks):  # the same masks, applied by hand to a copy
        ref = copy.deepcopy(r)
        with torch.no_grad():
            ref.weight_hh_l0.copy_(w)
        h, _ = ref(h)
    assert torch.allclose(dropped, lm.decoder(h), atol=1e-6)
    lm(torch.randint(0, 50, (2, 5))).sum().backward()
    assert all(
        r.weight_hh_l0.grad is not None and r.weight_hh_l0.grad.abs().sum() > 0
        for r in lm.rnns
    )


def test_concat_pool_width_and_padding_invariance(tiny_lm):
    lm = tiny_lm()
    clf = u.ConcatPoolClassifier(lm, n_classes=3).eval()
    docs = [torch.randint(3, 50, (k,)) for k in (4, 9, 1, 6)]
    x, lengths = u.pad_batch(docs, pad_id=1)
    feats = clf.features(x, lengths)
    assert feats.shape == (4, 3 * lm.output_size)
    for i, d in enumerate(docs):
        alone = clf.features(d[None], torch.tensor([len(d)]))
        assert torch.allclose(alone[0], feats[i], atol=1e-6)
    H = lm.encode(docs[1][None])[0]
    assert torch.allclose(
        feats[1], torch.cat([H[-1], H.max(0).values, H.mean(0)]), atol=1e-6
    )  # Eq. 4


@pytest.mark.parametrize(
    "call, arg",
    [
        (lambda: u.AWDLSTM(1), "vocab_size"),
        (lambda: u.AWDLSTM(50, n_layers=0), "n_layers"),
        (lambda: u.AWDLSTM(50, weight_p=1.0), "weight_p"),
        (lambda: u.AWDLSTM(50, init_range=0), "init_range"),
        (lambda: u.AWDLSTM(50).set_dropouts(foo_p=0.1), "foo_p"),
        (lambda: u.AWDLSTM(50)(torch.zeros(3, dtype=torch.long)), "x"),
        (lambda: u.ConcatPoolClassifier(torch.nn.Linear(2, 2), 2), "lm"),
        (lambda: u.ConcatPoolClassifier(u.AWDLSTM(50), 1), "n_classes"),
        (lambda: u.pad_batch([], 1), "docs"),
        (lambda: u.pad_batch([torch.zeros(2, 2, dtype=torch.long)], 1), "docs"),
    ],
)
def test_bad_arguments_name_the_argument(call, arg):
    with pytest.raises(ValueError, match=arg):
        call()
