"""What the folds' predictions say: reading the prediction files and the rows of each training
repeat (``predictions``), class metrics, confusion matrices and baselines (``class_metrics``),
rating metrics (``rating_metrics``), metrics.tsv with both (``metrics_table``), intervals and tests
(``statistics``) and the tables a publication needs (``summary``; ``cross_corpus``: its rows per
test corpus over several corpora, and their intervals over the test corpus's speakers).

May import from ``common``, ``corpora``, ``extraction`` and ``learning`` (not its fitting code,
which needs TensorFlow)."""
