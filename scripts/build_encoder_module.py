"""scripts/build-encoder.py as a module (its file name has a dash; its top level imports only the
standard library): what extract-top-layer.py and prune-encoder-vocab.py read the encoder with."""
import importlib.util
import os


def load():
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "build-encoder.py")
    spec = importlib.util.spec_from_file_location("build_encoder", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
