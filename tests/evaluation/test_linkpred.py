"""Filtered link prediction: ranks → metrics by hand, the realistic rank of ties, filtering on a KG drawn by hand."""

from __future__ import annotations

import math

import pytest
import torch
from torch_geometric.nn.kge import KGEModel

from kgrec.evaluation import linkpred
from kgrec.evaluation.linkpred import KnownTriples, evaluate_link_prediction, rank_metrics, realistic_ranks
from kgrec.models.transh import TransH


def test_rank_metrics_by_hand() -> None:
    # ranks 1, 2, 4 and a tie-averaged 1.5
    # MRR = (1 + 1/2 + 1/4 + 1/1.5) / 4 = (1.75 + 0.6667) / 4 = 0.6042
    # Hits@1 = 1/4 (1.5 is not ≤ 1), Hits@3 = 3/4, Hits@10 = 1, mean rank = 8.5 / 4 = 2.125
    metrics = rank_metrics([1.0, 2.0, 4.0, 1.5])
    assert metrics["mrr"] == pytest.approx((1 + 0.5 + 0.25 + 1 / 1.5) / 4)
    assert metrics["hits@1"] == 0.25 and metrics["hits@3"] == 0.75 and metrics["hits@10"] == 1.0
    assert metrics["mean_rank"] == 2.125
    assert set(rank_metrics([3.0], ks=(5,), prefix="tail_")) == {"tail_mrr", "tail_hits@5", "tail_mean_rank"}
    with pytest.raises(ValueError):
        rank_metrics([])
    with pytest.raises(ValueError):
        rank_metrics([0.5])


def test_realistic_rank_of_ties() -> None:
    scores = torch.tensor(
        [
            [0.5, 0.9, 0.5, 0.5, 0.1],  # target 0: 1 greater (0.9), 2 equal others → 1 + 1 + 0.5·2 = 3
            [0.5, 0.9, 0.5, 0.5, 0.1],  # target 1: nothing greater → 1
            [0.5, 0.9, 0.5, 0.5, 0.1],  # target 4: 4 greater → 5
            [1.0, 1.0, 1.0, 1.0, 1.0],  # target 2: all tied → 1 + 0.5·4 = 3 = (n + 1) / 2
            [0.2, float("-inf"), 0.1, float("nan"), 0.0],  # target 2: -inf and NaN rank below → 2
        ]
    )
    ranks = realistic_ranks(scores, torch.tensor([0, 1, 4, 2, 2]))
    assert ranks.tolist() == [3.0, 1.0, 5.0, 3.0, 2.0]
    # optimistic and pessimistic ranks of row 0 are 2 and 4; the realistic rank is their mean
    assert ranks[0] == (2 + 4) / 2


class TableKGE(KGEModel):
    """A "model" whose score of (h, r, t) is read from a fixed table [num_nodes, num_relations, num_nodes]."""

    def __init__(self, table: torch.Tensor) -> None:
        super().__init__(table.size(0), table.size(1), hidden_channels=1)
        self.table = torch.nn.Parameter(table, requires_grad=False)
        self.calls = 0

    def forward(self, head_index, rel_type, tail_index):
        self.calls += 1
        return self.table[head_index, rel_type, tail_index]


# The tiny KG: entities a=0, b=1, c=2, d=3; relations r=0, s=1.
#
#     train:  a -r-> b    a -r-> c    c -s-> a
#     valid:  d -r-> b
#     test:   a -r-> d    c -r-> b
#
# Scores of relation r (row = head, column = tail); relation s scores 0 everywhere:
#
#            t=a   t=b   t=c   t=d
#     h=a    0.0   0.9   0.8   0.7
#     h=b    0.1   0.2   0.3   0.4
#     h=c    0.6   0.5   0.5   0.0
#     h=d    0.3   0.95  0.2   0.1
#
# (a, r, d) tail side: row a = [0.0, 0.9, 0.8, 0.7]; b and c are known tails of (a, r) → filtered; rank 1
#           (unfiltered it would be 3).
#           head side: column d = [0.7, 0.4, 0.0, 0.1]; a is the best head → rank 1.
# (c, r, b) tail side: row c = [0.6, 0.5, 0.5, 0.0]; nothing known to filter (c -s-> a is another relation);
#           a is greater, c ties → rank 1 + 1 + 0.5 = 2.5.
#           head side: column b = [0.9, 0.2, 0.5, 0.95]; a (train) and d (valid) are known heads of (r, b) →
#           filtered; b is lower → rank 1 (unfiltered it would be 3).
# All ranks [1, 1, 2.5, 1]: MRR = (1 + 1 + 0.4 + 1) / 4 = 0.85, Hits@1 = 3/4, Hits@3 = 1, mean rank = 1.375;
# tail MRR = (1 + 0.4) / 2 = 0.7, head MRR = 1.
R_SCORES = [[0.0, 0.9, 0.8, 0.7], [0.1, 0.2, 0.3, 0.4], [0.6, 0.5, 0.5, 0.0], [0.3, 0.95, 0.2, 0.1]]
TRAIN = torch.tensor([[0, 0, 1], [0, 0, 2], [2, 1, 0]])
VALID = torch.tensor([[3, 0, 1]])
TEST = torch.tensor([[0, 0, 3], [2, 0, 1]])


def table_model() -> TableKGE:
    table = torch.zeros(4, 2, 4)
    table[:, 0, :] = torch.tensor(R_SCORES)
    return TableKGE(table)


def test_filtered_ranks_on_a_hand_drawn_kg() -> None:
    model = table_model()
    metrics = evaluate_link_prediction(model, TEST, [TRAIN, VALID, TEST], num_nodes=4)
    assert metrics["mrr"] == pytest.approx(0.85)
    assert metrics["hits@1"] == 0.75 and metrics["hits@3"] == 1.0 and metrics["hits@10"] == 1.0
    assert metrics["mean_rank"] == 1.375
    assert metrics["tail_mrr"] == pytest.approx(0.7) and metrics["tail_mean_rank"] == 1.75
    assert metrics["head_mrr"] == 1.0 and metrics["head_hits@1"] == 1.0
    assert metrics["count"] == 2
    assert model.calls == 2  # one vectorised call per side for the whole batch


def test_without_filtering_the_same_kg_ranks_worse() -> None:
    # Only the test triples are known: (a, r, d) tail rank 3 (b, c above), (c, r, b) head rank 3 (d, a above).
    metrics = evaluate_link_prediction(table_model(), TEST, [TEST], num_nodes=4)
    assert metrics["tail_mean_rank"] == (3 + 2.5) / 2
    assert metrics["head_mean_rank"] == (1 + 3) / 2


def test_batching_does_not_change_the_ranks(monkeypatch) -> None:
    model = table_model()
    expected = evaluate_link_prediction(model, TEST, [TRAIN, VALID, TEST], num_nodes=4)
    model.calls = 0
    assert evaluate_link_prediction(model, TEST, [TRAIN, VALID, TEST], num_nodes=4, batch_size=1) == expected
    assert model.calls == 4
    monkeypatch.setattr(linkpred, "MAX_ROWS_PER_CALL", 4)  # at most one test triple × 4 candidates per call
    assert evaluate_link_prediction(model, TEST, [TRAIN, VALID, TEST], num_nodes=4) == expected


def test_known_triples_mask() -> None:
    known = KnownTriples([TRAIN, VALID, TRAIN], num_nodes=4, num_relations=2)  # duplicates are harmless
    tails = known.mask(torch.tensor([0, 2, 1]), torch.tensor([0, 1, 0]), "tail")
    assert tails.tolist() == [[False, True, True, False], [True, False, False, False], [False] * 4]
    heads = known.mask(torch.tensor([1]), torch.tensor([0]), "head")
    assert heads.tolist() == [[True, False, False, True]]


def test_matches_a_brute_force_loop_on_a_random_transh() -> None:
    torch.manual_seed(0)
    num_nodes, num_relations = 9, 3
    columns = [torch.randint(num_nodes, (60,)), torch.randint(num_relations, (60,)), torch.randint(num_nodes, (60,))]
    triples = torch.unique(torch.stack(columns, dim=1), dim=0)
    train, test = triples[:40], triples[40:]
    model = TransH(num_nodes, num_relations, 8).eval()
    known = {tuple(t) for t in triples.tolist()}
    ranks = {"head": [], "tail": []}
    with torch.no_grad():
        for h, r, t in test.tolist():
            for side in ("head", "tail"):
                def score(e: int) -> float:
                    hh, tt = (e, t) if side == "head" else (h, e)
                    return model(torch.tensor([hh]), torch.tensor([r]), torch.tensor([tt])).item()

                true = score(h if side == "head" else t)
                greater = equal = 0
                for e in range(num_nodes):
                    candidate = (e, r, t) if side == "head" else (h, r, e)
                    if candidate == (h, r, t) or candidate in known:
                        continue
                    s = score(e)
                    greater += s > true
                    equal += math.isclose(s, true, rel_tol=0, abs_tol=1e-7)
                ranks[side].append(1 + greater + 0.5 * equal)
    metrics = evaluate_link_prediction(model, test, [train, test], num_nodes, batch_size=7)
    assert metrics["head_mean_rank"] == pytest.approx(sum(ranks["head"]) / len(ranks["head"]))
    assert metrics["tail_mean_rank"] == pytest.approx(sum(ranks["tail"]) / len(ranks["tail"]))
    assert metrics["mrr"] == pytest.approx(sum(1 / x for x in ranks["head"] + ranks["tail"]) / (2 * len(test)))
    assert model.training is False


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="no test triples"):
        evaluate_link_prediction(table_model(), torch.zeros(0, 3, dtype=torch.long), [TRAIN], num_nodes=4)
    with pytest.raises(ValueError, match="entity ids"):
        evaluate_link_prediction(table_model(), torch.tensor([[0, 0, 7]]), [TRAIN], num_nodes=4)
