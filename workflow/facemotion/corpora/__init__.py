"""A corpus read into the normalised manifest: one row per recording, checked before anything runs.

``reading`` picks the reader (``build_manifest``); ``manifest`` normalises and checks the table
(leakage between folds included); ``recordings`` says what a recording can be (a video or a folder
of frames); ``demo`` renders the synthetic demo corpus; ``scan`` and ``splits`` are shared by the
readers of the published corpora, one module each (``msp_improv``, ``iemocap``, ``crema_d``,
``ravdess``, ``dfew``, ``mafw``, ``ferv39k``); ``cross_corpus`` puts several corpora into one
manifest, their sessions set by the protocol over them.

May import from ``common`` only."""
