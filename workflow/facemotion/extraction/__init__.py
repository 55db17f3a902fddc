"""Faces from recordings: OpenCV reads the video (``video``), dlib's HOG detector finds the face
(``faces``), the adaptive sampler accumulates the face frames (``sampling``, ``extract``), with the
settings that decide the values (``settings``), the per-recording cache (``cache``), the jobs that
run many recordings (``batch``), what a recording gives (``records``) and the feature table and
extraction report they are gathered into (``feature_table``).

May import from ``common`` and ``corpora``."""
