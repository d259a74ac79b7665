"""Builds tests/fixtures/tiny: a hand-wired bundle with the same I/O contract as a real one.

The graph is not trained: each vocabulary word carries a fixed intent vote and a fixed slot tag, so
tests can assert exact pipeline behaviour (sub-token alignment, offsets, batching, padding) without
depending on what a trained model happens to answer. It is a few KB and needs only `onnx`,
`numpy` and `tokenizers` (no torch):

    training/.venv/bin/python training/make_fixture.py

Graph: E = Embedding(input_ids); slot_logits = E @ Ws + bs (per token);
intent_logits = (masked mean of E over tokens) @ Wi. Padding never changes a result.
It also writes tests/data/text_cases.json from parlance_text.py, which the Rust twin must match.
"""
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors

sys.path.insert(0, os.path.dirname(__file__))
import parlance_text  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "tiny")

INTENTS = ["alarm_set", "greet", "play_music", "weather_query"]
SLOT_TYPES = ["date", "place_name", "time"]
SLOT_LABELS = ["O"] + [f"{p}-{t}" for t in SLOT_TYPES for p in ("B", "I")]

# word -> (intent vote or None, slot label)
VOCAB = {
    "réveille": ("alarm_set", "O"), "wake": ("alarm_set", "O"), "alarm": ("alarm_set", "O"),
    "alarme": ("alarm_set", "O"), "réveil": ("alarm_set", "O"),
    # a continuation piece tagged B-date on purpose: if the pipeline read anything but the first
    # sub-token of a word, "réveille-moi" would come out as a date.
    "##-moi": (None, "B-date"),
    "météo": ("weather_query", "O"), "weather": ("weather_query", "O"), "temps": ("weather_query", "O"),
    "pluie": ("weather_query", "O"), "rain": ("weather_query", "O"),
    "play": ("play_music", "O"), "joue": ("play_music", "O"), "musique": ("play_music", "O"),
    "music": ("play_music", "O"), "song": ("play_music", "O"),
    "hello": ("greet", "O"), "bonjour": ("greet", "O"), "salut": ("greet", "O"), "hi": ("greet", "O"),
    "demain": (None, "B-date"), "tomorrow": (None, "B-date"), "lundi": (None, "B-date"),
    "monday": (None, "B-date"), "aujourd'hui": (None, "B-date"), "today": (None, "B-date"),
    "sept": (None, "B-time"), "seven": (None, "B-time"), "huit": (None, "B-time"),
    "eight": (None, "B-time"), "heures": (None, "I-time"), "am": (None, "I-time"), "pm": (None, "I-time"),
    "paris": (None, "B-place_name"), "london": (None, "B-place_name"),
    "new": (None, "B-place_name"), "york": (None, "I-place_name"),
}
GENERIC = ["me", "moi", "up", "at", "à", "le", "la", "the", "for", "pour", "de", "what", "is", "quel",
           "il", "fait", "some", "du", "in", "à", "jazz", "?", "!", ",", ".", "🎉", "café", "crème", "in"]
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]


def build_vocab():
    vocab = {}
    for w in SPECIALS + list(VOCAB) + GENERIC:
        vocab.setdefault(w, len(vocab))
    return vocab


def build_tokenizer(vocab):
    tok = Tokenizer(models.WordPiece(vocab=vocab, unk_token="[UNK]", continuing_subword_prefix="##"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])])
    tok.decoder = decoders.WordPiece()
    tok.enable_padding(pad_id=vocab["[PAD]"], pad_token="[PAD]")
    return tok


def build_graph(vocab):
    n_i, n_s = len(INTENTS), len(SLOT_LABELS)
    hidden = n_i + n_s
    emb = np.zeros((len(vocab), hidden), dtype=np.float32)
    for word, (intent, label) in VOCAB.items():
        if intent:
            emb[vocab[word], INTENTS.index(intent)] = 40.0
        if label != "O":
            emb[vocab[word], n_i + SLOT_LABELS.index(label)] = 6.0
    w_int = np.zeros((hidden, n_i), dtype=np.float32)
    w_int[:n_i, :n_i] = np.eye(n_i)
    w_slot = np.zeros((hidden, n_s), dtype=np.float32)
    w_slot[n_i:, :] = np.eye(n_s)
    b_slot = np.zeros(n_s, dtype=np.float32)
    b_slot[0] = 2.0  # words without a tag lean to O

    inits = [numpy_helper.from_array(a, n) for a, n in [
        (emb, "emb"), (w_int, "w_int"), (w_slot, "w_slot"), (b_slot, "b_slot"),
        (np.array([1], dtype=np.int64), "axis1"), (np.array([-1], dtype=np.int64), "axis_last"),
        (np.array([1e-6], dtype=np.float32), "eps")]]
    nodes = [
        helper.make_node("Gather", ["emb", "input_ids"], ["E"]),
        helper.make_node("MatMul", ["E", "w_slot"], ["S0"]),
        helper.make_node("Add", ["S0", "b_slot"], ["slot_logits"]),
        helper.make_node("Cast", ["attention_mask"], ["maskf"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["maskf", "axis_last"], ["mask3"]),
        helper.make_node("Mul", ["E", "mask3"], ["EM"]),
        helper.make_node("ReduceSum", ["EM", "axis1"], ["sumE"], keepdims=0),
        helper.make_node("ReduceSum", ["mask3", "axis1"], ["count"], keepdims=0),
        helper.make_node("Add", ["count", "eps"], ["count_eps"]),
        helper.make_node("Div", ["sumE", "count_eps"], ["pooled"]),
        helper.make_node("MatMul", ["pooled", "w_int"], ["intent_logits"]),
    ]
    graph = helper.make_graph(
        nodes, "parlance-tiny",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "tokens"]),
         helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "tokens"])],
        [helper.make_tensor_value_info("intent_logits", TensorProto.FLOAT, ["batch", n_i]),
         helper.make_tensor_value_info("slot_logits", TensorProto.FLOAT, ["batch", "tokens", n_s])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="parlance")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def write_text_cases():
    texts = [
        "Réveille-moi à 7h, l’été? «Oui»", "🎉 café crème", "cafe\u0301 noir", "  wake me   up!!  ",
        "what's the weather in New York?", "(paris) [london] {x} ...", "l‘avion d´air ʼok `tick",
        "ÉTÉ À PARIS", "p.m. a.m.", "", "...", "un…deux", "Ça va : oui ; non",
    ]
    cases = []
    for t in texts:
        for lower in (True, False):
            norms, spans = parlance_text.words(t, lowercase=lower)
            cases.append({"text": t, "lowercase": lower,
                          "words": [[n, s, e] for n, (s, e) in zip(norms, spans)]})
    path = os.path.join(ROOT, "tests", "data", "text_cases.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(cases, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"wrote {path} ({len(cases)} cases)")


def main():
    os.makedirs(OUT, exist_ok=True)
    vocab = build_vocab()
    build_tokenizer(vocab).save(os.path.join(OUT, "tokenizer.json"))
    onnx.save(build_graph(vocab), os.path.join(OUT, "model.onnx"))
    manifest = {
        "format_version": 1, "name": "parlance-tiny", "version": "0.0.1",
        "description": "Hand-wired test fixture (not a trained model): keywords vote for intents and tags.",
        "languages": ["en", "fr"], "license": "MIT", "max_length": 16, "lowercase": True,
        "pad_id": vocab["[PAD]"], "slot_alignment": "first_subtoken", "intent_temperature": 1.0,
        "inputs": {"input_ids": "input_ids", "attention_mask": "attention_mask"},
        "outputs": {"intent_logits": "intent_logits", "slot_logits": "slot_logits"},
        "intents": INTENTS, "slot_labels": SLOT_LABELS, "metrics": {},
    }
    with open(os.path.join(OUT, "parlance.json"), "w", encoding="utf-8") as f:
        json.dump(manifest, f, ensure_ascii=False, indent=2)
        f.write("\n")
    print(f"wrote {OUT}")
    write_text_cases()


if __name__ == "__main__":
    main()
