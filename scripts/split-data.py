#!/usr/bin/env python3
"""Re-splits the labelled questions of data/ into train.jsonl and test.jsonl.

Reads every line of data/train.jsonl and data/test.jsonl (plus any files given as arguments, to add
new questions), drops exact duplicates, sorts by (function, text) so the result does not depend on
the current split, then shuffles each function's questions with random.Random(11) (functions in
alphabetical order, one generator for all) and holds out round(25%) of each function for the test
split. Output lines are sorted by (function, text) for readable diffs.

    python3 scripts/split-data.py [more.jsonl ...]
"""
import json
import random
import sys
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "data"
TOPIC_OF = {
    "tech_support": "setup",
    "store": "in_store",
    "product": "product_advice",
    "billing": "billing",
    "delivery": "delivery",
    "marketing": "promotions",
}


def read(path):
    if not path.exists():
        return []
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        row = json.loads(line)
        if TOPIC_OF.get(row["function"]) != row["topic"]:
            sys.exit(f"{path}:{n}: topic {row['topic']!r} does not belong to function {row['function']!r}")
        rows.append({"text": row["text"], "topic": row["topic"], "function": row["function"]})
    return rows


def main():
    rows = read(DATA / "train.jsonl") + read(DATA / "test.jsonl")
    for extra in sys.argv[1:]:
        rows += read(Path(extra))
    seen, unique = set(), []
    for r in sorted(rows, key=lambda r: (r["function"], r["text"])):
        if r["text"] not in seen:
            seen.add(r["text"])
            unique.append(r)
    rng = random.Random(11)
    train, test = [], []
    for function in sorted(TOPIC_OF):
        group = [r for r in unique if r["function"] == function]
        rng.shuffle(group)
        k = round(len(group) * 0.25)
        test += group[:k]
        train += group[k:]
    for name, part in (("train.jsonl", train), ("test.jsonl", test)):
        part.sort(key=lambda r: (r["function"], r["text"]))
        with open(DATA / name, "w", encoding="utf-8") as f:
            for r in part:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(f"train {len(train)}, test {len(test)}")


if __name__ == "__main__":
    main()
