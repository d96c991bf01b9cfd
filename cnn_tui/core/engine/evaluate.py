"""Test-set metrics from predicted probabilities (numpy + scikit-learn, no TensorFlow)."""

from __future__ import annotations

from typing import Any

import numpy as np

# How many misclassified samples metrics.json lists (the most confident mistakes first);
# predictions.npz keeps every prediction, samples.npz the images of every mistake up to
# the limits below (the gallery pages through all of them).
MISCLASSIFIED_LIMIT = 256
SAMPLE_IMAGES_LIMIT = 20_000
SAMPLE_BYTES_LIMIT = 64 << 20
SAMPLE_LAZY_LIMIT = 2_000
"""Images decoded from files (a streamed folder) for samples.npz: each costs a decode."""


def ranked_mistakes(probs: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every misclassified test sample, most confident first: (index, predicted, confidence)."""
    probs = np.asarray(probs)
    labels = np.asarray(labels, dtype=np.int64)
    preds = probs.argmax(axis=1) if len(labels) else np.zeros(0, dtype=np.int64)
    wrong = np.flatnonzero(preds != labels)
    confidence = probs[wrong, preds[wrong]].astype(np.float64) if len(wrong) else np.zeros(0)
    order = np.argsort(-confidence, kind="stable")
    return wrong[order].astype(np.int64), preds[wrong[order]].astype(np.int64), confidence[order]


def sample_image_count(mistakes: int, image_shape: tuple[int, ...], *, lazy: bool = False) -> int:
    """How many of ``mistakes`` images samples.npz keeps (all, within the limits above)."""
    per_image = max(1, int(np.prod(image_shape)))
    cap = min(SAMPLE_IMAGES_LIMIT, max(MISCLASSIFIED_LIMIT, SAMPLE_BYTES_LIMIT // per_image))
    if lazy:
        cap = min(cap, SAMPLE_LAZY_LIMIT)
    return min(int(mistakes), cap)


def compute_metrics(probs: np.ndarray, labels: np.ndarray, class_names: list[str]) -> dict[str, Any]:
    """Loss, accuracy, weighted/macro F1, per-class table, confusion matrix, mistakes.

    ``probs`` is (N, K) softmax output, ``labels`` (N,) ints in 0..K-1.
    """
    from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support

    probs = np.asarray(probs, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    k = len(class_names)
    classes = list(range(k))
    preds = probs.argmax(axis=1)
    picked = np.clip(probs[np.arange(len(labels)), labels], 1e-7, 1.0)
    loss = float(-np.log(picked).mean()) if len(labels) else float("nan")
    accuracy = float((preds == labels).mean()) if len(labels) else float("nan")
    precision, recall, f1, support = precision_recall_fscore_support(
        labels, preds, labels=classes, zero_division=0
    )
    per_class = [
        {
            "class": class_names[i],
            "precision": float(precision[i]),
            "recall": float(recall[i]),
            "f1": float(f1[i]),
            "support": int(support[i]),
        }
        for i in classes
    ]
    wrong, wrong_pred, confidence = ranked_mistakes(probs, labels)
    misclassified = [
        {
            "index": int(wrong[i]),
            "true": int(labels[wrong[i]]),
            "pred": int(wrong_pred[i]),
            "confidence": round(float(confidence[i]), 4),
        }
        for i in range(min(len(wrong), MISCLASSIFIED_LIMIT))
    ]
    return {
        "test_loss": loss,
        "test_accuracy": accuracy,
        "f1_weighted": float(f1_score(labels, preds, labels=classes, average="weighted", zero_division=0)),
        "f1_macro": float(f1_score(labels, preds, labels=classes, average="macro", zero_division=0)),
        "per_class": per_class,
        "confusion_matrix": confusion_matrix(labels, preds, labels=classes).tolist(),
        "class_names": list(class_names),
        "test_size": int(len(labels)),
        "misclassified_count": int(len(wrong)),
        "misclassified": misclassified,
    }
