"""Chapter 3: the three stages reject bad settings."""

import pytest
import torch

from fourpapers import ulmfit as u


def test_finetune_rejects_bad_settings(tiny_lm):
    clf = u.ConcatPoolClassifier(tiny_lm(), 2)
    docs, y = [torch.tensor([2, 5, 6])] * 4, torch.tensor([0, 1, 0, 1])
    for kw, arg in (
        ({"unfreeze": "chain"}, "unfreeze"),
        ({"schedule": "warm"}, "schedule"),
        ({"n_checkpoints": 9}, "n_checkpoints"),
        ({"lr": 0}, "lr"),
        ({"batch_size": 1}, "batch_size"),
    ):
        with pytest.raises(ValueError, match=arg):
            u.finetune_classifier(clf, docs, y, docs, y, pad_id=1, **kw)
    with pytest.raises(ValueError, match="steps"):
        u.finetune_lm(tiny_lm(), torch.arange(3, 40), steps=1)
    with pytest.raises(ValueError, match="warmup"):
        u.pretrain_lm(tiny_lm(), torch.arange(3, 40), steps=5, warmup=5)
    with pytest.raises(ValueError, match="plan"):
        u.fig3_experiment(None, None, u.WORLD_B, {"bert": [20]})
    with pytest.raises(ValueError, match="rows"):
        u.ablation_experiment(None, None, u.WORLD_B, 20, rows=("Chain-thaw",))
    with pytest.raises(ValueError, match="variant"):
        u.scratch_arm(None, 20, u.WORLD_B, variant="bow")


@pytest.mark.parametrize(
    "call, arg",
    [
        (lambda: u.perplexity(torch.nn.Linear(2, 2), torch.arange(100)), "lm"),
        (lambda: u.perplexity(u.AWDLSTM(50), torch.arange(10)), "ids"),
        (
            lambda: u.classifier_error(
                u.ConcatPoolClassifier(u.AWDLSTM(50), 2),
                [torch.tensor([1])],
                torch.tensor([0, 1]),
                0,
            ),
            "docs",
        ),
        (lambda: u.finetune_lm(torch.nn.Linear(2, 2), torch.arange(40), steps=5), "lm"),
        (lambda: u.finetune_lm(u.AWDLSTM(50), torch.arange(2), steps=5), "ids"),
        (
            lambda: u.pretrain_lm(
                torch.nn.Linear(2, 2), torch.arange(40), steps=5, warmup=1
            ),
            "lm",
        ),
    ],
)
def test_bad_arguments_name_the_argument(call, arg):
    with pytest.raises(ValueError, match=arg):
        call()
