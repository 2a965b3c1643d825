"""Evaluation: how good a run is, on clips and on continuous audio.

- :mod:`.clips`: float and int8 (TFLM) accuracy on clips, per class, confusion matrices;
- :mod:`.streaming`: a long stream built from test-split speakers, run through the
  board's own C core, scored as hits and false accepts per hour;
- :mod:`.tuning`: the recognizer's operating point chosen on a stream's recorded scores;
- :mod:`.report`: ``report.md`` and the plots.

Each takes a run (or its arrays) and gives plain dicts; only :mod:`.tuning` and
:mod:`.report` write into the run folder.
"""
