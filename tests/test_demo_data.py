"""The shipped demo cases read like a desk's history, not like templates: enough distinct
situations, almost no near-twins, Traditional characters and contacts where a real desk
has them, priorities that vary within a type — and the file is what the generator writes."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from collections import Counter, defaultdict

import opencc
import pytest

from tests.conftest import DATA_DIR

ROOT = DATA_DIR.parent
CASES = DATA_DIR / "demo" / "cases.jsonl"


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    with CASES.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def trigrams(text: str) -> set[str]:
    text = "".join(text.split())
    return {text[i:i + 3] for i in range(len(text) - 2)}


def test_at_least_300_distinct_situations_over_seven_products(rows):
    t2s = opencc.OpenCC("t2s")
    subjects = {t2s.convert(r["subject"]) for r in rows}
    descriptions = {t2s.convert(r["description"]) for r in rows}
    assert len(subjects) >= 300 and len(descriptions) == len(rows)
    per_product = Counter(r["product"] for r in rows)
    assert len(per_product) == 7 and min(per_product.values()) >= 35, per_product


def test_near_duplicate_rate_is_at_most_five_percent(rows):
    grams = [trigrams(r["subject"] + r["description"]) for r in rows]
    twins = set()
    for i in range(len(grams)):
        for j in range(i + 1, len(grams)):
            if len(grams[i] & grams[j]) / len(grams[i] | grams[j]) >= 0.8:
                twins |= {i, j}
    assert len(twins) / len(rows) <= 0.05, sorted(twins)[:10]


def test_traditional_text_and_contacts_to_redact_appear_as_on_a_real_desk(rows):
    to_simplified = opencc.OpenCC("t2s")
    traditional = [r for r in rows if to_simplified.convert(r["description"]) != r["description"]]
    assert 0.05 <= len(traditional) / len(rows) <= 0.2, len(traditional)
    contact = re.compile(r"1[3-9]\d[- ]?\d{4}[- ]?\d{4}|[\w.]+@[\w.]+")
    with_contact = [r for r in rows if contact.search(r["description"])]
    assert 0.1 <= len(with_contact) / len(rows) <= 0.4, len(with_contact)


def test_priority_varies_within_each_type_and_follows_the_words(rows):
    by_type = defaultdict(Counter)
    for r in rows:
        by_type[r["type"]][r["priority"]] += 1
    for type_, counts in by_type.items():
        assert len(counts) >= 2 and max(counts.values()) / sum(counts.values()) < 0.9, (type_, counts)
    calm = [r["priority"] for r in rows if "不着急" in r["description"] or "顺便问" in r["description"]]
    urgent = [r["priority"] for r in rows if "12315" in r["description"] or "今天必须解决" in r["description"]]
    assert calm and urgent
    assert Counter(calm)["高"] / len(calm) < Counter(urgent)["高"] / len(urgent)


def test_resolved_cases_carry_a_solution_of_their_own(rows):
    resolved = [r for r in rows if r.get("solution_temp")]
    assert len(resolved) >= 250
    # a handful of stock lines (e.g. the "no temporary fix" of suggestions) may repeat, not most
    assert len({r["solution_temp"] for r in resolved}) >= 0.8 * len(resolved)


def test_the_shipped_file_is_what_the_generator_writes(tmp_path):
    spec = importlib.util.spec_from_file_location("make_demo_data", ROOT / "scripts" / "make_demo_data.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module              # dataclasses look their module up while it loads
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop(spec.name, None)
    module.main(tmp_path / "cases.jsonl")
    assert (tmp_path / "cases.jsonl").read_bytes() == CASES.read_bytes()
