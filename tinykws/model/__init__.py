"""Model: the networks (:mod:`.architectures`), fitting them (:mod:`.train`) and int8 conversion (:mod:`.quantize`).

Takes training audio, clean validation features and noise; gives a Keras model
and its full-int8 ``.tflite`` flatbuffer.
"""
