"""Test-set metrics from predicted probabilities (numpy + scikit-learn, no TensorFlow)."""

from __future__ import annotations

from typing import Any

import numpy as np

# How many misclassified samples metrics.json lists and samples.npz keeps as images
# (the most confident mistakes first); predictions.npz keeps every prediction.
MISCLASSIFIED_LIMIT = 256


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
    wrong = np.flatnonzero(preds != labels)
    confidence = probs[wrong, preds[wrong]] if len(wrong) else np.zeros(0)
    order = np.argsort(-confidence, kind="stable")[:MISCLASSIFIED_LIMIT]
    misclassified = [
        {
            "index": int(wrong[i]),
            "true": int(labels[wrong[i]]),
            "pred": int(preds[wrong[i]]),
            "confidence": round(float(confidence[i]), 4),
        }
        for i in order
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
