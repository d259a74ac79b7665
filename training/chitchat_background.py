"""Off-topic background lines for `train_study sweep --background` (docs/training-choices.md,
"A background of chit-chat as off-topic examples").

Downloads the PyPI wheel chatterbot-corpus==1.3.3 (BSD-3-Clause; its English and French YAML
conversations) with pip and writes every distinct line of at most 25 words, without markup, as
MASSIVE-style JSONL (intent "__background__").

    python3 training/chitchat_background.py /tmp/bg/background.jsonl
"""

import glob
import json
import os
import subprocess
import sys
import tempfile
import zipfile

import yaml


def main(out_path):
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", tmp, "chatterbot-corpus==1.3.3"], check=True)
        (wheel,) = glob.glob(os.path.join(tmp, "*.whl"))
        zipfile.ZipFile(wheel).extractall(tmp)
        seen, rows = set(), []
        for lang, locale in (("english", "en-US"), ("french", "fr-FR")):
            for path in sorted(glob.glob(os.path.join(tmp, "chatterbot_corpus", "data", lang, "*.yml"))):
                for conv in yaml.safe_load(open(path, encoding="utf-8")).get("conversations", []):
                    for line in conv:
                        text = " ".join(str(line).split())
                        if not text or len(text.split()) > 25 or any(c in text for c in "[]`{}") or text.lower() in seen:
                            continue
                        seen.add(text.lower())
                        rows.append({"id": str(len(rows)), "locale": locale, "intent": "__background__", "utt": text, "annot_utt": text})
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    with open(out_path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(f"{len(rows)} lines ({sum(r['locale'] == 'fr-FR' for r in rows)} French) -> {out_path}")


if __name__ == "__main__":
    main(sys.argv[1])
