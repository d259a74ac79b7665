"""The server a data scientist would write instead of Parlance: FastAPI + uvicorn + onnxruntime +
tokenizers, serving the same bundle with the same response fields (POST /v1/parse).

It follows the same bundle contract (docs/bundle.md) and the same text rules
(training/parlance_text.py), so both servers do the same work per request; it runs one graph call
per request (no cross-request batching), as such servers usually do. Language detection is left
out here (Parlance's costs ~47 µs), so the comparison, if anything, favours the peer.

    python benches/peer/server.py --model models/default --port 8090 [--threads N]
"""
import argparse
import json
import os
import sys

import numpy as np
import onnxruntime as ort
import uvicorn
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel
from tokenizers import Tokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "training"))
import parlance_text  # noqa: E402


class ParseRequest(BaseModel):
    text: str
    lang: str | None = None


def softmax(x, t=1.0):
    x = x / t
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def build_app(model_dir: str, threads: int) -> FastAPI:
    with open(os.path.join(model_dir, "parlance.json"), encoding="utf-8") as f:
        m = json.load(f)
    tok = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(m["max_length"])
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(os.path.join(model_dir, "model.onnx"), so, providers=["CPUExecutionProvider"])
    temp = m.get("intent_temperature", 1.0)
    intents, labels = m["intents"], m["slot_labels"]
    app = FastAPI()

    @app.get("/health/live")
    def live():
        return {"status": "live"}

    @app.post("/v1/parse")
    def parse(req: ParseRequest):
        if not req.text.strip():
            raise HTTPException(400, "text is empty")
        norms, spans = parlance_text.words(req.text, m.get("lowercase", False))
        enc = tok.encode(norms, is_pretokenized=True)
        ids = np.array([enc.ids], dtype=np.int64)
        intent_logits, slot_logits = sess.run(
            [m["outputs"]["intent_logits"], m["outputs"]["slot_logits"]],
            {m["inputs"]["input_ids"]: ids, m["inputs"]["attention_mask"]: np.ones_like(ids)})
        p = softmax(intent_logits[0], temp)
        order = np.argsort(-p)[:10]
        ranking = [{"name": intents[i], "confidence": float(p[i])} for i in order]
        first = {}
        for t, w in enumerate(enc.word_ids):
            if w is not None and w not in first:
                first[w] = t
        sp = softmax(slot_logits[0])
        entities, cur = [], None
        for w in range(len(norms)):
            t = first.get(w)
            tag, prob = ("O", 0.0) if t is None else (labels[int(sp[t].argmax())], float(sp[t].max()))
            if tag.startswith("I-") and cur and cur["entity"] == tag[2:]:
                cur["end"] = spans[w][1]
                cur["probs"].append(prob)
                continue
            if cur:
                entities.append(cur)
                cur = None
            if tag != "O":
                cur = {"entity": tag[2:], "start": spans[w][0], "end": spans[w][1], "probs": [prob]}
        if cur:
            entities.append(cur)
        out = []
        for e in entities:
            text = req.text[e["start"]:e["end"]]
            out.append({"entity": e["entity"], "value": text, "text": text, "start": e["start"], "end": e["end"],
                        "confidence": float(np.mean(e["probs"])), "source": "model"})
        return {"text": req.text, "language": {"code": req.lang or m["languages"][0], "confidence": 1.0},
                "intent": ranking[0], "intent_ranking": ranking, "entities": out,
                "model": {"name": m["name"], "version": m["version"]}}

    return app


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=os.path.join(ROOT, "models", "default"))
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8090)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="onnxruntime intra-op threads")
    ap.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    a = ap.parse_args()
    if a.workers > 1:
        os.environ["PEER_MODEL"], os.environ["PEER_THREADS"] = a.model, str(a.threads)
        uvicorn.run("server:factory", factory=True, host=a.host, port=a.port, workers=a.workers,
                    log_level="warning", app_dir=os.path.dirname(os.path.abspath(__file__)))
    else:
        uvicorn.run(build_app(a.model, a.threads), host=a.host, port=a.port, log_level="warning")


def factory():
    return build_app(os.environ["PEER_MODEL"], int(os.environ["PEER_THREADS"]))


if __name__ == "__main__":
    main()
