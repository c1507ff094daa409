"""Personal memory: add throughput, search latency at 1k/10k/100k memories, rebuild time, disk
size and retrieval quality (recall@5), on the real MiniLM embedder and a real Chroma index.

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/memory.py [--max 100000] [--unique N]

Memories are synthetic sentences from templates (24 shapes, ~10 million combinations), with
24 personal facts and the questions they answer mixed in. By default all 100k are really
embedded (~10 minutes on 2 shared cores). With --unique N smaller than the largest size, only
N sentences are embedded and the rest are copies of them whose vectors get Gaussian noise
(sigma 0.02 per dimension, renormalised: cosine ~0.93 to the original): search cost depends
on the vectors, not where they came from, but quality numbers past N are on that mixture.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# (memory that answers, question) pairs, mixed into the distractors at every size.
QA = [
    ("I'm allergic to peanuts", "can I eat this satay?"),
    ("My sister's name is Ana", "what is my sister called?"),
    ("My dentist appointment is on Tuesday at 10", "when do I see the dentist?"),
    ("I drive a blue Toyota Corolla", "what car do I have?"),
    ("The wifi password is on a sticker under the router", "where can I find the wifi password?"),
    ("We have two cats called Miso and Tofu", "what are my pets' names?"),
    ("I have been vegetarian since 2015", "do I eat meat?"),
    ("My passport expires in March 2031", "when does my passport expire?"),
    ("I work as a nurse at Santa Maria hospital", "what is my job?"),
    ("My blood type is O negative", "what's my blood group?"),
    ("My favourite band is Radiohead", "what music do I like?"),
    ("I'm learning Japanese on Duolingo", "which language am I studying?"),
    ("My mother's birthday is on June 12", "when is mum's birthday?"),
    ("I go running every Saturday morning", "what do I usually do on weekend mornings?"),
    ("The spare house key is with the neighbour at number 14", "I locked myself out, who has a key?"),
    ("I take 50 mg of sertraline every morning", "what medication am I on?"),
    ("My landlord is called Mr. Silva", "who owns the flat I rent?"),
    ("I hate horror movies", "recommend a film for tonight"),
    ("My bank is Caixa Geral de Depositos", "which bank do I use?"),
    ("I'm afraid of flying", "should I book a plane or a train to Madrid?"),
    ("My daughter plays the violin", "what instrument does my kid play?"),
    ("My shoe size is 42", "what size shoes should I buy?"),
    ("I'm saving for a trip to Iceland", "what am I saving money for?"),
    ("My boss is called Helena", "who is my manager?"),
]

NAMES = ["Rui", "Marta", "Joao", "Ines", "Pedro", "Sofia", "Tiago", "Beatriz", "Miguel", "Carla",
         "Nuno", "Rita", "Hugo", "Lara", "Diogo", "Clara", "Andre", "Vera", "Bruno", "Eva",
         "Paulo", "Helena", "Jorge", "Teresa", "Luis", "Ana Rita", "Filipe", "Joana", "Sergio",
         "Mafalda", "Ricardo", "Sara", "Vasco", "Catarina", "Gil", "Leonor", "Duarte", "Marina"]
PLACES = ["the library", "the gym", "the market", "the office", "the station", "the park",
          "the pharmacy", "the bakery", "the post office", "the beach", "the museum",
          "the garage", "the school", "the town hall", "the airport", "the cinema",
          "the hardware store", "the swimming pool", "the bookshop", "the football pitch",
          "the train platform", "the hospital car park", "the river path", "the old church",
          "the shopping centre", "the harbour", "the community garden", "the tram stop"]
THINGS = ["the printer", "the washing machine", "the bicycle", "the garden hose", "the laptop",
          "the kitchen tap", "the car battery", "the front door lock", "the heater", "the roof tiles",
          "the phone charger", "the vacuum cleaner", "the fridge", "the curtains", "the lawnmower",
          "the dishwasher", "the shower head", "the smoke alarm", "the router", "the oven",
          "the bathroom fan", "the garden fence", "the balcony door", "the desk lamp"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December"]
FOODS = ["lasagne", "grilled sardines", "mushroom risotto", "chicken curry", "lentil soup",
         "apple pie", "sushi", "pancakes", "bacalhau", "ramen", "tacos", "falafel",
         "roast lamb", "vegetable stew", "octopus salad", "pizza", "custard tarts", "paella"]
HOBBIES = ["chess", "painting", "gardening", "photography", "knitting", "climbing", "pottery",
           "birdwatching", "cycling", "baking bread", "playing guitar", "sailing",
           "woodworking", "yoga", "surfing", "drawing comics", "learning the piano", "fishing"]
TEMPLATES = [
    "{name} said the meeting at {place} moved to {day}",
    "Need to fix {thing} before the end of {month}, it will cost about {n} euros",
    "{name} recommended the {food} at the place near {place}",
    "Borrowed {thing} from {name} on {day}",
    "{name} started {hobby} last {month} at {place}",
    "Remember to return {thing} to {place} by {day}",
    "Cooked {food} for {name} on {day} and it went well",
    "{name}'s birthday party is at {place} on {day} {n} {month}",
    "The bill for the {thing} repair was {n} euros",
    "Parked near {place}, level {n}",
    "{name} is thinking about taking up {hobby} in {month}",
    "Bus {n} to {place} leaves every twenty minutes on {day}s",
    "Ordered a new part for {thing}, arriving {day}",
    "Had {food} with {name} at {place} on {day}",
    "{name} lent me a book about {hobby} in {month}",
    "Pay {name} back {n} euros for the concert tickets",
    "{place} closes early on {day}s in {month}",
    "Watched a documentary about {hobby} with {name} on {day}",
    "The warranty on {thing} ends in {month}",
    "{name} moved to a flat near {place} in {month}",
    "{name} asked me to check {thing} before {day}",
    "Saw {name} at {place} buying {food} ingredients",
    "Room {n} at {place} is booked for the {hobby} club on {day}",
    "{name} and {name2} are organising a {hobby} weekend in {month}",
]


def sentences(n: int, seed: int = 1) -> list[str]:
    """n distinct sentences (about 10 million are possible)."""
    rng = random.Random(seed)
    seen: set[str] = set()
    out: list[str] = []
    misses = 0
    while len(out) < n:
        text = rng.choice(TEMPLATES).format(
            name=rng.choice(NAMES), name2=rng.choice(NAMES), place=rng.choice(PLACES),
            thing=rng.choice(THINGS), day=rng.choice(DAYS), month=rng.choice(MONTHS),
            food=rng.choice(FOODS), hobby=rng.choice(HOBBIES), n=rng.randint(2, 400))
        if text in seen:
            misses += 1
            if misses > 10 * n:
                raise RuntimeError(f"the templates can't make {n} distinct sentences")
            continue
        seen.add(text)
        out.append(text)
    return out


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def ms(v: float) -> str:
    return f"{v * 1000:.1f}"


def du(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max", type=int, default=100_000, help="largest size (default 100000)")
    parser.add_argument("--unique", type=int, default=100_000,
                        help="sentences actually embedded (default 100000)")
    parser.add_argument("--queries", type=int, default=200, help="timed searches per size")
    parser.add_argument("--rebuild-max", type=int, default=100_000,
                        help="time rebuild() only up to this size")
    args = parser.parse_args()

    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    work = Path(tempfile.mkdtemp(prefix="hearth-memory-bench-"))
    os.environ["HEARTH_HOME"] = str(work / "home")
    from app import offline

    offline.apply()
    import numpy as np
    import torch

    torch.set_num_threads(2)
    from memory.db import Database
    from memory.memories import NewMemory
    from memory.service import DuplicateResult, Memory

    db = Database()
    t0 = time.perf_counter()
    memory = Memory(db)
    open_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    memory.embedder.embed(["warm up"])
    load_s = time.perf_counter() - t0
    embedder, store, index = memory.embedder, memory.store, memory.index
    model = embedder.model_id

    # -- add throughput ---------------------------------------------------------------------
    for text, _ in QA:
        memory.remember(text, "profile")
    one_by_one = sentences(200, seed=7)
    t0 = time.perf_counter()
    merged = sum(isinstance(memory.remember(t, "note"), DuplicateResult) for t in one_by_one)
    remember_rate = len(one_by_one) / (time.perf_counter() - t0)

    taken = set(one_by_one)
    pool = [t for t in sentences(args.unique + 400, seed=1) if t not in taken]
    pool = pool[: args.unique]
    t0 = time.perf_counter()
    first = pool[:1000]
    vectors = embedder.embed(first)
    embed_s = time.perf_counter() - t0
    records = store.add_many([NewMemory(t, "note") for t in first], vectors, model)
    index.upsert([r.id for r in records], vectors, ["note"] * len(records))
    batch_rate = len(first) / (time.perf_counter() - t0)
    embed_rate = len(first) / embed_s

    # Embed the rest of the unique pool up front (the slow part), then grow size by size.
    t0 = time.perf_counter()
    rest_vectors = embedder.embed(pool[1000:]) if len(pool) > 1000 else np.zeros((0, 384), "float32")
    rest_embed_s = time.perf_counter() - t0
    all_vectors = np.concatenate([vectors, rest_vectors])
    next_unique = 1000
    copy_round = 0
    rng = np.random.default_rng(0)

    def grow_to(size: int) -> float:
        nonlocal next_unique, copy_round
        added_s = 0.0
        while store.count() < size:
            want = min(size - store.count(), 5000)
            if next_unique < len(pool):
                take = min(want, len(pool) - next_unique)
                texts = pool[next_unique:next_unique + take]
                vecs = all_vectors[next_unique:next_unique + take]
                next_unique += take
            else:
                picks = rng.integers(0, len(pool), want)
                copy_round += 1
                texts = [f"{pool[i]} (copy {copy_round}.{j})" for j, i in enumerate(picks)]
                vecs = all_vectors[picks] + rng.normal(0, 0.02, (want, 384)).astype("float32")
                vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
            t = time.perf_counter()
            recs = store.add_many([NewMemory(x, "note") for x in texts], vecs, model)
            index.upsert([r.id for r in recs], vecs, ["note"] * len(recs))
            added_s += time.perf_counter() - t
        return added_s

    queries = [q for _, q in QA] + [f"what did {n} say about {p}?" for n in NAMES for p in PLACES[:8]]
    sizes = [s for s in (1_000, 10_000, 100_000) if s <= args.max]
    results = []
    for size in sizes:
        fill_s = grow_to(size)
        # recall: the answer among the top 5 / top 1
        hits5 = hits1 = 0
        misses = []
        for answer, question in QA:
            found = [r.text for r, _ in memory.search(question, k=5, touch=False)]
            hits5 += answer in found
            hits1 += bool(found) and found[0] == answer
            if answer not in found:
                misses.append((question, answer, found[0] if found else None))
        timings = {"search": [], "embed": [], "index": []}
        for i in range(args.queries):
            q = queries[i % len(queries)]
            t = time.perf_counter()
            memory.search(q, k=5)
            timings["search"].append(time.perf_counter() - t)
            t = time.perf_counter()
            v = embedder.embed_one(q)
            timings["embed"].append(time.perf_counter() - t)
            t = time.perf_counter()
            index.query(v, 20)
            timings["index"].append(time.perf_counter() - t)
        rebuild_s = None
        if size <= args.rebuild_max:
            t = time.perf_counter()
            memory.rebuild()
            rebuild_s = time.perf_counter() - t
        results.append({
            "size": store.count(), "fill_s": fill_s, "timings": timings, "rebuild_s": rebuild_s,
            "recall5": hits5 / len(QA), "recall1": hits1 / len(QA), "misses": misses,
            "chroma_mb": du(work / "home" / "chroma") / 1e6,
            "sqlite_mb": sum(du(p) for p in (work / "home").glob("hearth.db*")) / 1e6,
        })
        print(f"[{store.count()} memories done]", file=sys.stderr, flush=True)

    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    memory.close()
    db.close()
    shutil.rmtree(work, ignore_errors=True)

    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                if line.startswith("model name")), platform.processor())
    print(f"Machine: {cpu}, {os.cpu_count()} cores (shared); Python {platform.python_version()}; "
          f"torch threads 2; {model}; chromadb {__import__('chromadb').__version__}\n")
    print(f"Opening Memory (Chroma client, empty index): {open_s:.2f} s; embedder load + first "
          f"embedding: {load_s:.2f} s; peak RSS {peak_mb:.0f} MB\n")
    print("| add path | memories/s |")
    print("|---|---|")
    print(f"| remember() one at a time (embed + dedupe query + SQLite + Chroma), "
          f"{len(one_by_one)} notes, {merged} merged | {remember_rate:.1f} |")
    print(f"| batch of 1000 (embed + one SQLite transaction + Chroma upsert) | {batch_rate:.1f} |")
    print(f"| embedding alone, batches of {embedder.batch_size} | {embed_rate:.1f} |")
    copies = (f"; beyond {len(pool) + len(QA) + len(one_by_one):,} memories they are perturbed "
              f"copies" if copy_round else "; no perturbed copies")
    print(f"\nEmbedded {len(pool) + len(QA) + len(one_by_one):,} distinct sentences (after the "
          f"first 1000: {rest_embed_s:.0f} s){copies}.\n")
    print("| memories | search p50 ms | search p95 ms | query embedding p50 / p95 ms | "
          "Chroma query p50 / p95 ms | insert s (batches of 5000) | rebuild s | Chroma MB | "
          "SQLite MB | recall@5 | recall@1 |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        t = r["timings"]
        rebuild = f"{r['rebuild_s']:.1f}" if r["rebuild_s"] is not None else "–"
        print(f"| {r['size']:,} | {ms(pct(t['search'], .5))} | {ms(pct(t['search'], .95))} | "
              f"{ms(pct(t['embed'], .5))} / {ms(pct(t['embed'], .95))} | "
              f"{ms(pct(t['index'], .5))} / {ms(pct(t['index'], .95))} | {r['fill_s']:.1f} | "
              f"{rebuild} | {r['chroma_mb']:.0f} | {r['sqlite_mb']:.0f} | "
              f"{r['recall5']:.2f} | {r['recall1']:.2f} |")
    share = [statistics.median(r["timings"]["embed"]) / statistics.median(r["timings"]["search"])
             for r in results]
    sizes_text = ", ".join(f"{r['size']:,}" for r in results)
    shares_text = ", ".join(f"{s:.0%}" for s in share)
    print(f"\nQuery embedding is {shares_text} of the median search time at {sizes_text} "
          f"memories. "
          f"Recall over {len(QA)} questions whose answers are mixed into the distractors.")
    for r in results:
        for question, answer, top in r["misses"]:
            print(f"- at {r['size']:,}: {question!r} missed {answer!r}; top hit: {top!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
