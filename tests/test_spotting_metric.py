"""MEGC's spotting metric on hand-made cases, and the STR figures against scikit-learn."""
import numpy as np
import pytest
from sklearn.metrics import f1_score, recall_score

from mer_tfx.spotting.analysis import CLASSES, analyse, strs
from mer_tfx.spotting.metric import Interval, evaluate, iou, match, video_counts


def me(onset, offset, label=""):
    return Interval(onset, offset, "me", label)


def mae(onset, offset, label=""):
    return Interval(onset, offset, "mae", label)


def test_iou_counts_frames_inclusively():
    assert iou(me(1, 3), me(3, 5)) == pytest.approx(1 / 5)
    assert iou(me(10, 19), me(10, 19)) == 1.0
    assert iou(me(1, 3), me(4, 6)) == 0.0


def test_iou_exactly_one_half_is_a_match():
    truth, pred = me(0, 9), me(0, 4)  # 5 shared frames of a 10-frame union
    assert iou(truth, pred) == 0.5
    counts, _ = video_counts([truth], [pred])
    assert (counts["me"].tp, counts["me"].fp, counts["me"].fn) == (1, 0, 0)
    counts, _ = video_counts([truth], [me(0, 3)])  # 4 of 10: below
    assert (counts["me"].tp, counts["me"].fp, counts["me"].fn) == (0, 1, 1)


def test_one_prediction_over_two_truths_is_one_hit_and_one_miss():
    truths = [me(0, 4), me(5, 9)]
    pred = [me(0, 9)]  # IoU 0.5 with each
    assert [iou(t, pred[0]) for t in truths] == [0.5, 0.5]
    counts, pairs = video_counts(truths, pred)
    assert len(pairs) == 1
    assert (counts["me"].tp, counts["me"].fp, counts["me"].fn) == (1, 0, 1)


def test_matching_is_maximal_not_greedy_in_list_order():
    # the first prediction fits both truths, the second only the first truth
    truths = [me(0, 9), me(4, 13)]
    preds = [me(2, 11), me(0, 8)]
    assert len(match(truths, preds)) == 2
    assert len(match(truths, preds[::-1])) == 2


def test_types_are_matched_separately():
    counts, _ = video_counts([me(0, 9)], [mae(0, 9)])
    assert (counts["me"].fn, counts["mae"].fp, counts["me"].tp) == (1, 1, 0)


def test_a_video_without_truths_counts_its_false_positives():
    with_truth = {("casme_sq", "a"): ([me(0, 9), mae(20, 60)], [me(0, 9), mae(20, 60)])}
    empty_video = {("casme_sq", "b"): ([], [me(100, 110), mae(200, 260)])}
    alone = evaluate(with_truth)
    both = evaluate({**with_truth, **empty_video})
    assert alone["overall"]["overall"]["f1"] == 1.0
    assert both["videos"] == 2
    assert both["overall"]["overall"] == {"tp": 2, "fp": 2, "fn": 0, "precision": 0.5,
                                          "recall": 1.0, "f1": pytest.approx(2 / 3)}
    assert both["per_video"][1]["overall"]["f1"] == 0.0


def test_overall_f1_comes_from_pooled_counts_not_a_mean():
    videos = {("d1", "a"): ([me(0, 9)], [me(0, 9)]),  # F1 1
              ("d1", "b"): ([me(0, 9), me(20, 29), me(40, 49)], [me(100, 109)]),  # F1 0
              ("d2", "c"): ([mae(0, 40)], [mae(0, 40), mae(50, 90)])}
    result = evaluate(videos)
    # pooled: tp 2, fp 2, fn 3 -> F1 = 4 / 9 (the mean of video F1s would be 0.56)
    assert result["overall"]["overall"]["f1"] == pytest.approx(4 / 9)
    assert result["overall"]["micro"]["tp"] == 1 and result["overall"]["micro"]["fn"] == 3
    assert result["overall"]["macro"]["f1"] == pytest.approx(2 / 3)
    assert result["per_dataset"]["d1"]["overall"]["f1"] == pytest.approx(2 / 6)
    assert result["per_dataset"]["d2"]["micro"]["f1"] is None  # nothing to score


def _random_str_case(rng, n):
    labels = ["disgust", "happiness", "surprise", "others", "repression", "sadness"]
    predicted = ["negative", "positive", "surprise", "others"]
    videos = {}
    for v in range(n):
        truths, preds = [], []
        for k in range(int(rng.integers(1, 5))):
            start = 100 * k
            truths.append(me(start, start + 9, str(rng.choice(labels))))
            preds.append(me(start + int(rng.integers(0, 3)), start + 9,
                            str(rng.choice(predicted))))
        preds.append(me(5000, 5010, "positive"))  # an FP: not analysed
        videos[("d", f"v{v}")] = (truths, preds)
    return videos


def test_str_figures_equal_scikit_learn():
    rng = np.random.default_rng(3)
    spotting = evaluate(_random_str_case(rng, 12))
    result = analyse(spotting["true_positives"])
    from mer_tfx.spotting.analysis import composite
    pairs = [(composite(t.label), composite(p.label) or "other")
             for _, _, t, p in spotting["true_positives"]]
    kept = [(a, p) for a, p in pairs if a]
    y_true, y_pred = [a for a, _ in kept], [p for _, p in kept]
    assert result["excluded_others"] == len(pairs) - len(kept) > 0
    assert result["scored"] == len(kept) > 10
    assert result["uf1"] == pytest.approx(
        f1_score(y_true, y_pred, labels=list(CLASSES), average="macro", zero_division=0))
    assert result["uar"] == pytest.approx(
        recall_score(y_true, y_pred, labels=list(CLASSES), average="macro", zero_division=0))
    assert strs(spotting, result) == pytest.approx(
        spotting["overall"]["overall"]["f1"] * result["uf1"])
    assert 0 < strs(spotting, result) < 1


def test_uar_is_mean_recall_not_mean_precision():
    truths = [me(0, 9, "disgust"), me(20, 29, "disgust"), me(40, 49, "surprise"),
              me(60, 69, "happiness")]
    preds = [me(0, 9, "negative"), me(20, 29, "positive"), me(40, 49, "positive"),
             me(60, 69, "surprise")]
    result = analyse(evaluate({("d", "v"): (truths, preds)})["true_positives"])
    # recall: negative 1/2, positive 0/1, surprise 0/1 -> 1/6 (mean precision: 1/3)
    assert result["uar"] == pytest.approx(1 / 6)
    assert result["per_class"]["negative"]["recall"] == 0.5
