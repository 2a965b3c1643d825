"""tinykws: keyword spotting for microcontrollers.

Record keyword samples through a board's microphone, train a small CNN on a
laptop, quantize it to int8 for TensorFlow Lite Micro, flash it, and watch what
the board hears.
"""

__version__ = "0.1.0"
