#!/usr/bin/env python3
"""Make the data of examples/react: an invented almanac of towns and
questions that need two searches and a subtraction.

Every town, founder and year is invented. The output is committed; run
this again (python3 scripts/gen-react-example.py) only to change it. The
seed is fixed, so the files come out the same every time.

Files written under examples/react/:
  corpus.jsonl            one passage per town: {"id", "title", "text"}
  data/train.jsonl        80 questions
  data/dev.jsonl          80 questions
  data/test.jsonl         60 questions
Each question row is {"id", "question", "answer", "tool_calls"}, where
tool_calls are the gold calls the sim follows (docs/sim.md, "Agents"):
search the first town, search the second, subtract with the calculator.
"""
import json
import os
import random

SEED = 20240909
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                    "examples", "react")

FIRST = ["Al", "Bri", "Cor", "Dun", "El", "Fen", "Gar", "Hol", "Ish", "Jor",
         "Kel", "Lun", "Mor", "Nes", "Ost", "Pel", "Quar", "Ros", "Sal",
         "Tam", "Ul", "Ver", "Wex", "Yar", "Zel"]
LAST = ["dermoor", "ndle", "brook", "haven", "mere", "ford", "stead",
        "wick", "holm", "croft", "by", "ton", "wyn", "marsh", "gate",
        "field", "ridge", "thorpe", "combe", "well"]
KINDS = ["river", "market", "mining", "fishing", "hill", "mill", "harbour",
         "border", "orchard", "quarry"]
REGIONS = ["Velder valley", "Ashen coast", "Northmarch", "Lowen plains",
           "Carrow hills", "Sable fens"]
FOUNDERS = ["river traders", "a band of weavers", "two shepherd families",
            "salt merchants", "a retired sea captain", "copper miners",
            "a monastic order", "railway surveyors", "ferrymen",
            "beekeepers from the south"]


def towns(rng, n):
    names = sorted({a + b for a in FIRST for b in LAST})
    rng.shuffle(names)
    out = []
    for i, name in enumerate(names[:n]):
        year = rng.randint(1620, 1995)
        out.append({
            "id": "t%03d" % (i + 1),
            "title": name,
            "year": year,
            "text": "%s is a %s town in the %s. %s was founded in %d by %s."
                    % (name, rng.choice(KINDS), rng.choice(REGIONS), name,
                       year, rng.choice(FOUNDERS)),
        })
    return out


def question(rng, pair, split, k):
    a, b = pair
    if rng.random() < 0.5:
        a, b = b, a
    late, early = (a, b) if a["year"] >= b["year"] else (b, a)
    forms = [
        "How many years passed between the founding of %s and %s?",
        "How many years apart were %s and %s founded?",
        "By how many years does the founding of %s differ from that of %s?",
    ]
    expr = "%d - %d" % (late["year"], early["year"])
    return {
        "id": "%s-%03d" % (split, k + 1),
        "question": rng.choice(forms) % (a["title"], b["title"]),
        "answer": str(late["year"] - early["year"]),
        "tool_calls": [
            {"tool": "search", "args": {"query": "%s founding" % a["title"]},
             "expect": "%s was founded in %d" % (a["title"], a["year"])},
            {"tool": "search", "args": {"query": "%s founding" % b["title"]},
             "expect": "%s was founded in %d" % (b["title"], b["year"])},
            {"tool": "calculator", "args": {"expression": expr},
             "expect": str(late["year"] - early["year"])},
        ],
    }


def write(path, rows):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def main():
    rng = random.Random(SEED)
    all_towns = towns(rng, 450)
    write(os.path.join(ROOT, "corpus.jsonl"),
          [{"id": t["id"], "title": t["title"], "text": t["text"]}
           for t in all_towns])
    # Each town is asked about in one question only, so no split can teach
    # another the answer.
    order = list(range(len(all_towns)))
    rng.shuffle(order)
    pairs = [(all_towns[order[2 * i]], all_towns[order[2 * i + 1]])
             for i in range(len(order) // 2)]
    start = 0
    for split, n in (("train", 80), ("dev", 80), ("test", 60)):
        rows = [question(rng, pairs[start + k], split, k) for k in range(n)]
        start += n
        write(os.path.join(ROOT, "data", split + ".jsonl"), rows)


if __name__ == "__main__":
    main()
