"""python -m facemotion.corpora FORMAT ROOT: check a corpus before running the workflow on it."""
from facemotion.corpora import main

raise SystemExit(main())
