#!/usr/bin/env python3
"""gen-multihop-example.py - write the corpus and data of examples/multihop.

Two-hop questions over an invented corpus: "Which country is the birthplace
of the founder of Velora Dynamics?" needs the company's passage (it names
the founder) and then the founder's passage (it names the birthplace and
its country). Company passages are titled "NAME (company)", so the
question itself never holds a gold title: the sim's query generation
(docs/sim.md) then starts at the first hop. Every company, person, town and country is made up here from
word banks and a fixed seed; running the script twice gives the same bytes.
The files are committed; the build never runs the script.

    python3 scripts/gen-multihop-example.py          write the files
    python3 scripts/gen-multihop-example.py --check  compare with a fresh run

Standard library only.
"""

import json
import os
import random
import sys

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(TOP, "examples", "multihop")
SEED = 20261121
N_QUESTIONS = 60
SPLITS = (("train", 24), ("dev", 18), ("test", 18))

COMPANY_A = ["Velora", "Brightmoor", "Quillon", "Harrowgate", "Sunfield",
             "Orbisca", "Tamberly", "Kestrel", "Nimbrae", "Ostrava",
             "Calder", "Pellucid", "Wrenfold", "Zephyra", "Marrow",
             "Lumenor", "Duskhaven", "Farrowby", "Glinthe", "Ivorell",
             "Jasperine", "Korvath", "Lindqvale", "Mistral", "Norhaven",
             "Obellan", "Prisma", "Rookwell", "Saltmere", "Thistle",
             "Amberlyn", "Bexley", "Corrigan", "Drummond", "Everly",
             "Fenwick", "Galdor", "Hestia", "Ingleby", "Jorvik",
             "Kindle", "Lockhart", "Meridian", "Northway", "Oakhurst",
             "Penrose", "Quarry", "Redfern", "Stellan", "Trevant",
             "Umbra", "Verity", "Westmark", "Yelland", "Zamora",
             "Aldous", "Brisk", "Cobalt", "Delphine", "Emberly"]
COMPANY_B = ["Dynamics", "Labs", "Foundry", "Robotics", "Textiles",
             "Analytics", "Shipping", "Pharma", "Studios", "Energy"]
INDUSTRY = {"Dynamics": "engineering", "Labs": "research",
            "Foundry": "metalworking", "Robotics": "robotics",
            "Textiles": "textile", "Analytics": "data analytics",
            "Shipping": "freight", "Pharma": "pharmaceutical",
            "Studios": "animation", "Energy": "renewable energy"}
FIRST = ["Mira", "Orrin", "Talia", "Bastian", "Ilse", "Corwin", "Yesenia",
         "Dario", "Fenna", "Joaquin", "Liesel", "Rafferty", "Soren", "Vida",
         "Anouk", "Caspian", "Elowen", "Florian", "Greer", "Hollis",
         "Ingram", "Juno", "Kieran", "Leontine", "Matthias", "Nerys",
         "Odalys", "Piran", "Quenby", "Rosalind"]
LAST = ["Castell", "Vale", "Ashdown", "Brennick", "Corvo", "Delacourt",
        "Eskew", "Fairweather", "Galloway", "Holloway", "Istvan", "Jessop",
        "Kovalenko", "Larkspur", "Merriweather", "Nakashima", "Oyelaran",
        "Pendergast", "Quartermaine", "Rasmussen", "Sandoval", "Thornbury",
        "Underhill", "Voskuijlen", "Whitlock", "Yarborough", "Zelenko",
        "Abernathy", "Bellweather", "Cardell"]
COUNTRIES = ["Quenland", "Marovia", "Estrelle", "Tavistan", "Norrland Isles",
             "Caldera Republic", "Vennmark", "Orsolia", "Pallandria",
             "Suvarre"]
TOWN_A = ["Tar", "Bel", "Cor", "Dun", "Ess", "Fal", "Gri", "Hal", "Ith",
          "Kel", "Lor", "Mor", "Nes", "Ost", "Pra", "Ren", "Sil", "Tor",
          "Ulm", "Var"]
TOWN_B = ["sova", "wick", "haven", "mere", "dale", "ford", "holm", "stad",
          "port", "brae"]
PROFESSION = ["an engineer", "a chemist", "an economist", "a designer",
              "a physicist", "a sailor turned entrepreneur", "an architect",
              "a mathematician", "a weaver", "a software developer"]
TOWN_FACT = ["a port town famous for its lighthouses",
             "a river town known for its stone bridges",
             "a mountain village with old silver mines",
             "a market town on a wide plain",
             "a fishing town on a cold bay",
             "a university town with a clock tower"]


def make_world(rng):
    """Companies with founders, founders with birthplaces, and towns."""
    names = [a + " " + b for a in COMPANY_A for b in COMPANY_B]
    rng.shuffle(names)
    people = [f + " " + l for f in FIRST for l in LAST]
    rng.shuffle(people)
    towns = sorted({a + b for a in TOWN_A for b in TOWN_B})
    rng.shuffle(towns)
    towns = towns[:24]
    town_country = {t: COUNTRIES[i % len(COUNTRIES)]
                    for i, t in enumerate(towns)}
    companies = []
    used_first = set()
    for name in names:
        if len(companies) == N_QUESTIONS:
            break
        first = name.split()[0]
        if first in used_first:      # one company per first word
            continue
        used_first.add(first)
        companies.append({"name": name, "founder": people[len(companies)],
                          "year": rng.randint(1952, 2019),
                          "hq": rng.choice(towns)})
    for c in companies:
        c["birthplace"] = rng.choice(towns)
        c["country"] = town_country[c["birthplace"]]
    return companies, towns, town_country


def passages(rng, companies, towns, town_country):
    rows = []
    for c in companies:
        kind = INDUSTRY[c["name"].split()[1]]
        rows.append({"title": c["name"] + " (company)", "text":
                     "%s is %s %s company headquartered in %s. It was "
                     "founded in %d by %s." % (c["name"],
                                               "an" if kind[0] in "aeiou"
                                               else "a", kind, c["hq"],
                                               c["year"], c["founder"])})
        rows.append({"title": c["founder"], "text":
                     "%s is %s, born in %s, %s. %s later moved abroad "
                     "and started a business." % (
                         c["founder"], rng.choice(PROFESSION),
                         c["birthplace"], c["country"],
                         c["founder"].split()[0])})
    for t in towns:
        rows.append({"title": t, "text": "%s is %s in %s." % (
            t, rng.choice(TOWN_FACT), town_country[t])})
    rng.shuffle(rows)
    for i, r in enumerate(rows):
        r["id"] = "p%03d" % (i + 1)
    return [{"id": r["id"], "title": r["title"], "text": r["text"]}
            for r in rows]


def questions(companies):
    out = []
    for c in companies:
        out.append({
            "question": "Which country is the birthplace of the founder of "
                        "%s?" % c["name"],
            "answer": c["country"],
            "gold_titles": [c["name"] + " (company)", c["founder"]],
            "hops": [{"query": "founder of %s" % c["name"],
                      "title": c["name"] + " (company)"},
                     {"query": "%s birthplace" % c["founder"],
                      "title": c["founder"]}],
        })
    return out


def render():
    """The files as {relative path: bytes}."""
    rng = random.Random(SEED)
    companies, towns, town_country = make_world(rng)
    corpus = passages(rng, companies, towns, town_country)
    qs = questions(companies)
    files = {"corpus.jsonl": "".join(json.dumps(r, ensure_ascii=False) + "\n"
                                     for r in corpus)}
    start = 0
    for split, n in SPLITS:
        files["data/%s.jsonl" % split] = "".join(
            json.dumps(q, ensure_ascii=False) + "\n"
            for q in qs[start:start + n])
        start += n
    return {k: v.encode("utf-8") for k, v in files.items()}


def main(argv):
    files = render()
    if argv[1:] == ["--check"]:
        bad = 0
        for rel, data in sorted(files.items()):
            path = os.path.join(OUT, rel)
            try:
                with open(path, "rb") as f:
                    same = f.read() == data
            except OSError:
                same = False
            if not same:
                print("differs: %s" % path)
                bad = 1
        return bad
    if argv[1:]:
        print(__doc__.strip().splitlines()[0], file=sys.stderr)
        return 2
    for rel, data in sorted(files.items()):
        path = os.path.join(OUT, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
        print("wrote %s (%d lines)" % (path, data.count(b"\n")))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
