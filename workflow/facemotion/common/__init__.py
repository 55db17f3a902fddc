"""What every stage shares: the targets and the one place that says whether a target is learnt as
classes or as a rating (``targets``), result files written atomically and read with a one-line error
(``files``), job logs (``logs``), missing values and the natural sort order (``values``), and the
two scores both training and evaluation compute (``scores``: UAR, CCC).

Imports nothing from the rest of the package."""
