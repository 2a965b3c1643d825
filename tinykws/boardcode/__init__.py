"""The board's own code, run on the laptop (built with the host compiler, or cross-built and run on QEMU).

- :mod:`.tflm`: the TensorFlow Lite Micro interpreter (the ``tflite-micro`` package) and the
  smallest tensor arena a model allocates in;
- :mod:`.native`: the firmware's portable C core built with the host compiler, driven via ctypes
  (streaming MFCC, window, recognizer, protocol, the application loop);
- :mod:`.cross`: the same core cross-compiled for a Cortex-M4F and run under QEMU.

Takes a ``.tflite``, a :class:`tinykws.spec.FeatureSpec` and int16 audio; gives what the board would
compute from them.
"""
