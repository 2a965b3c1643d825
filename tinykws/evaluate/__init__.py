"""Evaluation: how good a run is, on clips and on continuous audio.

- :mod:`.clips`: float and int8 (TFLM) accuracy on clips, per class, confusion matrices;
- :mod:`.streaming`: the validation and test streams of ``docs/evaluation.md`` (quiet and
  noisy), run through the board's own C core, scored as hit rate and false accepts per hour;
- :mod:`.tuning`: the operating point chosen on the quiet validation stream, and the run's
  ``streaming`` section (every stream at that point, DET curves, the drift reference);
- :mod:`.report`: ``report.md`` and the plots.

Each takes a run (or its arrays) and gives plain dicts; only :mod:`.tuning` and
:mod:`.report` write into the run folder.
"""
