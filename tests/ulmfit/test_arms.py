"""Chapter 3: the arms of Fig. 3 and the whole pipeline, end to end in miniature."""

import torch

from fourpapers import ulmfit as u
from fourpapers.ulmfit.arms import _tuned


def test_the_whole_pipeline_runs_end_to_end_in_miniature():
    """A seconds-long run of every stage and experiment (the claims run the real
    sizes)."""
    import dataclasses

    task = u.topic_world_task(
        seed=0, n_general_docs=300, per_class=40, valid_per_class=10
    )
    recipe = dataclasses.replace(
        u.WORLD_B,
        pretrain_steps=30,
        warmup=5,
        lm_ft_min_steps=2,
        lm_ft_max_steps=3,
        clf_lrs=(1e-2,),
        min_steps=2,
        n_checkpoints=2,
        batch_size=8,
        seq_len=12,
    )
    lm, losses = u.pretrained_lm(task, recipe, seed=0, progress=False)
    assert len(losses) == 30 and losses[-1] < losses[0]
    before = [p.detach().clone() for p in lm.parameters()]
    fig3 = u.fig3_experiment(
        task,
        lm,
        recipe,
        {"supervised": [8, 16], "semi": [8], "scratch_full": [8, 16]},
        progress=False,
    )
    assert all(
        torch.equal(a, b) for a, b in zip(before, lm.parameters())
    )  # the shared LM is left untouched
    assert (
        fig3.ns("supervised") == [8, 16]
        and len(fig3.results["supervised"][8].errors[1e-2]) == 2
    )
    assert (
        0 <= fig3.error("best_scratch", 8) <= 100
        and fig3.results["semi"][8].best_lr == 1e-2
    )
    probe = u.probe_experiment(task, lm, recipe, n=16)
    assert set(probe) == {"pretrained LM", "random LM", "bag of words"}
    rows = u.ablation_experiment(task, lm, recipe, n=8, rows=("Last",), progress=False)
    assert 0 <= rows["Last"].error <= 100
    # Table 6's "no LM fine-tuning": the full classifier recipe on the stage-1 LM
    # itself, the LM left untouched
    no_ft = u.ablation_experiment(
        task, lm, recipe, n=8, rows=(u.NO_LM_FT,), progress=False
    )[u.NO_LM_FT]
    assert no_ft.errors == _tuned("x", task, lm, 8, recipe, 0, None).errors
    assert all(torch.equal(a, b) for a, b in zip(before, lm.parameters()))
    assert 1.0 < u.perplexity(lm, task.stream(task.valid), seq_len=12) < len(task.vocab)
    again = u.fig3_experiment(task, lm, recipe, {"supervised": [8]}, progress=False)
    assert (
        again.results["supervised"][8].errors == fig3.results["supervised"][8].errors
    )  # deterministic
