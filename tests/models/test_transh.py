"""TransH: the hyperplane formula on hand-computed vectors, the model's score and loss, "bern" sampling, training."""

from __future__ import annotations

import math

import pytest
import torch

from kgrec.models.transh import (
    TransH,
    bern_corrupt,
    bern_probabilities,
    squared_transh_distance,
    transh_distance,
    transh_project,
)


def _set_weights(model: TransH, nodes: list[list[float]], d: list[list[float]], w: list[list[float]]) -> None:
    """Overwrite the model's embedding tables by hand."""
    with torch.no_grad():
        model.node_emb.weight.copy_(torch.tensor(nodes))
        model.rel_emb.weight.copy_(torch.tensor(d))
        model.rel_normal.weight.copy_(torch.tensor(w))


def test_distance_on_hand_computed_vectors() -> None:
    # h = (1, 2, 0), t = (0, 1, 1), w = (0, 0, 1), d = (0.5, 0, 0)
    # h⊥ = h - (wᵀh) w = (1, 2, 0) - 0·w = (1, 2, 0);  t⊥ = (0, 1, 1) - 1·(0, 0, 1) = (0, 1, 0)
    # h⊥ + d - t⊥ = (1.5, 1, 0);  squared norm = 2.25 + 1 = 3.25;  norm = √3.25 ≈ 1.8028
    h, t = torch.tensor([1.0, 2.0, 0.0]), torch.tensor([0.0, 1.0, 1.0])
    w, d = torch.tensor([0.0, 0.0, 1.0]), torch.tensor([0.5, 0.0, 0.0])
    assert torch.equal(transh_project(t, w), torch.tensor([0.0, 1.0, 0.0]))
    assert transh_distance(h, t, w, d).item() == 3.25
    assert transh_distance(h, t, w, d, squared=False).item() == pytest.approx(1.8028, abs=1e-4)
    # L1, not squared: |1.5| + |1| + |0| = 2.5
    assert transh_distance(h, t, w, d, p_norm=1, squared=False).item() == pytest.approx(2.5)


def test_squared_distance_of_the_difference_is_the_formula_with_its_exact_gradient() -> None:
    # the hand case above through Δ = h − t = (1, 1, −1): Δ⊥ = (1, 1, 0), Δ⊥ + d = (1.5, 1, 0) → 3.25
    h, t = torch.tensor([1.0, 2.0, 0.0]), torch.tensor([0.0, 1.0, 1.0])
    w, d = torch.tensor([0.0, 0.0, 1.0]), torch.tensor([0.5, 0.0, 0.0])
    assert squared_transh_distance(h - t, w, d).item() == 3.25
    # positives and negatives stacked in front of one batch of relations: w and d broadcast
    gen = torch.Generator().manual_seed(1)
    h, t = (torch.randn(2, 5, 4, generator=gen, dtype=torch.double) for _ in range(2))
    w = torch.nn.functional.normalize(torch.randn(5, 4, generator=gen, dtype=torch.double), dim=-1)
    d = torch.randn(5, 4, generator=gen, dtype=torch.double)
    assert torch.allclose(squared_transh_distance(h - t, w, d), transh_distance(h, t, w, d))
    inputs = tuple(x.clone().requires_grad_() for x in (h - t, w, d))
    assert torch.autograd.gradcheck(squared_transh_distance, inputs)
    one_normal = inputs[1][:1].detach().requires_grad_()  # a size-1 dim broadcast over the batch
    assert torch.autograd.gradcheck(squared_transh_distance, (inputs[0], one_normal, inputs[2]))


def test_projection_is_orthogonal_to_w_and_idempotent() -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(100, 16, generator=gen)
    w = torch.nn.functional.normalize(torch.randn(100, 16, generator=gen), dim=-1)
    x_perp = transh_project(x, w)
    assert (x_perp * w).sum(-1).abs().max().item() < 1e-6
    assert torch.allclose(transh_project(x_perp, w), x_perp, atol=1e-6)
    assert not torch.allclose(x_perp, x)  # the projection does something
    # one normal broadcast over a batch of entities
    one_w = w[:1]
    assert (transh_project(x, one_w) @ one_w.T).abs().max().item() < 1e-6


def test_forward_is_minus_distance_from_own_tables_and_normalises_w() -> None:
    model = TransH(num_nodes=3, num_relations=2, hidden_channels=3)
    nodes = [[1.0, 2.0, 0.0], [0.0, 1.0, 1.0], [0.3, -0.2, 0.7]]
    d = [[0.5, 0.0, 0.0], [0.1, 0.2, -0.3]]
    w = [[0.0, 0.0, 1.0], [0.6, 0.0, 0.8]]  # unit length
    _set_weights(model, nodes, d, w)
    head, rel, tail = torch.tensor([0, 2, 1, 0]), torch.tensor([0, 1, 1, 0]), torch.tensor([1, 0, 2, 2])
    score = model(head, rel, tail)
    entity, normal, translation = model.node_emb.weight, model.rel_normal.weight, model.rel_emb.weight
    expected = -transh_distance(entity[head], entity[tail], normal[rel], translation[rel])
    assert torch.allclose(score, expected, atol=1e-6)
    assert score[0].item() == -3.25  # the hand-computed triple above
    with torch.no_grad():
        model.rel_normal.weight.mul_(3.0)  # a non-unit w_r must be normalised inside forward
    assert torch.allclose(model(head, rel, tail), score, atol=1e-6)


def test_reset_parameters_gives_unit_normals() -> None:
    torch.manual_seed(0)
    model = TransH(num_nodes=10, num_relations=4, hidden_channels=8)
    assert torch.allclose(model.rel_normal.weight.norm(dim=-1), torch.ones(4), atol=1e-6)
    assert model.node_emb.weight.std().item() > 0


def test_bern_probabilities_on_toy_kg() -> None:
    # relation 0, one-to-many:  0 → 1, 0 → 2, 0 → 3     tph = 3/1 = 3, hpt = 3/3 = 1 → P(head) = 3/4
    # relation 1, many-to-one:  1 → 0, 2 → 0            tph = 2/2 = 1, hpt = 2/1 = 2 → P(head) = 1/3
    # relation 2: no triples                                                            → P(head) = 1/2
    head = torch.tensor([0, 0, 0, 1, 2])
    rel = torch.tensor([0, 0, 0, 1, 1])
    tail = torch.tensor([1, 2, 3, 0, 0])
    probs = bern_probabilities(head, rel, tail, num_relations=3)
    assert probs.shape == (3,)
    assert torch.allclose(probs, torch.tensor([0.75, 1 / 3, 0.5]))
    # a duplicated triple changes tph and hpt alike, not P(head)
    dup = bern_probabilities(torch.cat([head, head[:1]]), torch.cat([rel, rel[:1]]), torch.cat([tail, tail[:1]]), 3)
    assert torch.allclose(dup, probs)
    with pytest.raises(ValueError):
        bern_probabilities(head, rel, tail, num_relations=1)


def test_bern_corrupt_replaces_the_chosen_side() -> None:
    n = 1000
    head, rel, tail = torch.arange(n), torch.zeros(n, dtype=torch.long), torch.arange(n).flip(0)
    gen = torch.Generator().manual_seed(1)
    neg_head, neg_tail = bern_corrupt(head, rel, tail, num_nodes=n, probabilities=torch.tensor([1.0]), generator=gen)
    assert torch.equal(neg_tail, tail) and (neg_head != head).float().mean().item() > 0.95
    neg_head, neg_tail = bern_corrupt(head, rel, tail, num_nodes=n, probabilities=torch.tensor([0.0]), generator=gen)
    assert torch.equal(neg_head, head) and (neg_tail != tail).float().mean().item() > 0.95
    assert int(torch.cat([neg_head, neg_tail]).min()) >= 0 and int(torch.cat([neg_head, neg_tail]).max()) < n


def test_bern_corrupt_share_follows_probability() -> None:
    m = 20_000
    head, tail = torch.zeros(m, dtype=torch.long), torch.ones(m, dtype=torch.long)
    rel = torch.tensor([0, 1]).repeat(m // 2)  # relation 0 with P(head) = 0.75, relation 1 with 0.1
    gen = torch.Generator().manual_seed(2026)
    neg_head, neg_tail = bern_corrupt(head, rel, tail, 10**6, torch.tensor([0.75, 0.1]), generator=gen)
    head_replaced = neg_tail == tail  # the tail is kept exactly when the head was replaced
    assert abs(head_replaced[rel == 0].float().mean().item() - 0.75) < 0.02
    assert abs(head_replaced[rel == 1].float().mean().item() - 0.1) < 0.02
    assert torch.equal(neg_head[~head_replaced], head[~head_replaced])


def _line_model(soft_constraint_weight: float = 0.05) -> TransH:
    """Entities on the x-axis, relation 0 translates by +1 with w ⟂ d: the positive (0, 0, 1) has distance 0.

    e0 = (-0.5, 0, 0), e1 = (0.5, 0, 0), e2 = (-1, 0, 0), e3 = (0.75, 0, 0);  d = (1, 0, 0), w = (0, 0, 1).
    Negatives: (0, 0, 2): ‖-0.5 + 1 + 1‖² = 2.25;  (3, 0, 1): ‖0.75 + 1 - 0.5‖² = 1.5625, both beyond margin 1.
    """
    model = TransH(num_nodes=4, num_relations=1, hidden_channels=3, soft_constraint_weight=soft_constraint_weight)
    nodes = [[-0.5, 0.0, 0.0], [0.5, 0.0, 0.0], [-1.0, 0.0, 0.0], [0.75, 0.0, 0.0]]
    _set_weights(model, nodes, [[1.0, 0.0, 0.0]], [[0.0, 0.0, 1.0]])
    return model


POS = (torch.tensor([0, 0]), torch.tensor([0, 0]), torch.tensor([1, 1]))
NEG = (torch.tensor([0, 3]), torch.tensor([2, 1]))


def test_loss_is_zero_when_margin_and_constraints_hold() -> None:
    model = _line_model()
    assert model(*POS).tolist() == [0.0, 0.0]
    assert model(NEG[0], POS[1], NEG[1]).tolist() == [-2.25, -1.5625]
    assert model.loss(*POS, *NEG).item() == 0.0
    # the same negatives, but closer than the margin: (0, 0, 3) → ‖-0.5 + 1 - 0.75‖² = 0.0625 → loss 1 - 0.0625
    close = model.loss(*POS, neg_head_index=torch.tensor([0, 0]), neg_tail_index=torch.tensor([3, 3]))
    assert close.item() == pytest.approx(0.9375)


def test_soft_constraint_penalises_entity_norm_above_one() -> None:
    model = _line_model(soft_constraint_weight=0.1)
    with torch.no_grad():
        model.node_emb.weight[2] = torch.tensor([-2.0, 0.0, 0.0])  # ‖e2‖ = 2 → ‖e2‖² - 1 = 3
    # batch entities {0, 1, 2}: penalties 0, 0, 3 → mean 1; ranking: neg distance (0.5 + 2)² = 6.25 → 0
    loss = model.loss(torch.tensor([0]), torch.tensor([0]), torch.tensor([1]), neg_tail_index=torch.tensor([2]))
    assert loss.item() == pytest.approx(0.1 * 1.0)


def test_soft_constraint_penalises_non_orthogonal_translation() -> None:
    model = _line_model(soft_constraint_weight=0.1)
    with torch.no_grad():
        model.rel_normal.weight[0] = torch.tensor([0.6, 0.0, 0.8])
    # (wᵀd)² / ‖d‖² = 0.6² = 0.36 → penalty 0.36 - ε²;  ranking stays 0:
    # x⊥ = x - 0.6 x₁ w = (0.64 x₁, 0, -0.48 x₁);  positive ‖(-0.64, 0, 0.48) + d‖² = 0.36,
    # negative (0, 0, 2): ‖(0.32, 0, -0.24) + d‖² = 1.8 → gap 1.44 > margin
    loss = model.loss(torch.tensor([0]), torch.tensor([0]), torch.tensor([1]), neg_tail_index=torch.tensor([2]))
    assert loss.item() == pytest.approx(0.1 * (0.36 - 1e-10), rel=1e-5)


@pytest.mark.parametrize("hyperplanes", [True, False])
def test_loss_is_the_ranking_loss_of_forward_plus_the_soft_constraints(hyperplanes: bool) -> None:
    """The loss computes everything from one lookup of the batch's entities: same value and gradients as
    ``margin_ranking_loss(forward(pos), forward(neg)) + C · soft_constraint(batch)``."""
    torch.manual_seed(2)
    model = TransH(num_nodes=12, num_relations=3, hidden_channels=6, hyperplanes=hyperplanes)
    with torch.no_grad():
        model.node_emb.weight.mul_(4.0)  # norms above 1: the entity constraint is active
    head, rel, tail = torch.tensor([0, 1, 2, 0, 5]), torch.tensor([0, 1, 2, 2, 0]), torch.tensor([3, 4, 5, 6, 7])
    neg_head, neg_tail = torch.tensor([0, 9, 2, 11, 5]), torch.tensor([8, 4, 10, 6, 7])
    loss = model.loss(head, rel, tail, neg_head, neg_tail)
    grads = torch.autograd.grad(loss, list(model.parameters()), allow_unused=True)  # TransE: no normals
    pos, neg = model(head, rel, tail), model(neg_head, rel, neg_tail)
    reference = torch.nn.functional.margin_ranking_loss(pos, neg, torch.ones_like(pos), margin=1.0)
    reference = reference + 0.05 * model.soft_constraint(torch.cat([head, tail, neg_head, neg_tail]), rel)
    assert loss.item() == pytest.approx(reference.item(), rel=1e-6) and loss.item() > 0.05
    for mine, theirs in zip(grads, torch.autograd.grad(reference, list(model.parameters()), allow_unused=True)):
        assert (mine is None and theirs is None) or torch.allclose(mine, theirs, atol=1e-6)
    assert sum(g is not None for g in grads) == (3 if hyperplanes else 2)


def test_loss_falls_back_to_uniform_negatives() -> None:
    torch.manual_seed(0)
    model = TransH(num_nodes=10, num_relations=2, hidden_channels=8)
    loss = model.loss(torch.tensor([0, 1, 2, 3]), torch.tensor([0, 1, 0, 1]), torch.tensor([4, 5, 6, 7]))
    loss.backward()
    assert math.isfinite(loss.item()) and loss.item() > 0
    assert model.rel_normal.weight.grad is not None and model.rel_normal.weight.grad.abs().sum() > 0


def test_training_on_chains_learns_the_tails() -> None:
    # 20 entities; relation 0: i → i+1 (i < 19), relation 1: i → i+2 (i < 18)
    torch.manual_seed(0)
    head = torch.cat([torch.arange(19), torch.arange(18)])
    tail = torch.cat([torch.arange(19) + 1, torch.arange(18) + 2])
    rel = torch.cat([torch.zeros(19, dtype=torch.long), torch.ones(18, dtype=torch.long)])
    model = TransH(num_nodes=20, num_relations=2, hidden_channels=16)
    probs = bern_probabilities(head, rel, tail, num_relations=2)
    gen = torch.Generator().manual_seed(0)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    losses = []
    for _ in range(200):
        neg_head, neg_tail = bern_corrupt(head, rel, tail, 20, probs, generator=gen)
        loss = model.loss(head, rel, tail, neg_head, neg_tail)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    first, last = sum(losses[:10]) / 10, sum(losses[-10:]) / 10
    assert last <= 0.5 * first
    _, _, hits_at_3 = model.test(head, rel, tail, batch_size=20, k=3, log=False)
    assert hits_at_3 >= 0.8
